/*-------------------------------------------------------------------------
 *
 * events.c
 *	  Gapless event stores: create_event_store, insert_events (text and
 *	  jsonb[]), the append-only guard trigger, the eventsinsert
 *	  notifications, and the C interface the restore code uses.
 *
 * Id allocation.  There is no counter row.  insert_events takes the store's
 * allocator lock (a transaction-scoped advisory lock, SM_LOCK_EVENTS with
 * the table's oid), reads the last row (max id and its ts) with a backward
 * scan of the primary key under a fresh snapshot, and inserts max+1 ..
 * max+n.  The lock is held until commit: the previous holder has committed
 * (and is visible to the fresh snapshot) before we read, so ids are
 * gapless, a rolled-back transaction leaves no gap, and ids become visible
 * in id order.  Everything that can be done before taking the lock is done
 * before it: parsing, jsonb input, the array, the cached plan, the
 * notification payloads (all but the id digits).
 *
 * Timestamps: one per transaction, taken from the clock the first time the
 * transaction allocates (after the lock), and never smaller than the last
 * row's ts, so ts never decreases along the ids.
 *
 * Notifications: channel eventsinsert, per row (slate's payload, or the
 * same object without the event and with "truncated": true when it would
 * not fit in NOTIFY's 8000 bytes), per statement, or none, as registered
 * for the store.  Sent with Async_Notify by insert_events itself, so rows
 * written by restore or sync send nothing.
 *
 * Writing: a store as create_event_store made it is written directly
 * (table_multi_insert and index_insert, as COPY does), with the expression
 * index values computed before the lock; a store the owner changed (own
 * triggers, constraints, row security...) through a prepared INSERT.
 *
 * Privileges: insert_events runs with the caller's rights and needs INSERT
 * on the events table; the guard trigger refuses every INSERT that does not
 * come from the allocator, so that privilege cannot be used any other way.
 * The registry is written on the caller's behalf as its owner.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/index.h"
#include "catalog/namespace.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "commands/async.h"
#include "commands/event_trigger.h"
#include "commands/extension.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "optimizer/optimizer.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "schema_mgr.h"
#include "event_text.h"

/* NOTIFY refuses payloads of this many bytes or more (async.c) */
#define NOTIFY_PAYLOAD_LIMIT	8000
#define EVENTS_CHANNEL			"eventsinsert"
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
	Oid			pkey_oid;		/* the primary key index on id */
	AttrNumber	id_attnum;
	AttrNumber	ts_attnum;
	char	   *qualified_name; /* quoted schema.table */
	char	   *payload_table;	/* table name as a JSON string */
	SPIPlanPtr	plan;			/* the INSERT, prepared on first use */
	int			in_use;			/* plan is executing: do not free it */
} StoreEntry;

static HTAB *store_hash = NULL;
static MemoryContext store_cxt = NULL;
static Oid	registry_relid = InvalidOid;	/* the event_store table */
static char *registry_name = NULL;	/* quoted schema.event_store */
static Oid	default_source = InvalidOid;	/* the only source store */
static Oid	default_any = InvalidOid;	/* the only store */
static uint64 inval_count = 0;	/* relcache invalidations seen */

/* per transaction */
static bool xact_ts_valid = false;
static TimestampTz xact_ts;

/*
 * Stores that restore or sync may currently write directly, each with the
 * subtransaction that allowed it (DirectInsertGrant, in
 * TopTransactionContext).  A grant ends with events_end_direct_insert, or
 * when that subtransaction or one of its ancestors aborts.
 */
typedef struct DirectInsertGrant
{
	Oid			relid;
	SubTransactionId subid;
} DirectInsertGrant;

static List *direct_insert_grants = NIL;

/* the allocator's INSERT in progress, checked by the guard trigger */
static Oid	inserting_relid = InvalidOid;
static AttrNumber inserting_attnum;
static int64 inserting_lo;
static int64 inserting_hi;

PG_FUNCTION_INFO_V1(create_event_store);
PG_FUNCTION_INFO_V1(register_event_store);
PG_FUNCTION_INFO_V1(set_event_store_notify);
PG_FUNCTION_INFO_V1(insert_events_text);
PG_FUNCTION_INFO_V1(insert_events_array);
PG_FUNCTION_INFO_V1(events_guard);
PG_FUNCTION_INFO_V1(event_store_changed);
PG_FUNCTION_INFO_V1(event_store_sql_drop);

static void events_xact_callback(XactEvent event, void *arg);
static void events_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
									SubTransactionId parentSubid, void *arg);
static bool direct_insert_granted(Oid relid);
static void registry_execute(const char *sql, int nargs, Oid *argtypes, Datum *args);
static void events_relcache_callback(Datum arg, Oid relid);
static StoreEntry *store_get(Oid relid, bool want_source);
static void append_events(Oid relid, Datum *events, int nevents,
						  int64 *first_id, TimestampTz *ts);

void
events_init(void)
{
	RegisterXactCallback(events_xact_callback, NULL);
	RegisterSubXactCallback(events_subxact_callback, NULL);
	CacheRegisterRelcacheCallback(events_relcache_callback, (Datum) 0);
}

static void
events_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PREPARE:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PARALLEL_ABORT:
			xact_ts_valid = false;
			direct_insert_grants = NIL;
			inserting_relid = InvalidOid;
			break;
		default:
			break;
	}
}

/*
 * A subtransaction that aborts takes with it the direct-insert grants made
 * in it or in its children: those have ids >= its own, and every
 * subtransaction with a larger id that began while it was open is one of
 * its children.
 */
static void
events_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						SubTransactionId parentSubid, void *arg)
{
	ListCell   *lc;

	if (event != SUBXACT_EVENT_ABORT_SUB)
		return;
	foreach(lc, direct_insert_grants)
	{
		DirectInsertGrant *g = (DirectInsertGrant *) lfirst(lc);

		if (g->subid >= mySubid)
			direct_insert_grants = foreach_delete_current(direct_insert_grants, lc);
	}
}

static void
events_relcache_callback(Datum arg, Oid relid)
{
	HASH_SEQ_STATUS status;
	StoreEntry *entry;

	inval_count++;
	if (store_hash == NULL)
		return;
	if (OidIsValid(relid) && relid != registry_relid)
	{
		entry = hash_search(store_hash, &relid, HASH_FIND, NULL);
		if (entry)
			entry->valid = false;
		if (relid == default_source || relid == default_any)
			default_source = default_any = InvalidOid;
		return;
	}
	hash_seq_init(&status, store_hash);
	while ((entry = hash_seq_search(&status)) != NULL)
		entry->valid = false;
	registry_relid = InvalidOid;
	default_source = InvalidOid;
	default_any = InvalidOid;
}

/* ----------------------------------------------------------------
 * The registry
 * ----------------------------------------------------------------
 */

