/*-------------------------------------------------------------------------
 *
 * remote.h
 *	  Declarations shared by the dblink files: remote.c (dblink plumbing,
 *	  the remote table's checks, running a job), remote_args.c (arguments
 *	  and connection strings) and the three concerns built on them,
 *	  restore.c, sync.c and compare.c.  Private to them; the rest of
 *	  schema_mgr sees only restore_init() in schema_mgr.h.
 *
 *-------------------------------------------------------------------------
 */
#ifndef REMOTE_H
#define REMOTE_H

#include "fmgr.h"
#include "nodes/pg_list.h"
#include "utils/snapshot.h"

#include "schema_mgr.h"

/* rows hashed at each end of the range after a restore or before a sync */
#define SPOT_CHECK_ROWS		1000

typedef enum RemoteRole
{
	REMOTE_BACKUP,				/* restore_events */
	REMOTE_SOURCE,				/* sync_events */
	REMOTE_OTHER				/* compare_events */
} RemoteRole;

/* One remote connection and what is needed to report on it safely. */
typedef struct Remote
{
	RemoteRole	role;
	char	   *dblink;			/* quoted schema of dblink */
	char	   *connname;		/* dblink connection name */
	char	   *connstr;		/* conninfo or foreign server name */
	char	   *password;		/* to scrub from messages, or NULL */
	char	   *describe;		/* "host ... database ... user ..." */
	bool		hide_stmt;		/* the SQL text holds a password */
	bool		connected;
	char	   *table_arg;		/* remote table as given */
	Oid			relid;			/* remote table's OID, on the remote */
	char	   *table;			/* remote table, quoted and qualified */
	bool		id_unique;		/* a unique index on its id alone */
} Remote;

/* Everything one restore/sync/compare call works with. */
typedef struct Job
{
	Remote		remote;
	Oid			store_relid;	/* as given, or InvalidOid */
	EventStore	store;
	bool		verify_all;		/* sync: compare every row first */
	Snapshot	local_snapshot; /* compare: every read of the store in it;
								 * NULL: each read sees the latest commits */
	/* results */
	int64		rows;
	int64		max_id;
	bool		equal;
	int64		first_difference;	/* 0 when none */
	int64		local_max;
	int64		remote_max;
	/* ids of the batch being loaded, to name a bad row; 0 when none */
	int64		loading_lo;
	int64		loading_hi;
} Job;

typedef void (*JobWork) (Job *job);

/* remote.c: the remote side, one snapshot per call */
extern const char *remote_noun(RemoteRole role);
extern void remote_exec(Remote *r, const char *sql);
extern void remote_query(Remote *r, const char *sql, const char *coldefs);
extern void remote_connect(Remote *r);
extern void remote_setup(Remote *r);

/* remote.c: running a job */
extern void remote_run_job(Job *job, JobWork work);
extern void job_read_store(Job *job, const char *sql);

/* remote_args.c: arguments, results */
typedef Datum (*EntryBody) (FunctionCallInfo fcinfo);

extern char *remote_table_name(const char *name, bool quote);

extern Datum remote_call_hiding_statement(FunctionCallInfo fcinfo,
										  EntryBody body, bool hide);
extern bool remote_connection_arg_has_password(FunctionCallInfo fcinfo);
extern void remote_job_from_connection_args(FunctionCallInfo fcinfo, Job *job,
											RemoteRole role,
											const char *argname);
extern void remote_job_from_password_args(FunctionCallInfo fcinfo, Job *job);
extern Datum remote_two_int8_result(FunctionCallInfo fcinfo, int64 a, int64 b);

/* restore.c: locking and loading a store (sync does the same) */
extern bool restore_may_drop_indexes(Oid relid);
extern void restore_lock_store(Oid relid, LOCKMODE table_lock);
extern void restore_store_stats(Job *job, int64 from_id, int64 *count,
								int64 *min, int64 *max);
extern void restore_refuse_null_columns(Job *job, int64 rows,
										int64 ts_nonnull, int64 event_nonnull);
extern ErrorData *restore_explain_load_error(Job *job, ErrorData *edata);
extern List *restore_drop_indexes(Job *job);
extern void restore_recreate_indexes(List *saved);
extern int64 restore_copy_rows(Job *job, int64 from_id, int64 to_id,
							   const char *verb);

/* compare.c: range hashes (restore's and sync's checks) */
extern int64 compare_first_difference(Job *job, int64 lo, int64 hi);
extern bool compare_ranges_equal(Job *job, int64 lo, int64 hi);

#endif							/* REMOTE_H */
