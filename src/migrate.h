/*-------------------------------------------------------------------------
 *
 * migrate.h
 *	  Declarations shared by the files of the migrations concern:
 *
 *	  migrate.c				configuration, internal queries (prepared plans
 *							run as the extension's owner), argument checks
 *							and the per-component lock
 *	  migrate_statements.c	parsing and checking migration SQL
 *	  migrate_register.c	register_migration
 *	  migrate_apply.c		apply_migrations; checking, running and
 *							recording any migration (also undo SQL)
 *	  migrate_stepwise.c	apply_migrations_stepwise (a commit after each)
 *	  migrate_notx.c		non-transactional migrations: the marker, the
 *							statements allowed, what a failure leaves
 *	  migrate_notx_apply.c	applying one, from apply_migrations_stepwise
 *	  migrate_worker.c		the background worker that runs it
 *	  migrate_session.c		what a migration may leave in the session
 *	  migrate_owner.c		component owners, registrants, approvals
 *	  migrate_messages.c	how much of a migration's SQL messages show
 *	  migrate_status.c		baseline, current_version, migration_status,
 *							repair
 *	  migrate_guard.c		the event trigger that guards DROP
 *	  migrate_plans.c		the text of the internal queries
 *	  migrate_repeatable.c	repeatable migrations: registering, finding
 *							and recording them (apply_migrations runs them)
 *	  migrate_revert.c		revert_migrations: running undo SQL
 *
 * Migrations live in the registry table "migration" (one row per component
 * and version); what was applied is recorded in "schema_version".  A
 * registry row is pending while its applied_checksum differs from its
 * checksum; only pending rows are in a partial index, so a no-op
 * apply_migrations() is one probe of an empty index.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MIGRATE_H
#define MIGRATE_H

#include "postgres.h"

#include "access/htup.h"
#include "access/tupdesc.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "nodes/execnodes.h"
#include "nodes/parsenodes.h"
#include "nodes/pg_list.h"
#include "utils/timestamp.h"

/*
 * Prepared plans, kept across calls.  The two "pending" probes order by the
 * partial index's columns so that the planner always reads the (small)
 * index instead of filtering the whole registry, even with stale
 * statistics.  %1$s is the quoted schema of the
 * extension; the plans are re-prepared when the extension moves to a
 * different schema (drop and re-create in the same session).
 */
typedef enum PlanId
{
	P_PENDING_ANY,
	P_PENDING_ONE,
	P_COMPONENT_EXISTS,
	P_PENDING_COMPONENTS,
	P_PENDING_ROWS,
	P_INSERT_HISTORY,
	P_MARK_APPLIED,
	P_REG_LOOKUP,
	P_REG_INSERT,
	P_REG_UPDATE,
	P_REG_DESCRIPTION,
	P_BASELINE_ROWS,
	P_CURRENT_VERSION,
	P_STATUS,
	P_HISTORY_ROWS,
	P_TEMP_OBJECTS,
	P_SESSION_STATE,
	P_PENDING_ROWS_OWNERS,
	P_COMPONENT_OWNER,
	P_COMPONENT_CREATE,
	P_COMPONENT_SET_OWNER,
	P_REG_IDENTITY,
	P_SET_REGISTRANT,
	P_VOID_APPROVAL,
	P_APPROVE_LOOKUP,
	P_APPROVE,
	P_MAY_READ_SQL,
	P_MIGRATION_SQL,
	P_REPAIR_COMPONENTS,
	P_REPAIR,
	P_INFO,
	P_INSERT_HISTORY_LOGGED,
	P_HISTORY_LOG,
	P_HISTORY_ROWS_LOGGED,
	P_REG_UNDO_LOOKUP,
	P_REG_SET_UNDO,
	P_REP_LOOKUP,
	P_REP_INSERT,
	P_REP_UPDATE,
	P_REP_APPROVE,
	P_REP_PENDING_ANY,
	P_REP_PENDING_ONE,
	P_PENDING_COMPONENTS_ALL,
	P_REP_PENDING_ROWS,
	P_REP_SQL,
	P_REP_MARK_APPLIED,
	P_REVERT_ROWS,
	P_UNDO_SQL,
	P_FORGET,
	P_COMPONENT_EXISTS_ALL,
	P_PENDING_PROBE_ANY,
	P_PENDING_PROBE_ONE,
	P_NOTX_PROBE,
	P_NOTX_CANDIDATES,
	P_INVALID_INDEXES,
	NUM_PLANS
} PlanId;

typedef struct MigPlanDef
{
	const char *sql;
	int			nargs;
	Oid			argtypes[10];
} MigPlanDef;

/* migrate_plans.c */
extern const MigPlanDef mig_plan_defs[NUM_PLANS];

/*
 * State of one call: where the extension lives, who owns it, and what to
 * restore when internal work is done.
 */
typedef struct MigCall
{
	char	   *schema;			/* quoted schema of the extension */
	Oid			owner;			/* the extension's owner */
	char	   *caller;			/* current user at entry, for the history */
	Oid			caller_id;		/* ... and its oid */
	Oid			save_userid;
	int			save_sec_context;
	int			guc_level;
	bool		read_only;
	bool		owners;			/* 1.1 objects present: components have
								 * owners, registrants are known by oid */
	bool		read_all_sql;	/* the caller may read every migration's SQL */
} MigCall;