static const char *
notify_mode_name(NotifyMode mode)
{
	switch (mode)
	{
		case NOTIFY_ROW:
			return "row";
		case NOTIFY_STATEMENT:
			return "statement";
		case NOTIFY_NONE:
			return "none";
	}
	return "?";
}

static NotifyMode
parse_notify_mode(const char *s)
{
	if (strcmp(s, "row") == 0)
		return NOTIFY_ROW;
	if (strcmp(s, "statement") == 0)
		return NOTIFY_STATEMENT;
	if (strcmp(s, "none") == 0)
		return NOTIFY_NONE;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid notification mode \"%s\"", s),
			 errhint("The notification mode must be \"row\", \"statement\" or \"none\".")));
	return NOTIFY_NONE;			/* keep compiler quiet */
}

/* Find the registry table (and remember it for invalidations). */
static void
registry_locate(void)
{
	char	   *nspname;

	if (OidIsValid(registry_relid))
		return;
	if (store_cxt == NULL)
	{
		HASHCTL		ctl;

		store_cxt = AllocSetContextCreate(CacheMemoryContext,
										  "schema_mgr event stores",
										  ALLOCSET_SMALL_SIZES);
		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(StoreEntry);
		ctl.hcxt = store_cxt;
		store_hash = hash_create("schema_mgr event stores", 16, &ctl,
								 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	nspname = sm_extension_schema();	/* quoted */
	if (registry_name)
		pfree(registry_name);
	registry_name = MemoryContextStrdup(store_cxt,
										psprintf("%s.event_store", nspname));
	registry_relid = DatumGetObjectId(DirectFunctionCall1(regclassin,
														  CStringGetDatum(registry_name)));
}

static void
free_plan_if_idle(StoreEntry *entry)
{
	if (entry->plan && entry->in_use == 0)
	{
		SPI_freeplan(entry->plan);
		entry->plan = NULL;
	}
}

/*
 * Fill in (or refresh) the cache entry of a registered store.  Errors when
 * relid is not a store.
 */
static StoreEntry *
store_get(Oid relid, bool want_source)
{
	StoreEntry *entry;
	bool		found;
	Relation	rel;
	Oid			pkey;
	char	   *kind;
	char	   *notify;
	Datum		arg;
	int			ret;
	MemoryContext oldcxt;

	registry_locate();

	if (!OidIsValid(relid))
	{
		Oid		   *cached = want_source ? &default_source : &default_any;

		if (!OidIsValid(*cached))
		{
			char	   *sql;
			int64		n;

			SPI_connect();
			sql = psprintf("SELECT s.relid::pg_catalog.oid FROM %s s"
						   " JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) s.relid"
						   "%s LIMIT 2",
						   registry_name,
						   want_source ? " WHERE s.kind OPERATOR(pg_catalog.=) 'source'" : "");
			ret = SPI_execute(sql, true, 0);
			if (ret != SPI_OK_SELECT)
				elog(ERROR, "could not read the event store registry: %s",
					 SPI_result_code_string(ret));
			n = SPI_processed;
			if (n == 1)
			{
				bool		isnull;

				*cached = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0],
														 SPI_tuptable->tupdesc,
														 1, &isnull));
			}
			SPI_finish();
			if (n == 0)
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_TABLE),
						 errmsg("no %sevent store exists in this database",
								want_source ? "source " : ""),
						 errhint("Create one with create_event_store('source').")));
			if (n > 1)
				ereport(ERROR,
						(errcode(ERRCODE_AMBIGUOUS_PARAMETER),
						 errmsg("more than one %sevent store exists in this database",
								want_source ? "source " : ""),
						 errhint("Name the store, as in insert_events(..., store => 'myschema.events').")));
		}
		relid = *cached;
	}

	entry = hash_search(store_hash, &relid, HASH_ENTER, &found);
	if (!found)
	{
		entry->valid = false;
		entry->plan = NULL;
		entry->in_use = 0;
		entry->qualified_name = NULL;
		entry->payload_table = NULL;
	}
	if (!entry->valid)
	{
		StringInfoData buf;
		uint64		inval_before = inval_count;

		free_plan_if_idle(entry);
		if (entry->plan)
			entry->plan = NULL; /* in use further up: leave it to its owner */

		rel = try_relation_open(relid, AccessShareLock);
		if (rel == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_TABLE),
					 errmsg("event store with OID %u does not exist", relid)));

		SPI_connect();
		arg = ObjectIdGetDatum(relid);
		ret = SPI_execute_with_args(psprintf("SELECT kind, notify FROM %s"
											 " WHERE relid OPERATOR(pg_catalog.=) $1",
											 registry_name),
									1, (Oid[]) {REGCLASSOID}, &arg, NULL, true, 1);
		if (ret != SPI_OK_SELECT)
			elog(ERROR, "could not read the event store registry: %s",
				 SPI_result_code_string(ret));
		if (SPI_processed == 0)
			ereport(ERROR,
					(errcode(ERRCODE_WRONG_OBJECT_TYPE),
					 errmsg("relation \"%s\" is not an event store",
							RelationGetRelationName(rel)),
					 errhint("Create event stores with create_event_store().")));
		kind = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
		notify = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
		entry->is_source = (strcmp(kind, "source") == 0);
		entry->notify = parse_notify_mode(notify);
		SPI_finish();

		pkey = sm_RelationGetPrimaryKeyIndex(rel);
		entry->id_attnum = get_attnum(relid, "id");
		entry->ts_attnum = get_attnum(relid, "ts");
		if (!OidIsValid(pkey) || entry->id_attnum == InvalidAttrNumber ||
			entry->ts_attnum == InvalidAttrNumber ||
			get_attnum(relid, "event") == InvalidAttrNumber)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("event store \"%s\" has lost its id, ts or event column or its primary key",
							RelationGetRelationName(rel))));
		entry->pkey_oid = pkey;

		oldcxt = MemoryContextSwitchTo(store_cxt);
		if (entry->qualified_name)
			pfree(entry->qualified_name);
		if (entry->payload_table)
			pfree(entry->payload_table);
		entry->qualified_name =
			quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
									   RelationGetRelationName(rel));
		initStringInfo(&buf);
		escape_json(&buf, RelationGetRelationName(rel));
		entry->payload_table = buf.data;
		MemoryContextSwitchTo(oldcxt);

		relation_close(rel, AccessShareLock);
		/* an invalidation that arrived meanwhile means: read it again */
		entry->valid = (inval_count == inval_before);
	}

	if (want_source && !entry->is_source)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("event store \"%s\" is not a source store", entry->qualified_name),
				 errdetail("Only source stores assign ids; a destination store receives copies.")));
	return entry;
}

/* ----------------------------------------------------------------
 * The C interface (schema_mgr.h)
 * ----------------------------------------------------------------
 */

