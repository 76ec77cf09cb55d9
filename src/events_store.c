/*-------------------------------------------------------------------------
 *
 * events_store.c
 *	  The registry of event stores: the one definition of an events table,
 *	  the backend-local cache of registered stores and its invalidation,
 *	  the registry's reads and writes, and the sql_drop clean-up.
 *
 * The registry is the extension's event_store table; it is written on the
 * caller's behalf as its owner (the extension owner).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/dependency.h"
#include "catalog/index.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "commands/event_trigger.h"
#include "commands/extension.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/varlena.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "schema_mgr.h"
#include "events.h"

static HTAB *store_hash = NULL;
static MemoryContext store_cxt = NULL;
static Oid	registry_relid = InvalidOid;	/* the event_store table */
static char *registry_name = NULL;	/* quoted schema.event_store */
static Oid	default_source = InvalidOid;	/* the only source store */
static Oid	default_any = InvalidOid;	/* the only store */
static uint64 inval_count = 0;	/* relcache invalidations seen */
/* every registered relid, for the sql_drop trigger */
static Oid *registered_relids = NULL;
static int	registered_count = 0;
static bool registered_valid = false;

PG_FUNCTION_INFO_V1(event_store_changed);
PG_FUNCTION_INFO_V1(event_store_sql_drop);

static void events_relcache_callback(Datum arg, Oid relid);
static void events_xact_callback(XactEvent event, void *arg);

void
events_init(void)
{
	CacheRegisterRelcacheCallback(events_relcache_callback, (Datum) 0);
	RegisterXactCallback(events_xact_callback, NULL);
	events_guard_init();
	events_commit_init();
	events_trace_init();
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
			events_append_xact_end();
			events_guard_xact_end();
			break;
		default:
			break;
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
	registered_valid = false;
}

/* ----------------------------------------------------------------
 * The registry
 * ----------------------------------------------------------------
 */

/* Find the registry table (and remember it for invalidations). */
static bool
registry_locate(bool missing_ok)
{
	Oid			nspoid;

	if (OidIsValid(registry_relid))
		return true;
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
	/* catalog lookups only: no privilege on the schema is needed */
	nspoid = sm_extension_namespace();
	if (OidIsValid(nspoid))
		registry_relid = get_relname_relid("event_store", nspoid);
	if (!OidIsValid(registry_relid))
	{
		if (missing_ok)
			return false;
		elog(ERROR, "could not find the event store registry of schema_mgr");
	}
	if (registry_name)
		pfree(registry_name);
	registry_name = MemoryContextStrdup(store_cxt,
										quote_qualified_identifier(get_namespace_name(nspoid),
																   "event_store"));
	return true;
}

/* A row of the registry */
typedef struct RegistryRow
{
	Oid			relid;
	bool		is_source;
	NotifyMode	notify;
	bool		grouped;		/* commit_mode 'grouped' */
} RegistryRow;

/*
 * Read the registry: every row, or (relid valid) the row of relid.  Returns
 * the number of rows, in *rows_out.  A scan under a fresh catalog snapshot,
 * without SPI: the registry is a handful of rows, and its changes reach
 * the cache through invalidation, not through the caller's snapshot (so a
 * SERIALIZABLE caller takes no predicate lock on it, and an error here
 * never shows an internal query).
 */
static int
registry_read(Oid relid, RegistryRow **rows_out)
{
	Relation	rel;
	SysScanDesc scan;
	HeapTuple	tuple;
	int			n = 0;
	int			size = 8;
	RegistryRow *rows = palloc(sizeof(RegistryRow) * size);

	(void) registry_locate(false);
	rel = table_open(registry_relid, AccessShareLock);
	scan = systable_beginscan(rel, InvalidOid, false, NULL, 0, NULL);
	while ((tuple = systable_getnext(scan)) != NULL)
	{
		TupleDesc	desc = RelationGetDescr(rel);
		bool		isnull;
		Datum		d = heap_getattr(tuple, 1, desc, &isnull);

		if (isnull || (OidIsValid(relid) && DatumGetObjectId(d) != relid))
			continue;
		if (n == size)
		{
			size *= 2;
			rows = repalloc(rows, sizeof(RegistryRow) * size);
		}
		rows[n].relid = DatumGetObjectId(d);
		d = heap_getattr(tuple, 2, desc, &isnull);
		rows[n].is_source = !isnull && strcmp(TextDatumGetCString(d), "source") == 0;
		d = heap_getattr(tuple, 3, desc, &isnull);
		rows[n].notify = isnull ? NOTIFY_ROW : parse_notify_mode(TextDatumGetCString(d));
		rows[n].grouped = registry_commit_grouped(tuple, desc);
		n++;
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	*rows_out = rows;
	return n;
}

/*
 * Has a registered store's table gone?  Reads the registry (tiny) once
 * after each change of it, then costs one syscache probe per store.
 */
static bool
registry_lost_a_table(void)
{
	int			i;

	if (!registry_locate(true))
		return false;
	if (!registered_valid)
	{
		RegistryRow *rows;
		int			n = registry_read(InvalidOid, &rows);
		Oid		   *relids = MemoryContextAlloc(store_cxt, sizeof(Oid) * Max(n, 1));

		for (i = 0; i < n; i++)
			relids[i] = rows[i].relid;
		pfree(rows);
		if (registered_relids)
			pfree(registered_relids);
		registered_relids = relids;
		registered_count = n;
		registered_valid = true;
	}
	for (i = 0; i < registered_count; i++)
		if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(registered_relids[i])))
			return true;
	return false;
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