/* What running a Pending does: apply a version, a repeatable, an undo */
typedef enum MigRunKind
{
	MIG_RUN_APPLY,
	MIG_RUN_REPEAT,
	MIG_RUN_UNDO
} MigRunKind;

/* A pending migration (or undo), as read under the lock. */
typedef struct Pending
{
	MigRunKind	kind;
	char	   *subject;		/* what messages call it (mig_subject) */
	char	   *component;
	int64		version;		/* 0 for a repeatable migration */
	char	   *name;			/* a repeatable migration's name, or NULL */
	char	   *description;
	char	   *sql;			/* NULL but while it is checked or run */
	char	   *checksum;
	bool		in_history;
	char	   *history_checksum;	/* NULL: none or a baseline marker */
	bool		has_max_applied;
	int64		max_applied;
	char	   *registered_by;	/* role that registered the SQL */
	Oid			registrant;		/* ... its oid (InvalidOid: unknown) */
	char	   *approved_by;	/* role that approved this SQL, or NULL */
	Oid			approver;		/* ... its oid */
	Oid			confined_from;	/* a role its SQL must not reach by SET ROLE
								 * or SET SESSION AUTHORIZATION, or
								 * InvalidOid (mig_check_registrant) */
	bool		show_sql;		/* the caller may read its SQL */
	int			n_stmts;		/* its statements, found when checked: */
	int		   *bounds;			/* start and length of each, in pairs */
	int			stmt_no;		/* progress while running, for errors */
	int			stmt_line;
} Pending;

/* GUC: let DROP EXTENSION take a non-empty migration history with it */
extern bool mig_allow_drop;

/* migrate.c */
extern int	mig_run_plan(MigCall *c, PlanId id, Datum *values, const char *nulls);
extern void mig_insert_history(MigCall *c, Datum *values, const char *nulls);
extern void mig_log_history(MigCall *c, Pending *p, const char *action,
							TimestampTz start, Interval *duration);
extern void mig_call_init(MigCall *c, FunctionCallInfo fcinfo, bool read_only);
extern void mig_enter_internal(MigCall *c);
extern void mig_leave_internal(MigCall *c);
extern char *mig_datum_text(HeapTuple tup, TupleDesc desc, int col);
/* a component name is shown whole in messages: at most this long */
#define MIG_COMPONENT_BYTES	200
extern char *mig_arg_component(FunctionCallInfo fcinfo, int argno);
extern char *mig_arg_text(FunctionCallInfo fcinfo, int argno, const char *what);
extern int64 mig_arg_version(FunctionCallInfo fcinfo, int argno, const char *what);
extern bool mig_component_exists(MigCall *c, const char *component);
extern void mig_unknown_component(const char *component);
extern void mig_component_param(MigCall *c, const char *component,
								Datum *value, char *null);
extern void mig_lock_component(MigCall *c, const char *component);
extern void mig_lock_component_notx(MigCall *c, const char *component);
extern Datum mig_lock_listed_components(MigCall *c, int *n);
extern bool mig_first_pending(MigCall *c, const char *component, int64 target,
							  char **first_component, int64 *first_version);
extern void mig_notice_nothing_pending(const char *component);
extern void mig_put_rows(ReturnSetInfo *rsinfo);
extern int	mig_lock_capacity(void);
extern void mig_require_writer_transaction(const char *what,
										   const char *subject,
										   const char *verb);

/* migrate_statements.c */
extern const char *mig_skip_bom(const char *sql);
extern const char *mig_skip_blank(const char *p);
extern List *mig_parse_sql(const char *component, int64 version,
						   const char *sql, bool show_sql);
extern void mig_check_statements(const char *component, int64 version,
								 const char *sql, List *stmts);
extern List *mig_parse_sql_of(const char *subject, const char *sql,
							  bool show_sql);
extern void mig_check_statements_of(const char *subject, const char *sql,
									List *stmts);
extern int	mig_line_of(const char *sql, int location);
extern bool mig_reindex_concurrently(ReindexStmt *r);

/* where a statement may run in a migration (mig_classify_statement) */
typedef struct MigStatementClass
{
	const char *name;			/* what to call it; NULL: nothing to say */
	bool		in_transaction; /* may run inside a transaction block */
	bool		no_transaction; /* a non-transactional migration may hold it */
	const char *hint;			/* when refused inside a transaction block */
} MigStatementClass;
extern void mig_classify_statement(Node *stmt, MigStatementClass *c);

/*
 * migrate_messages.c: how much of a migration's SQL messages show (at most
 * SM_EXCERPT_BYTES of it; message texts at most MIG_MESSAGE_BYTES)
 */
#define MIG_MESSAGE_BYTES	500
extern char *mig_excerpt(const char *sql, int pos, int *newpos, int *line);
extern char *mig_clip_context(const char *context, bool show_sql);
extern char *mig_subject(MigRunKind kind, const char *component,
						 int64 version, const char *name);