/*
 * events_lookup_store
 *		Find a registered store; relid InvalidOid means the only store of the
 *		wanted kind (want_source false: of any kind).
 */
void
events_lookup_store(Oid relid, bool want_source, EventStore *store)
{
	StoreEntry *entry = store_get(relid, want_source);

	store->relid = entry->relid;
	store->qualified_name = pstrdup(entry->qualified_name);
	store->is_source = entry->is_source;
}

/*
 * The allocator lock: classid SM_LOCK_EVENTS, objid the table's oid, a tag
 * no SQL function can take (see sm_advisory_locktag), so only insert_events,
 * restore and sync hold it.
 */
void
events_lock_store(Oid relid)
{
	LOCKTAG		tag;

	sm_advisory_locktag(&tag, SM_LOCK_EVENTS, relid);
	(void) LockAcquire(&tag, ExclusiveLock, false, false);
}

void
events_allow_direct_insert(Oid relid)
{
	MemoryContext oldcxt;
	DirectInsertGrant *g;

	if (direct_insert_granted(relid))
		return;
	oldcxt = MemoryContextSwitchTo(TopTransactionContext);
	g = palloc(sizeof(DirectInsertGrant));
	g->relid = relid;
	g->subid = GetCurrentSubTransactionId();
	direct_insert_grants = lappend(direct_insert_grants, g);
	MemoryContextSwitchTo(oldcxt);
}

void
events_end_direct_insert(Oid relid)
{
	ListCell   *lc;

	foreach(lc, direct_insert_grants)
	{
		DirectInsertGrant *g = (DirectInsertGrant *) lfirst(lc);

		if (g->relid == relid)
		{
			direct_insert_grants = foreach_delete_current(direct_insert_grants, lc);
			pfree(g);
		}
	}
}

static bool
direct_insert_granted(Oid relid)
{
	ListCell   *lc;

	foreach(lc, direct_insert_grants)
	{
		if (((DirectInsertGrant *) lfirst(lc))->relid == relid)
			return true;
	}
	return false;
}

/* ----------------------------------------------------------------
 * Appending events
 * ----------------------------------------------------------------
 */

/*
 * Read the last row of the store (highest id and its ts) with a backward
 * scan of the primary key under a fresh snapshot.  Must be called with the
 * allocator lock held.
 */
static bool
read_last_row(Relation heap, Relation index, StoreEntry *store,
			  int64 *last_id, TimestampTz *last_ts)
{
	Snapshot	snap;
	IndexScanDesc scan;
	TupleTableSlot *slot;
	bool		found = false;

	snap = RegisterSnapshot(GetLatestSnapshot());
	scan = sm_index_beginscan(heap, index, snap, 0, 0);
	index_rescan(scan, NULL, 0, NULL, 0);
	slot = table_slot_create(heap, NULL);
	if (index_getnext_slot(scan, BackwardScanDirection, slot))
	{
		bool		isnull;

		*last_id = DatumGetInt64(slot_getattr(slot, store->id_attnum, &isnull));
		*last_ts = DatumGetTimestampTz(slot_getattr(slot, store->ts_attnum, &isnull));
		found = true;
	}
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	UnregisterSnapshot(snap);
	return found;
}

static void
check_writable(void)
{
	if (RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("cannot insert events during recovery"),
				 errdetail("This server is a standby; events are appended on the primary.")));
	PreventCommandIfReadOnly("insert_events");
	PreventCommandIfParallelMode("insert_events");
}

/*
 * Run the store's INSERT for ids lo..hi, letting the guard trigger know
 * that these rows come from the allocator.
 */
static int
execute_insert(StoreEntry *store, Datum *args, int64 lo, int64 hi)
{
	int			ret = 0;

	inserting_relid = store->relid;
	inserting_attnum = store->id_attnum;
	inserting_lo = lo;
	inserting_hi = hi;
	store->in_use++;
	PG_TRY();
	{
		ret = SPI_execute_plan(store->plan, args, NULL, false, 0);
	}
	PG_FINALLY();
	{
		inserting_relid = InvalidOid;
		store->in_use--;
	}
	PG_END_TRY();
	return ret;
}

/* ----------------------------------------------------------------
 * Direct insertion
 *
 * For a store that looks the way create_event_store made it (a plain heap
 * table with the columns id, ts, event in that order, no CHECK
 * constraints, no row security, no rules, no triggers but the guard, no
 * partial, exclusion or deferrable unique indexes), the rows are written
 * with table_multi_insert and index_insert rather than through an INSERT
 * statement: no executor start and no per-row trigger while the lock is
 * held, one WAL record per heap page, and the values of every index that
 * depends on the event alone (the five slate expression indexes) computed
 * before the lock.  This is what COPY does.  Any other store goes through
 * the SQL INSERT, which honours whatever was added to the table.
 * ----------------------------------------------------------------
 */
#define DIRECT_BATCH	1000

typedef struct DirectIndex
{
	Relation	rel;
	IndexInfo  *info;
	IndexUniqueCheck check;
	bool		precomputed;	/* values depend on the event column only */
	Datum	   *values;			/* nevents x ii_NumIndexAttrs, if so */
	bool	   *isnull;
} DirectIndex;

typedef struct DirectState
{
	Relation	heap;
	int			nindexes;
	DirectIndex *indexes;
	EState	   *estate;			/* holds the precomputed values */
	EState	   *ins_estate;		/* per-row evaluation under the lock */
	TupleTableSlot **slots;
	int			nslots;
	Datum	   *events;
	int			nevents;
} DirectState;

static bool
direct_insert_possible(Relation heap)
{
	TupleDesc	desc = RelationGetDescr(heap);
	TriggerDesc *trig = heap->trigdesc;
	Oid			nsp;
	int			i;

	registry_locate();
	nsp = get_rel_namespace(registry_relid);

	if (heap->rd_rel->relkind != RELKIND_RELATION ||
		heap->rd_rel->relrowsecurity ||
		heap->rd_rel->relhasrules ||
		desc->natts != 3 ||
		(desc->constr && (desc->constr->num_check > 0 ||
						  desc->constr->has_generated_stored)))
		return false;
	for (i = 0; i < 3; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		static const char *const names[3] = {"id", "ts", "event"};
		static const Oid types[3] = {INT8OID, TIMESTAMPTZOID, JSONBOID};

		if (att->attisdropped || att->atttypid != types[i] ||
			strcmp(NameStr(att->attname), names[i]) != 0)
			return false;
	}
	for (i = 0; trig && i < trig->numtriggers; i++)
	{
		Oid			f = trig->triggers[i].tgfoid;
		char	   *fname = get_func_name(f);

		if (fname == NULL || strcmp(fname, "events_guard") != 0 ||
			get_func_namespace(f) != nsp)
			return false;
	}
	return true;
}

