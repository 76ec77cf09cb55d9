/*-------------------------------------------------------------------------
 *
 * schema_mgr.h
 *	  Declarations shared by the schema_mgr source files.
 *
 * Each concern lives in its own file: migrate*.c (migrations and version
 * tracking, declared in the private header migrate.h), checksum.c
 * (normalised SHA-256 of migration SQL), events_*.c (gapless event stores,
 * private header events.h), restore.c (restore_events over dblink, and the
 * row loading sync shares), sync.c (sync_events), compare.c (compare_events
 * and the range hashes restore and sync check with), remote.c (dblink
 * connections, the remote table's checks and the job runner the three share)
 * and remote_args.c (their arguments), declared in the private header
 * remote.h, and util.c (helpers used by more than one of them).  schema_mgr.c
 * is the module entry point; compat.h (with compat_connect.c and
 * compat_input.c) holds what differs between PostgreSQL majors.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SCHEMA_MGR_H
#define SCHEMA_MGR_H

#include "postgres.h"

#include "fmgr.h"
#include "storage/lock.h"

#include "compat.h"

/*
 * Advisory lock space.  Every lock schema_mgr takes is a transaction-scoped
 * advisory lock whose first key is one of these constants, so the locks are
 * easy to tell apart in pg_locks (locktype = 'advisory', classid = key) and
 * do not collide with an application's own advisory locks on small numbers.
 */
#define SM_LOCK_MIGRATIONS	0x534D4D47	/* 'SMMG': one per migration chain */
#define SM_LOCK_EVENTS		0x534D4556	/* 'SMEV': one per event store */
#define SM_LOCK_NOTX		0x534D4E58	/* 'SMNX': a component's running
										 * non-transactional migration */
#define SM_LOCKTAG_FIELD4	3			/* pg_locks.objsubid; see util.c */

/* schema_mgr.c: module initialisation, one hook per concern */
extern void migrate_init(void);
extern void events_init(void);
extern void restore_init(void);

/*
 * events_*.c: what the restore, sync and compare code needs of an event store.
 *
 * A store is an events table (id bigint primary key, ts timestamptz, event
 * jsonb, plus the six slate indexes) registered in the extension's
 * event_store table with its kind.  A source store's ids are allocated by
 * insert_events under the store's allocator lock (SM_LOCK_EVENTS, key2 =
 * the table's oid), held until commit; its guard triggers refuse UPDATE,
 * DELETE, TRUNCATE and any INSERT that does not come from the allocator or
 * from restore or sync while they hold a direct-insert grant.
 */
typedef struct EventStore
{
	Oid			relid;			/* the events table */
	char	   *qualified_name; /* quoted schema.table, for SQL text */
	bool		is_source;		/* kind 'source' (else 'destination') */
} EventStore;

/*
 * Find a registered store.  relid InvalidOid means "the only store of the
 * wanted kind in this database" (an error when there are none or several);
 * want_source false means any kind.  Errors with a clear message when relid
 * is not a store or not of the wanted kind.
 */
extern void events_lookup_store(Oid relid, bool want_source, EventStore *store);

/* Take the store's allocator lock; held until the transaction ends. */
extern void events_lock_store(Oid relid);

/*
 * Let restore or sync insert rows into the store directly, bypassing the
 * allocator's id check (no notifications are sent for such rows).  The
 * grant lasts until events_end_direct_insert(), which the caller must reach
 * before it returns to SQL: otherwise the rest of the user's transaction
 * could insert anything.  If the (sub)transaction that made the grant
 * aborts first, the grant ends with it.
 */
extern void events_allow_direct_insert(Oid relid);
extern void events_end_direct_insert(Oid relid);

/* util.c */
extern char *sm_extension_schema(void);
extern Oid	sm_extension_namespace(void);
extern char *sm_extension_schema_of(const char *extname);
extern Oid	sm_extension_owner(void);
extern char *sm_function_schema(FunctionCallInfo fcinfo);
extern int	sm_push_search_path(void);
extern void sm_pop_search_path(int nest_level);
extern void sm_spi_exec(const char *sql, int nargs, const char **args,
						int expect);
extern int64 sm_spi_int8(uint64 row, int col, bool *isnull);
extern char *sm_spi_text(uint64 row, int col);
extern ErrorData *sm_try_subxact(void (*fn) (void *arg), void *arg);
extern void sm_advisory_locktag(LOCKTAG *tag, uint32 key1, uint32 key2);
extern int	sm_advisory_lock_holder(uint32 key1, uint32 key2, char **appname,
									bool *prepared, char **gid);

/*
 * util.c: messages never carry a user's text whole (a migration can be tens
 * of megabytes, an event's bad token one megabyte): they say where it is and
 * quote at most SM_EXCERPT_BYTES of it.
 */
#define SM_EXCERPT_BYTES	200
extern char *sm_clip(const char *s, int maxbytes);

/* util.c: refuse REPEATABLE READ and SERIALIZABLE, for what reads under a lock */
extern void sm_require_read_committed(const char *what, const char *subject,
									  const char *verb);

/* util.c: refuse a null argument that has no default; what names it */
extern void sm_null_argument(FunctionCallInfo fcinfo, const char *what);

/* util.c: an event's JSON text as jsonb, or why it is not valid JSON */
typedef struct SmInvalidJson
{
	int			sqlerrcode;		/* PostgreSQL's (22P02 for a syntax error) */
	char	   *detail;			/* its message and detail, bounded */
} SmInvalidJson;

extern bool sm_jsonb_in(char *str, Datum *result, SmInvalidJson *invalid);

/* checksum.c: hex SHA-256 of SQL with BOM and CRLF/CR normalised away */
extern char *sm_sql_checksum(const char *data, size_t len);

#endif							/* SCHEMA_MGR_H */