/* The schema of the extension (and of its registry). */
Oid
events_extension_namespace(void)
{
	(void) registry_locate(false);
	return get_rel_namespace(registry_relid);
}

/*
 * check_events_table
 *		The one definition of an events table, which every store is: a plain
 *		table, not temporary, with the columns id bigint, ts timestamptz and
 *		event jsonb, and a primary key on id alone.  Errors otherwise: qname
 *		given, the table is being registered; NULL, it is a registered store
 *		whose table was altered since.  entry, if given, receives the
 *		attribute numbers and the primary key.
 */
void
check_events_table(Relation rel, const char *qname, StoreEntry *entry)
{
	TupleDesc	desc = RelationGetDescr(rel);
	Oid			relid = RelationGetRelid(rel);
	AttrNumber	id_att = get_attnum(relid, "id");
	AttrNumber	ts_att = get_attnum(relid, "ts");
	AttrNumber	ev_att = get_attnum(relid, "event");
	Oid			pkey = sm_RelationGetPrimaryKeyIndex(rel);
	const char *detail = NULL;

	if (rel->rd_rel->relkind != RELKIND_RELATION)
		detail = "An events table is a plain table.";
	else if (rel->rd_rel->relpersistence == RELPERSISTENCE_TEMP)
		detail = TEMP_STORE_DETAIL;
	else if (id_att <= 0 || TupleDescAttr(desc, id_att - 1)->atttypid != INT8OID ||
			 ts_att <= 0 || TupleDescAttr(desc, ts_att - 1)->atttypid != TIMESTAMPTZOID ||
			 ev_att <= 0 || TupleDescAttr(desc, ev_att - 1)->atttypid != JSONBOID ||
			 !OidIsValid(pkey))
		detail = "An events table has the columns id bigint, ts timestamptz and event jsonb, and a primary key on id.";
	else
	{
		Relation	idx = index_open(pkey, AccessShareLock);

		if (idx->rd_index->indnkeyatts != 1 ||
			idx->rd_index->indkey.values[0] != id_att)
			detail = "Its primary key is not the id column.";
		index_close(idx, AccessShareLock);
	}
	if (rel->rd_rel->relpersistence == RELPERSISTENCE_TEMP && qname != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot make a temporary table an event store"),
				 errdetail_internal("%s", detail)));
	if (detail != NULL && qname != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("table \"%s\" is not an events table", qname),
				 errdetail_internal("%s", detail)));
	if (detail != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("event store \"%s\" is no longer an events table",
						quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
												   RelationGetRelationName(rel))),
				 errdetail_internal("%s", detail)));
	if (entry != NULL)
	{
		entry->pkey_oid = pkey;
		entry->id_attnum = id_att;
		entry->ts_attnum = ts_att;
		entry->event_attnum = ev_att;
	}
}

/*
 * Fill in (or refresh) the cache entry of a registered store.  Errors when
 * relid is not a store.
 */