/*
 * Before the lock: open the indexes, and compute the values of those that
 * depend on the event alone.  Returns NULL when an index rules the direct
 * path out.
 */
static DirectState *
direct_prepare(Relation heap, Datum *events, int nevents)
{
	DirectState *ds = palloc0(sizeof(DirectState));
	List	   *indexoids = RelationGetIndexList(heap);
	ListCell   *lc;
	TupleTableSlot *slot;
	ExprContext *econtext;
	int			i;

	ds->heap = heap;
	ds->events = events;
	ds->nevents = nevents;
	ds->indexes = palloc0(sizeof(DirectIndex) * Max(list_length(indexoids), 1));
	foreach(lc, indexoids)
	{
		Relation	irel = index_open(lfirst_oid(lc), RowExclusiveLock);
		DirectIndex *di = &ds->indexes[ds->nindexes++];
		IndexInfo  *ii = BuildIndexInfo(irel);
		Bitmapset  *attrs = NULL;
		int			k;

		di->rel = irel;
		di->info = ii;
		if (ii->ii_Predicate != NIL || ii->ii_ExclusionOps != NULL ||
			(ii->ii_Unique && !irel->rd_index->indimmediate))
		{
			for (i = 0; i < ds->nindexes; i++)
				index_close(ds->indexes[i].rel, NoLock);
			return NULL;
		}
		di->check = ii->ii_Unique ? UNIQUE_CHECK_YES : UNIQUE_CHECK_NO;
		for (k = 0; k < ii->ii_NumIndexAttrs; k++)
			if (ii->ii_IndexAttrNumbers[k] != 0)
				attrs = bms_add_member(attrs, ii->ii_IndexAttrNumbers[k] -
									   FirstLowInvalidHeapAttributeNumber);
		pull_varattnos((Node *) ii->ii_Expressions, 1, &attrs);
		di->precomputed = bms_is_subset(attrs,
										bms_make_singleton(3 - FirstLowInvalidHeapAttributeNumber));
	}

	ds->estate = CreateExecutorState();
	econtext = GetPerTupleExprContext(ds->estate);
	slot = table_slot_create(heap, NULL);
	for (i = 0; i < ds->nindexes; i++)
	{
		DirectIndex *di = &ds->indexes[i];
		int			nk = di->info->ii_NumIndexAttrs;
		int			e;

		if (!di->precomputed)
			continue;
		di->values = palloc(sizeof(Datum) * nk * nevents);
		di->isnull = palloc(sizeof(bool) * nk * nevents);
		for (e = 0; e < nevents; e++)
		{
			ExecClearTuple(slot);
			slot->tts_values[0] = Int64GetDatum(0);
			slot->tts_values[1] = TimestampTzGetDatum(0);
			slot->tts_values[2] = events[e];
			memset(slot->tts_isnull, 0, sizeof(bool) * 3);
			ExecStoreVirtualTuple(slot);
			econtext->ecxt_scantuple = slot;
			/* the results stay in the per-tuple memory, never reset */
			FormIndexDatum(di->info, slot, ds->estate,
						   &di->values[e * nk], &di->isnull[e * nk]);
		}
	}
	ExecDropSingleTupleTableSlot(slot);
	ds->ins_estate = CreateExecutorState();

	ds->nslots = Min(nevents, DIRECT_BATCH);
	ds->slots = palloc(sizeof(TupleTableSlot *) * ds->nslots);
	for (i = 0; i < ds->nslots; i++)
		ds->slots[i] = table_slot_create(heap, NULL);
	return ds;
}

/* Under the lock: write the rows and their index entries. */
static void
direct_insert(DirectState *ds, int64 first_id, TimestampTz ts)
{
	CommandId	cid = GetCurrentCommandId(true);
	ExprContext *econtext = GetPerTupleExprContext(ds->ins_estate);
	Datum		values[INDEX_MAX_KEYS];
	bool		isnull[INDEX_MAX_KEYS];
	int			done;

	for (done = 0; done < ds->nevents; done += ds->nslots)
	{
		int			n = Min(ds->nslots, ds->nevents - done);
		int			j;

		for (j = 0; j < n; j++)
		{
			TupleTableSlot *slot = ds->slots[j];

			ExecClearTuple(slot);
			slot->tts_values[0] = Int64GetDatum(first_id + done + j);
			slot->tts_values[1] = TimestampTzGetDatum(ts);
			slot->tts_values[2] = ds->events[done + j];
			memset(slot->tts_isnull, 0, sizeof(bool) * 3);
			ExecStoreVirtualTuple(slot);
		}
		table_multi_insert(ds->heap, ds->slots, n, cid, 0, NULL);

		for (j = 0; j < n; j++)
		{
			TupleTableSlot *slot = ds->slots[j];
			int			e = done + j;
			int			i;

			for (i = 0; i < ds->nindexes; i++)
			{
				DirectIndex *di = &ds->indexes[i];
				int			nk = di->info->ii_NumIndexAttrs;

				if (!di->info->ii_ReadyForInserts)
					continue;
				if (di->precomputed)
					index_insert(di->rel, &di->values[e * nk], &di->isnull[e * nk],
								 &slot->tts_tid, ds->heap, di->check, false,
								 di->info);
				else
				{
					econtext->ecxt_scantuple = slot;
					FormIndexDatum(di->info, slot, ds->ins_estate, values, isnull);
					index_insert(di->rel, values, isnull, &slot->tts_tid,
								 ds->heap, di->check, false, di->info);
					ResetExprContext(econtext);
				}
			}
		}
	}
}

static void
direct_finish(DirectState *ds)
{
	int			i;

	for (i = 0; i < ds->nslots; i++)
		ExecDropSingleTupleTableSlot(ds->slots[i]);
	for (i = 0; i < ds->nindexes; i++)
	{
#if PG_VERSION_NUM >= 170000
		index_insert_cleanup(ds->indexes[i].rel, ds->indexes[i].info);
#endif
		index_close(ds->indexes[i].rel, NoLock);
	}
	FreeExecutorState(ds->ins_estate);
	FreeExecutorState(ds->estate);
}

/*
 * append_events
 *		Append nevents jsonb datums to the source store relid (InvalidOid:
 *		the only source store).  Returns the first id and the ts used.
 */