extern char *mig_subject_sentence(const char *subject);

/* for a statement that cannot run inside a transaction block */
#define OUTSIDE_TRANSACTION_HINT \
	"Migrations run inside a transaction. Run this statement separately, outside the migration chain."

/*
 * migrate_session.c: a migration leaves no settings, temporary objects,
 * cursors, deferred trigger events or prepared statements behind in the
 * session.
 */
typedef struct MigSession
{
	bool		started;		/* mig_session_begin ran */
	int			guc_level;		/* GUC nest level the migration runs at */
	SubTransactionId subid;		/* the migration's subtransaction */
	struct ArrayType *temp_before;	/* temporary objects before it, or NULL */
	List	   *deferred_before;	/* tables with deferred events (oids) */
	struct ArrayType *prepared_before;	/* prepared statements (keys) */
} MigSession;

extern void mig_session_begin(MigCall *c, MigSession *s);
extern void mig_session_end(MigCall *c, Pending *p, MigSession *s);
extern void mig_session_cleanup(MigCall *c, MigSession *s);

/* migrate_owner.c */
extern void mig_check_registrant(MigCall *c, Pending *p);
extern Oid	mig_role_if_same(Oid roleid, const char *name);
extern void mig_check_component_writer(MigCall *c, const char *component);
extern void mig_check_replace(MigCall *c, const char *subject,
							  Oid registrant, const char *registered_by,
							  const char *what);

/*
 * migrate_apply.c: also used by baseline, revert, repeatables and
 * non-transactional migrations
 */
extern void mig_record_applied(MigCall *c, Pending *p, TimestampTz start,
							   Interval *duration, const char *kind);
extern void mig_fetch_sql(MigCall *c, Pending *p);
extern List *mig_pending_versions(MigCall *c, Datum *values, char *nulls);
extern bool mig_check_version(Pending *p, bool allow_out_of_order);
extern const char *mig_step_repeatable;
extern Pending *mig_running_migration(void);
extern void mig_prepare_run(MigCall *c, Pending *p, MemoryContext checkcxt);
extern ErrorData *mig_try_migration(MigCall *c, Pending *p, TimestampTz start,
									Interval **duration);
extern void mig_raise_migration_error(Pending *p, ErrorData *edata);
extern int	mig_run_pending(MigCall *c, ReturnSetInfo *rsinfo, List *pending,
							bool dry_run, const char *done,
							const char *would);
extern Interval *mig_duration_since(TimestampTz start);
extern void mig_read_may_read_sql(MigCall *c);

/* migrate_repeatable.c */
#define MIG_REPEATABLE_NAME_BYTES	200
extern bool mig_first_pending_repeatable(MigCall *c, const char *component,
										 char **first_component,
										 char **first_name);
extern List *mig_pending_repeatables(MigCall *c, Datum components,
									 const char *only);
extern void mig_record_repeat(MigCall *c, Pending *p, TimestampTz start,
							  Interval *duration);
extern Datum mig_register_repeatable(FunctionCallInfo fcinfo,
									 const char *component);

/* migrate_revert.c */
extern void mig_record_revert(MigCall *c, Pending *p, TimestampTz start,
							  Interval *duration);

/*
 * migrate_notx.c: non-transactional migrations.  The marker is the first
 * line of the SQL, exactly (after a byte order mark; trailing blanks are
 * allowed).
 */
#define MIG_NOTX_MARKER "-- schema_mgr:no-transaction"
typedef enum MigMark
{
	MIG_MARK_NO,
	MIG_MARK_YES,
	MIG_MARK_UNKNOWN			/* the start of the SQL does not tell */
} MigMark;
extern MigMark mig_marker_state(const char *text, bool truncated);
extern bool mig_no_transaction(const char *sql);
extern bool mig_check_notx_statements(const char *component, int64 version,
									  const char *sql, List *stmts);
extern Node *mig_notx_statement(const char *sql);
extern ErrorData *mig_try_parse(const char *sql, List **stmts);
/* whether the index of a CREATE INDEX CONCURRENTLY migration exists */
typedef enum MigBuilt
{
	MIG_BUILT_NONE,				/* no valid index of that name on the table */
	MIG_BUILT_SAME,				/* valid, and the one the statement builds */
	MIG_BUILT_OTHER				/* valid, and another index of that name */
} MigBuilt;
extern List *mig_notx_leftovers(MigCall *c, Node *stmt, MigBuilt *built);
extern List *mig_notx_states(MigCall *c, Datum component, char null);
extern void mig_put_status_rows(ReturnSetInfo *rsinfo, List *states);

/* migrate_notx_apply.c */
extern bool mig_pending_notx(MigCall *c, const char *component, int64 version);
extern void mig_refuse_notx(MigCall *c, Pending *p);
extern int	mig_apply_notx(MigCall *c, const char *component, int64 version,
						   bool allow_out_of_order);

/* migrate_worker.c */
extern ErrorData *mig_worker_run(const char *application_name, int n,
								 const char **statements, int *failed);

#endif							/* MIGRATE_H */