StoreEntry *
store_get(Oid relid, bool want_source)
{
	StoreEntry *entry;
	bool		found;
	Relation	rel;
	RegistryRow *row;
	MemoryContext oldcxt;

	(void) registry_locate(false);

	if (!OidIsValid(relid))
	{
		Oid		   *cached = want_source ? &default_source : &default_any;

		if (!OidIsValid(*cached))
		{
			RegistryRow *rows;
			int			nrows = registry_read(InvalidOid, &rows);
			int			n = 0;
			int			i;

			for (i = 0; i < nrows; i++)
			{
				if ((want_source && !rows[i].is_source) ||
					!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(rows[i].relid)))
					continue;
				if (n++ == 0)
					*cached = rows[i].relid;
			}
			pfree(rows);
			if (n != 1)
				*cached = InvalidOid;
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
						 errhint("Name the store with the store argument, as in store => 'myschema.events'.")));
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

		if (registry_read(relid, &row) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_WRONG_OBJECT_TYPE),
					 errmsg("relation \"%s\" is not an event store",
							RelationGetRelationName(rel)),
					 errhint("Create event stores with create_event_store().")));
		entry->is_source = row->is_source;
		entry->notify = row->notify;
		entry->grouped = row->grouped;
		pfree(row);

		check_events_table(rel, NULL, entry);

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
 *		stores that exist.  It fires for every DROP in the database, by any
 *		role: it must never fail for a statement that has nothing to do with
 *		event stores, nor cost it anything.  So it needs no privilege (the
 *		lookups are catalog lookups, the DELETE runs as the registry's
 *		owner), and it writes (and makes every backend reread the registry)
 *		only when a registered table is really gone.
 */
Datum
event_store_sql_drop(PG_FUNCTION_ARGS)
{
	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		elog(ERROR, "event_store_sql_drop: not called by event trigger manager");
	if (!registry_lost_a_table())
		PG_RETURN_NULL();
	SPI_connect();
	registry_forget_dropped();
	drop_orphaned_id_views();
	SPI_finish();
	PG_RETURN_NULL();
}

/* ----------------------------------------------------------------
 * Writing the registry
 * ----------------------------------------------------------------
 */

/* Only the owner of a table may register it or change its registration. */
void
check_store_owner(Oid relid)
{
	if (!sm_class_ownercheck(relid, GetUserId()))
		aclcheck_error(ACLCHECK_NOT_OWNER, OBJECT_TABLE, get_rel_name(relid));
}

/*
 * Forget the registrations of tables that were dropped (by a DROP the
 * sql_drop trigger did not see, such as the end of a session).  Within SPI.
 */
void
registry_forget_dropped(void)
{
	(void) registry_locate(false);	/* registry_name */
	registry_execute(psprintf("DELETE FROM %s s WHERE NOT EXISTS"
							  " (SELECT FROM pg_catalog.pg_class c"
							  " WHERE c.oid OPERATOR(pg_catalog.=) s.relid)",
							  registry_name), 0, NULL, NULL);
}



/* Add a store to the registry.  Within SPI. */
void
registry_add(Oid relid, bool is_source, NotifyMode notify)
{
	(void) registry_locate(false);	/* registry_name */
	registry_execute(psprintf("INSERT INTO %s (relid, kind, notify) VALUES ($1, $2, $3)",
							  registry_name),
					 3, (Oid[]) {REGCLASSOID, TEXTOID, TEXTOID},
					 (Datum[]) {ObjectIdGetDatum(relid),
								CStringGetTextDatum(is_source ? "source" : "destination"),
								CStringGetTextDatum(notify_mode_name(notify))});
}



/* Run SQL as the registry's owner (the extension owner). */
void
registry_execute(const char *sql, int nargs, Oid *argtypes, Datum *args)
{
	HeapTuple	tp;
	Oid			owner;
	Oid			save_userid;
	int			save_sec;
	int			ret;

	(void) registry_locate(false);			/* an invalidation may have reset it */
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

/* Is relid registered?  (A registration of a dropped table does not count
 * once registry_forget_dropped has run.) */
bool
registry_has(Oid relid)
{
	RegistryRow *row;
	bool		found = registry_read(relid, &row) > 0;

	pfree(row);
	return found;
}

/* Change a store's notification mode.  Within SPI. */
void
registry_set_notify(Oid relid, NotifyMode mode)
{
	registry_set(relid, "notify", notify_mode_name(mode));
}

/*
 * Set a text column of relid's registry row (a column name the callers
 * spell, never user input).  Within SPI.
 */
void
registry_set(Oid relid, const char *column, const char *value)
{
	(void) registry_locate(false);	/* registry_name */
	registry_execute(psprintf("UPDATE %s SET %s = $2 WHERE relid OPERATOR(pg_catalog.=) $1",
							  registry_name, quote_identifier(column)),
					 2, (Oid[]) {REGCLASSOID, TEXTOID},
					 (Datum[]) {ObjectIdGetDatum(relid), CStringGetTextDatum(value)});
}