static void
append_events(Oid relid, Datum *events, int nevents,
			  int64 *first_id, TimestampTz *ts_out)
{
	StoreEntry *store;
	ArrayType  *arr = NULL;
	DirectState *direct = NULL;
	char	  **payload_tail = NULL;
	int			payload_head_len = 0;
	char	   *payload_head = NULL;
	Relation	heap;
	Relation	index;
	int64		last_id = 0;
	TimestampTz last_ts = 0;
	TimestampTz ts;
	int			i;

	check_writable();
	store = store_get(relid, true);
	relid = store->relid;
	/* the INSERT would check this too, but only once the lock is held */
	if (pg_class_aclcheck(relid, GetUserId(), ACL_INSERT) != ACLCHECK_OK)
		aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_TABLE, get_rel_name(relid));

	/* --- before the lock: the rows, the plan, the notification payloads --- */
	heap = table_open(relid, RowExclusiveLock);
	if (direct_insert_possible(heap))
		direct = direct_prepare(heap, events, nevents);
	if (direct == NULL)
	{
		arr = construct_array(events, nevents, JSONBOID, -1, false, TYPALIGN_INT);
		SPI_connect();
		if (store->plan == NULL)
		{
			char	   *sql;
			SPIPlanPtr	plan;

			sql = psprintf("INSERT INTO %s (id, ts, event)"
						   " SELECT $2 OPERATOR(pg_catalog.+) e.n, $3, e.ev"
						   " FROM pg_catalog.unnest($1) WITH ORDINALITY AS e(ev, n)",
						   store->qualified_name);
			plan = SPI_prepare(sql, 3, (Oid[]) {JSONBARRAYOID, INT8OID, TIMESTAMPTZOID});
			if (plan == NULL)
				elog(ERROR, "could not prepare the event insert: %s",
					 SPI_result_code_string(SPI_result));
			if (SPI_keepplan(plan) != 0)
				elog(ERROR, "could not keep the event insert plan");
			store->plan = plan;
		}
	}
	if (store->notify == NOTIFY_ROW)
	{
		payload_head = psprintf("{\"table\" : %s, \"id\" : ", store->payload_table);
		payload_head_len = strlen(payload_head);
		payload_tail = palloc(sizeof(char *) * nevents);
		for (i = 0; i < nevents; i++)
		{
			Jsonb	   *jb = DatumGetJsonbP(events[i]);
			char	   *text = JsonbToCString(NULL, &jb->root, VARSIZE(jb));
			int			len = strlen(text);

			/* head + up to 20 digits + tail + NUL must stay under the limit */
			if (payload_head_len + 20 + len + 14 < NOTIFY_PAYLOAD_LIMIT)
				payload_tail[i] = psprintf(", \"event\" : %s}", text);
			else
				payload_tail[i] = ", \"truncated\" : true}";
			pfree(text);
		}
	}
	index = index_open(store->pkey_oid, AccessShareLock);

	/* --- the allocator lock, held until the transaction ends --- */
	events_lock_store(relid);

	CommandCounterIncrement();	/* see our own earlier rows */
	(void) read_last_row(heap, index, store, &last_id, &last_ts);
	if (last_id > PG_INT64_MAX - nevents)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("event store \"%s\" has run out of ids", store->qualified_name)));

	if (!xact_ts_valid)
	{
		xact_ts = GetCurrentTimestamp();
		xact_ts_valid = true;
	}
	if (xact_ts < last_ts)
		xact_ts = last_ts;
	ts = xact_ts;

	if (direct)
		direct_insert(direct, last_id + 1, ts);
	else
	{
		Datum		args[3];
		int			ret;

		args[0] = PointerGetDatum(arr);
		args[1] = Int64GetDatum(last_id);
		args[2] = TimestampTzGetDatum(ts);
		ret = execute_insert(store, args, last_id + 1, last_id + nevents);
		if (ret != SPI_OK_INSERT || SPI_processed != (uint64) nevents)
			elog(ERROR, "event insert returned %s with " UINT64_FORMAT " rows",
				 SPI_result_code_string(ret), SPI_processed);
	}

	if (store->notify == NOTIFY_ROW)
	{
		StringInfoData buf;

		initStringInfo(&buf);
		for (i = 0; i < nevents; i++)
		{
			resetStringInfo(&buf);
			appendBinaryStringInfo(&buf, payload_head, payload_head_len);
			appendStringInfo(&buf, INT64_FORMAT, last_id + 1 + i);
			appendStringInfoString(&buf, payload_tail[i]);
			Async_Notify(EVENTS_CHANNEL, buf.data);
		}
	}
	else if (store->notify == NOTIFY_STATEMENT)
		Async_Notify(EVENTS_CHANNEL,
					 psprintf("{\"table\" : %s, \"id\" : " INT64_FORMAT
							  ", \"last_id\" : " INT64_FORMAT ", \"count\" : %d}",
							  store->payload_table, last_id + 1,
							  last_id + nevents, nevents));

	index_close(index, NoLock);
	if (direct)
		direct_finish(direct);
	else
		SPI_finish();
	table_close(heap, NoLock);

	*first_id = last_id + 1;
	*ts_out = ts;
}

/*
 * Error context: which row of the event list had bad JSON.
 */
typedef struct JsonRowContext
{
	int			rowno;
	const char *str;
	int			offset;
} JsonRowContext;

static void
json_row_context(void *arg)
{
	JsonRowContext *c = (JsonRowContext *) arg;

	errcontext("event %d of the event list, at position %d", c->rowno,
			   pg_mbstrlen_with_len(c->str, c->offset) + 1);
}

Datum
insert_events_text(PG_FUNCTION_ARGS)
{
	text	   *values;
	Oid			relid = PG_ARGISNULL(1) ? InvalidOid : PG_GETARG_OID(1);
	EventTextRow *rows;
	Datum	   *events;
	int			nrows;
	int			i;
	int64		first_id;
	TimestampTz ts;
	ErrorContextCallback errcb;
	JsonRowContext jc;
	MemoryContext rowcxt;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("event list must not be null")));
	values = PG_GETARG_TEXT_PP(0);
	nrows = event_text_parse(VARDATA_ANY(values), VARSIZE_ANY_EXHDR(values), &rows);

	events = palloc(sizeof(Datum) * nrows);
	jc.str = VARDATA_ANY(values);
	errcb.callback = json_row_context;
	errcb.arg = &jc;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;
	/* jsonb_in leaves its parser's memory behind: one reset context per row */
	rowcxt = AllocSetContextCreate(CurrentMemoryContext, "insert_events row",
								   ALLOCSET_DEFAULT_SIZES);
	for (i = 0; i < nrows; i++)
	{
		MemoryContext oldcxt;
		Datum		d;

		jc.rowno = i + 1;
		jc.offset = rows[i].offset;
		oldcxt = MemoryContextSwitchTo(rowcxt);
		d = DirectFunctionCall1(jsonb_in, CStringGetDatum(rows[i].json));
		MemoryContextSwitchTo(oldcxt);
		events[i] = datumCopy(d, false, -1);
		MemoryContextReset(rowcxt);
		pfree(rows[i].json);
	}
	error_context_stack = errcb.previous;
	MemoryContextDelete(rowcxt);

	append_events(relid, events, nrows, &first_id, &ts);
	PG_RETURN_INT32(nrows);
}

