/*-------------------------------------------------------------------------
 *
 * events.h
 *	  Gapless event stores, private to the events_*.c files: the cached
 *	  view of a registered store and what each file offers the others.
 *
 * events_store.c	the registry: the one definition of a valid store,
 *					the per-backend cache and its invalidation, the
 *					sql_drop clean-up
 * events_create.c	create_event_store, register_event_store,
 *					set_event_store_notify, slate's view "id"
 * events_append.c	the allocator and the writer: insert_events (text and
 *					jsonb[]), the allocator lock
 * events_guard.c	the append-only guard triggers of source stores and the
 *					direct-insert grants of restore and sync
 * events_notify.c	the eventsinsert notifications
 * events_commit.c	commit modes: set_event_store_commit and the grouped
 *					commit of insert_events
 * events_trace.c	schema_mgr.trace_allocator: where the allocator's time
 *					goes, for benchmarks
 *
 * What restore, sync and compare need of a store is declared in
 * schema_mgr.h.
 *
 *-------------------------------------------------------------------------
 */
#ifndef EVENTS_H
#define EVENTS_H

#include "postgres.h"

#include "executor/spi.h"
#include "utils/array.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

/* why a store cannot be a temporary table */
#define TEMP_STORE_DETAIL \
	"A temporary table goes away with its session, and its registration would outlive it."

/* longest index name suffix, "_event_metadata_command" */
#define MAX_STORE_NAME_LEN		(NAMEDATALEN - 1 - 23)

typedef enum NotifyMode
{
	NOTIFY_ROW,
	NOTIFY_STATEMENT,
	NOTIFY_NONE
} NotifyMode;

/*
 * Backend-local cache of registered stores, keyed by the table's oid.
 * Entries are marked invalid by relcache invalidation of the table or of
 * the registry (whose statement trigger sends one on every change), and
 * rebuilt on next use.  Entries never move or disappear, so a pointer stays
 * usable across an invalidation in the middle of an insert.
 */
typedef struct StoreEntry
{
	Oid			relid;			/* hash key */
	bool		valid;
	bool		is_source;
	NotifyMode	notify;
	bool		grouped;		/* commit_mode 'grouped' (events_commit.c) */
	Oid			pkey_oid;		/* the primary key index on id */
	AttrNumber	id_attnum;
	AttrNumber	ts_attnum;
	AttrNumber	event_attnum;
	char	   *qualified_name; /* quoted schema.table */
	char	   *payload_table;	/* table name as a JSON string */
	SPIPlanPtr	plan;			/* the INSERT, prepared on first use */
	int			in_use;			/* plan is executing: do not free it */
} StoreEntry;

/* events_store.c */
extern StoreEntry *store_get(Oid relid, bool want_source);
extern Oid	events_extension_namespace(void);
extern void check_events_table(Relation rel, const char *qname,
							   StoreEntry *entry);
extern void check_store_owner(Oid relid);
extern bool registry_has(Oid relid);
extern void registry_add(Oid relid, bool is_source, NotifyMode notify);
extern void registry_set_notify(Oid relid, NotifyMode mode);
extern void registry_forget_dropped(void);
extern void drop_orphaned_id_views(void);
extern void registry_execute(const char *sql, int nargs, Oid *argtypes,
							 Datum *args);
extern void registry_set(Oid relid, const char *column, const char *value);

/* events_append.c */
extern void events_append_xact_end(void);

/* events_guard.c */
extern void events_guard_init(void);
extern void events_guard_xact_end(void);
extern bool events_guard_function(Oid funcoid, Oid extnsp);
extern void guard_begin_insert(StoreEntry *store, int64 lo, int64 hi);
extern void guard_end_insert(void);
extern void guard_check_triggers(Relation rel);
extern bool create_guard_triggers(Oid relid, const char *qname,
								  const char *fschema);
extern void warn_insert_triggers(Oid relid, const char *qname,
								 const char *fschema);

/* events_notify.c */
extern NotifyMode parse_notify_mode(const char *s);
extern const char *notify_mode_name(NotifyMode mode);
extern void notify_send(StoreEntry *store, Relation heap, Relation index,
						ArrayType *arr, bool owned, int64 first_id,
						int nevents);

/* events_commit.c */
extern void events_commit_init(void);
extern bool registry_commit_grouped(HeapTuple tuple, TupleDesc desc);
extern void commit_note_lock(Oid relid);
extern void commit_note_append(StoreEntry *store);

/* events_trace.c: points in the life of a transaction that appends */
typedef enum AllocMark
{
	ALLOC_REQUEST,				/* asks for the allocator lock */
	ALLOC_GRANTED,				/* holds it */
	ALLOC_WRITTEN,				/* insert_events has written its rows */
	ALLOC_PRE_COMMIT,			/* the commit begins */
	ALLOC_RELEASED,				/* the lock is released */
	ALLOC_MARKS
} AllocMark;
extern bool events_trace_allocator;
extern void events_trace_init(void);
extern void events_trace_mark(AllocMark m);
extern void events_trace_reset(void);
#define TRACE_ALLOCATOR(m) \
	do { if (events_trace_allocator) events_trace_mark(m); } while (0)

#endif							/* EVENTS_H */