Datum
insert_events_array(PG_FUNCTION_ARGS)
{
	ArrayType  *arr;
	Oid			relid = PG_ARGISNULL(1) ? InvalidOid : PG_GETARG_OID(1);
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int			i;
	int64		first_id;
	TimestampTz ts;
	TupleDesc	tupdesc;
	Datum		values[3];
	bool		isnull[3] = {false, false, false};

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("events must not be null")));
	arr = PG_GETARG_ARRAYTYPE_P(0);
	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("events must be a one-dimensional array")));
	deconstruct_array(arr, JSONBOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("no events to insert"),
				 errdetail("The events array is empty.")));
	for (i = 0; i < n; i++)
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("event %d is null", i + 1)));

	append_events(relid, elems, n, &first_id, &ts);

	values[0] = Int64GetDatum(first_id);
	values[1] = Int64GetDatum(first_id + n - 1);
	values[2] = TimestampTzGetDatum(ts);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc),
													  values, isnull)));
}

/* ----------------------------------------------------------------
 * Triggers
 * ----------------------------------------------------------------
 */

/*
 * events_guard
 *		The append-only guard of a source store: row-level BEFORE INSERT
 *		(only the allocator's own INSERT, or restore or sync between
 *		events_allow_direct_insert and events_end_direct_insert, may
 *		insert) and statement-level BEFORE UPDATE, DELETE, TRUNCATE (always
 *		refused).
 */
Datum
events_guard(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	Relation	rel;
	Oid			relid;
	const char *op;

	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "events_guard: not called by trigger manager");
	rel = td->tg_relation;
	relid = RelationGetRelid(rel);

	if (TRIGGER_FIRED_BY_INSERT(td->tg_event))
	{
		if (TRIGGER_FIRED_FOR_ROW(td->tg_event))
		{
			HeapTuple	tuple = td->tg_trigtuple;

			if (relid == inserting_relid)
			{
				bool		isnull;
				Datum		d = heap_getattr(tuple, inserting_attnum,
											 RelationGetDescr(rel), &isnull);

				if (!isnull && DatumGetInt64(d) >= inserting_lo &&
					DatumGetInt64(d) <= inserting_hi)
					return PointerGetDatum(tuple);
			}
			else if (direct_insert_granted(relid))
				return PointerGetDatum(tuple);
		}
		ereport(ERROR,
				(errcode(ERRCODE_S_R_E_PROHIBITED_SQL_STATEMENT_ATTEMPTED),
				 errmsg("cannot insert into event store \"%s\" directly",
						RelationGetRelationName(rel)),
				 errdetail("The ids of a source event store are assigned by insert_events, gapless and in commit order; a row inserted any other way could break that sequence."),
				 errhint("Append events with insert_events().")));
	}

	if (TRIGGER_FIRED_BY_UPDATE(td->tg_event))
		op = "UPDATE";
	else if (TRIGGER_FIRED_BY_DELETE(td->tg_event))
		op = "DELETE";
	else if (TRIGGER_FIRED_BY_TRUNCATE(td->tg_event))
		op = "TRUNCATE";
	else
		op = "?";
	/* slate's message text, which clients may match on */
	ereport(ERROR,
			(errcode(ERRCODE_S_R_E_PROHIBITED_SQL_STATEMENT_ATTEMPTED),
			 errmsg("cannot perform SQL command on events table: %s", op),
			 errdetail("Event store \"%s\" is append-only.",
					   RelationGetRelationName(rel))));
	PG_RETURN_NULL();
}

/*
 * event_store_changed
 *		Statement trigger on the registry: make every backend drop its cached
 *		view of the stores (at our commit; locally at the next command).
 */
Datum
event_store_changed(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "event_store_changed: not called by trigger manager");
	CacheInvalidateRelcache(td->tg_relation);
	return PointerGetDatum(NULL);
}

/*
 * event_store_sql_drop
 *		sql_drop event trigger: forget the registrations of dropped tables,
 *		so that the registry (and what pg_dump keeps of it) lists only
 *		stores that exist.  Nothing to do when the extension itself is
 *		being dropped.
 */
Datum
event_store_sql_drop(PG_FUNCTION_ARGS)
{
	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		elog(ERROR, "event_store_sql_drop: not called by event trigger manager");
	if (!OidIsValid(get_extension_oid("schema_mgr", true)))
		PG_RETURN_NULL();
	registry_relid = InvalidOid;	/* look it up afresh */
	registry_locate();
	SPI_connect();
	registry_execute(psprintf("DELETE FROM %s WHERE relid::pg_catalog.oid OPERATOR(pg_catalog.=) ANY"
							  " (SELECT objid FROM pg_catalog.pg_event_trigger_dropped_objects()"
							  " WHERE classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass"
							  " AND objsubid OPERATOR(pg_catalog.=) 0)",
							  registry_name), 0, NULL, NULL);
	SPI_finish();
	PG_RETURN_NULL();
}

/* ----------------------------------------------------------------
 * Creating stores
 * ----------------------------------------------------------------
 */

/* Only the owner of a table may register it or change its registration. */
static void
check_store_owner(Oid relid)
{
	if (!sm_class_ownercheck(relid, GetUserId()))
		aclcheck_error(ACLCHECK_NOT_OWNER, OBJECT_TABLE, get_rel_name(relid));
}

/*
 * Create the guard triggers of a source store, those of the two that it
 * does not have yet (a table adopted by register_event_store may have
 * slate's check_sql_command already).  Within SPI.
 */
static void
create_guard_triggers(Oid relid, const char *qname, const char *fschema)
{
	static const char *const triggers[2][2] = {
		{"check_insert", "BEFORE INSERT ON %s FOR EACH ROW"},
		{"check_sql_command", "BEFORE UPDATE OR DELETE OR TRUNCATE ON %s FOR EACH STATEMENT"},
	};
	Datum		arg = ObjectIdGetDatum(relid);
	int			i;
	int			ret;

	for (i = 0; i < lengthof(triggers); i++)
	{
		ret = SPI_execute_with_args(psprintf("SELECT 1 FROM pg_catalog.pg_trigger"
											 " WHERE tgrelid OPERATOR(pg_catalog.=) $1"
											 " AND tgname OPERATOR(pg_catalog.=) '%s'",
											 triggers[i][0]),
									1, (Oid[]) {OIDOID}, &arg, NULL, true, 1);
		if (ret != SPI_OK_SELECT)
			elog(ERROR, "could not read the triggers of \"%s\": %s",
				 qname, SPI_result_code_string(ret));
		if (SPI_processed > 0)
			continue;
		ret = SPI_execute(psprintf("CREATE TRIGGER %s %s EXECUTE FUNCTION %s.events_guard()",
								   triggers[i][0], psprintf(triggers[i][1], qname),
								   fschema), false, 0);
		if (ret != SPI_OK_UTILITY)
			elog(ERROR, "could not create the guard triggers: %s",
				 SPI_result_code_string(ret));
	}
}

/*
 * Warn about INSERT triggers of an adopted source store other than the
 * guard: typically slate's notify_insert, which repeats insert_events' own
 * notification, fails on events too big for NOTIFY, and keeps
 * insert_events off its direct write path.  Within SPI.
 */
static void
warn_insert_triggers(Oid relid, const char *qname, const char *fschema)
{
	Datum		arg = ObjectIdGetDatum(relid);
	char	   *names;
	int			ret;

	ret = SPI_execute_with_args(psprintf("SELECT pg_catalog.string_agg(pg_catalog.quote_ident(tgname), ', '"
										 " ORDER BY tgname) FROM pg_catalog.pg_trigger"
										 " WHERE tgrelid OPERATOR(pg_catalog.=) $1 AND NOT tgisinternal"
										 " AND (tgtype::pg_catalog.int4 OPERATOR(pg_catalog.&) %d)"
										 " OPERATOR(pg_catalog.<>) 0"
										 " AND tgfoid OPERATOR(pg_catalog.<>) '%s.events_guard'::pg_catalog.regproc",
										 TRIGGER_TYPE_INSERT, fschema),
								1, (Oid[]) {OIDOID}, &arg, NULL, true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read the triggers of \"%s\": %s",
			 qname, SPI_result_code_string(ret));
	names = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	if (names != NULL)
		ereport(WARNING,
				(errmsg("event store \"%s\" has INSERT triggers of its own: %s",
						qname, names),
				 errdetail("insert_events runs them for each event while it holds the store's allocator lock, and sends the eventsinsert notifications itself; a trigger that notifies with the whole event, as slate's notify_insert does, makes every event over 8000 bytes fail."),
				 errhint("Drop the triggers that insert_events makes redundant, such as slate's notify_insert.")));
}

/* Add a store to the registry.  Within SPI. */
static void
registry_add(Oid relid, bool is_source, NotifyMode notify)
{
	registry_execute(psprintf("INSERT INTO %s (relid, kind, notify) VALUES ($1, $2, $3)",
							  registry_name),
					 3, (Oid[]) {REGCLASSOID, TEXTOID, TEXTOID},
					 (Datum[]) {ObjectIdGetDatum(relid),
								CStringGetTextDatum(is_source ? "source" : "destination"),
								CStringGetTextDatum(notify_mode_name(notify))});
}

/* "source" (true) or "destination" (false) */
static bool
parse_store_kind(const char *kind)
{
	if (strcmp(kind, "source") == 0)
		return true;
	if (strcmp(kind, "destination") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid event store kind \"%s\"", kind),
				 errhint("The kind must be \"source\" or \"destination\".")));
	return false;
}

static void
check_store_name(const char *name, const char *what)
{
	const unsigned char *p;
	bool		ok = (name[0] != '\0' && !(name[0] >= '0' && name[0] <= '9'));

	for (p = (const unsigned char *) name; ok && *p; p++)
		ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			(*p >= '0' && *p <= '9') || *p == '_' || *p >= 0x80;
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_NAME),
				 errmsg("invalid %s \"%s\"", what, name),
				 errdetail("A name must start with a letter or an underscore and contain only letters, digits and underscores.")));
	if (strlen(name) > MAX_STORE_NAME_LEN && strcmp(what, "table name") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_NAME_TOO_LONG),
				 errmsg("table name \"%s\" is too long", name),
				 errdetail("An events table name can be at most %d bytes long, so that the names of its indexes fit.",
						   MAX_STORE_NAME_LEN)));
}

/* Run SQL as the registry's owner (the extension owner). */
static void
registry_execute(const char *sql, int nargs, Oid *argtypes, Datum *args)
{
	HeapTuple	tp;
	Oid			owner;
	Oid			save_userid;
	int			save_sec;
	int			ret;

	registry_locate();			/* an invalidation may have reset it */
	tp = SearchSysCache1(RELOID, ObjectIdGetDatum(registry_relid));
	if (!HeapTupleIsValid(tp))
		elog(ERROR, "cache lookup failed for relation %u", registry_relid);
	owner = ((Form_pg_class) GETSTRUCT(tp))->relowner;
	ReleaseSysCache(tp);

	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(owner, save_sec | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	ret = SPI_execute_with_args(sql, nargs, argtypes, args, NULL, false, 0);
	SetUserIdAndSecContext(save_userid, save_sec);
	if (ret < 0)
		elog(ERROR, "could not update the event store registry: %s",
			 SPI_result_code_string(ret));
}

Datum
create_event_store(PG_FUNCTION_ARGS)
{
	char	   *kind;
	char	   *schema;
	char	   *table;
	NotifyMode	notify;
	bool		is_source;
	Oid			nspoid;
	Oid			relid;
	const char *qschema;
	const char *qtable;
	char	   *qname;
	StringInfoData sql;
	int			nest;
	int			ret;
	static const char *const index_defs[][2] = {
		{"event_entityname", "(event #>> '{entityName}')"},
		{"event_operation", "(event #>> '{operation}')"},
		{"event_propertyname", "(event #>> '{propertyName}')"},
		{"event_entityid", "(event #>> '{entityId}')"},
		{"event_metadata_command", "(event #>> '{metadata, command}')"},
		{"ts", "ts"},
	};
	int			i;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("event store kind must not be null"),
				 errhint("The kind must be \"source\" or \"destination\".")));
	kind = text_to_cstring(PG_GETARG_TEXT_PP(0));
	is_source = parse_store_kind(kind);
	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("event store table name must not be null")));
	table = NameStr(*PG_GETARG_NAME(2));
	check_store_name(table, "table name");
	notify = PG_ARGISNULL(3) ? NOTIFY_ROW :
		parse_notify_mode(text_to_cstring(PG_GETARG_TEXT_PP(3)));

	if (PG_ARGISNULL(1))
	{
		nspoid = RangeVarGetCreationNamespace(makeRangeVar(NULL, table, -1));
		schema = get_namespace_name(nspoid);
	}
	else
	{
		schema = NameStr(*PG_GETARG_NAME(1));
		check_store_name(schema, "schema name");
		nspoid = LookupExplicitNamespace(schema, false);
	}
	if (sm_namespace_aclcheck(nspoid, GetUserId(), ACL_CREATE) != ACLCHECK_OK)
		aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_SCHEMA, schema);
	if (OidIsValid(get_relname_relid(table, nspoid)))
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_TABLE),
				 errmsg("relation \"%s.%s\" already exists", schema, table),
				 errhint("Choose another schema or table name for the event store.")));

	registry_locate();
	qschema = quote_identifier(schema);
	qtable = quote_identifier(table);
	qname = psprintf("%s.%s", qschema, qtable);

	nest = sm_push_search_path();
	SPI_connect();
	initStringInfo(&sql);
	appendStringInfo(&sql,
					 "CREATE TABLE %s (id bigint NOT NULL, ts timestamptz NOT NULL,"
					 " event jsonb NOT NULL, CONSTRAINT %s PRIMARY KEY (id))",
					 qname, quote_identifier(psprintf("%s_pkey", table)));
	for (i = 0; i < lengthof(index_defs); i++)
		appendStringInfo(&sql, "; CREATE INDEX %s ON %s (%s)",
						 quote_identifier(psprintf("%s_%s", table, index_defs[i][0])),
						 qname, index_defs[i][1]);
	ret = SPI_execute(sql.data, false, 0);
	if (ret < 0)
		elog(ERROR, "could not create event store: %s", SPI_result_code_string(ret));
	relid = get_relname_relid(table, nspoid);
	if (!OidIsValid(relid))
		elog(ERROR, "event store table \"%s\" not found after creation", qname);
	if (is_source)
		create_guard_triggers(relid, qname, sm_function_schema(fcinfo));

	/* forget registrations of tables that were dropped since */
	registry_execute(psprintf("DELETE FROM %s s WHERE NOT EXISTS"
							  " (SELECT FROM pg_catalog.pg_class c"
							  " WHERE c.oid OPERATOR(pg_catalog.=) s.relid)",
							  registry_name), 0, NULL, NULL);
	registry_add(relid, is_source, notify);
	SPI_finish();
	sm_pop_search_path(nest);

	PG_RETURN_OID(relid);
}

/*
 * register_event_store
 *		Make an existing events table (one created by init-slate-db, or a
 *		store left behind by DROP EXTENSION ... CASCADE) a registered store.
 *		A source store must hold exactly the ids 1..N; its guard triggers
 *		are created if they are missing.
 */
Datum
register_event_store(PG_FUNCTION_ARGS)
{
	Oid			relid;
	char	   *kind;
	bool		is_source;
	NotifyMode	notify;
	Relation	rel;
	TupleDesc	desc;
	Oid			pkey;
	AttrNumber	id_att;
	AttrNumber	ts_att;
	AttrNumber	ev_att;
	char	   *qname;
	Datum		arg;
	int			ret;
	int			nest;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("table and event store kind must not be null")));
	relid = PG_GETARG_OID(0);
	kind = text_to_cstring(PG_GETARG_TEXT_PP(1));
	is_source = parse_store_kind(kind);
	notify = PG_ARGISNULL(2) ? NOTIFY_ROW :
		parse_notify_mode(text_to_cstring(PG_GETARG_TEXT_PP(2)));

	/* owner only, checked before locking: anyone could lock it otherwise */
	check_store_owner(relid);
	/* no concurrent writes while we check and register */
	rel = table_open(relid, ShareRowExclusiveLock);
	qname = quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
									   RelationGetRelationName(rel));
	desc = RelationGetDescr(rel);
	id_att = get_attnum(relid, "id");
	ts_att = get_attnum(relid, "ts");
	ev_att = get_attnum(relid, "event");
	pkey = sm_RelationGetPrimaryKeyIndex(rel);
	if (rel->rd_rel->relkind != RELKIND_RELATION ||
		id_att <= 0 || TupleDescAttr(desc, id_att - 1)->atttypid != INT8OID ||
		ts_att <= 0 || TupleDescAttr(desc, ts_att - 1)->atttypid != TIMESTAMPTZOID ||
		ev_att <= 0 || TupleDescAttr(desc, ev_att - 1)->atttypid != JSONBOID ||
		!OidIsValid(pkey))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("table \"%s\" is not an events table", qname),
				 errdetail("An events table has the columns id bigint, ts timestamptz and event jsonb, and a primary key on id.")));
	else
	{
		Relation	idx = index_open(pkey, AccessShareLock);

		if (idx->rd_index->indnkeyatts != 1 ||
			idx->rd_index->indkey.values[0] != id_att)
			ereport(ERROR,
					(errcode(ERRCODE_WRONG_OBJECT_TYPE),
					 errmsg("table \"%s\" is not an events table", qname),
					 errdetail("Its primary key is not the id column.")));
		index_close(idx, AccessShareLock);
	}

	registry_locate();
	nest = sm_push_search_path();
	SPI_connect();
	arg = ObjectIdGetDatum(relid);
	ret = SPI_execute_with_args(psprintf("SELECT kind FROM %s WHERE relid OPERATOR(pg_catalog.=) $1",
										 registry_name),
								1, (Oid[]) {REGCLASSOID}, &arg, NULL, true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read the event store registry: %s", SPI_result_code_string(ret));
	if (SPI_processed > 0)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("table \"%s\" is already an event store", qname)));

	if (is_source)
	{
		bool		isnull;
		int64		n;
		int64		maxid;
		int64		minid;

		ret = SPI_execute(psprintf("SELECT count(*), coalesce(max(id), 0), coalesce(min(id), 1) FROM %s",
								   qname), true, 0);
		if (ret != SPI_OK_SELECT)
			elog(ERROR, "could not count the events: %s", SPI_result_code_string(ret));
		n = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		maxid = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
		minid = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull));
		if (n != maxid || minid != 1)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("table \"%s\" cannot be a source event store: its ids are not 1..N", qname),
					 errdetail("It has " INT64_FORMAT " rows, ids " INT64_FORMAT " to " INT64_FORMAT ".",
							   n, minid, maxid),
					 errhint("Register it as a destination store, or restore it into a new source store.")));

		create_guard_triggers(relid, qname, sm_function_schema(fcinfo));
		warn_insert_triggers(relid, qname, sm_function_schema(fcinfo));
	}

	registry_add(relid, is_source, notify);
	SPI_finish();
	sm_pop_search_path(nest);
	table_close(rel, NoLock);
	PG_RETURN_OID(relid);
}

Datum
set_event_store_notify(PG_FUNCTION_ARGS)
{
	Oid			relid;
	NotifyMode	mode;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("store and notification mode must not be null")));
	relid = PG_GETARG_OID(0);
	mode = parse_notify_mode(text_to_cstring(PG_GETARG_TEXT_PP(1)));
	(void) store_get(relid, false);
	check_store_owner(relid);

	SPI_connect();
	registry_execute(psprintf("UPDATE %s SET notify = $2 WHERE relid OPERATOR(pg_catalog.=) $1",
							  registry_name),
					 2, (Oid[]) {REGCLASSOID, TEXTOID},
					 (Datum[]) {ObjectIdGetDatum(relid),
								CStringGetTextDatum(notify_mode_name(mode))});
	SPI_finish();
	PG_RETURN_VOID();
}
