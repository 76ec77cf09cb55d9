/*-------------------------------------------------------------------------
 *
 * events_create.c
 *	  Making event stores: create_event_store, register_event_store (adopt
 *	  an existing events table), set_event_store_notify, and the view "id"
 *	  slate's tools look for beside a source store.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/table.h"
#include "catalog/dependency.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/varlena.h"

#include "schema_mgr.h"
#include "events.h"

PG_FUNCTION_INFO_V1(create_event_store);
PG_FUNCTION_INFO_V1(register_event_store);
PG_FUNCTION_INFO_V1(set_event_store_notify);
PG_FUNCTION_INFO_V1(event_store_next_id);

/*
 * Slate keeps its next id in a table "id" beside "events", and slate's
 * tools check that it is there (the replicator will not start from a
 * database without public.id).  schema_mgr has no counter row; a source
 * store named events gets, when its schema has no "id" yet, a view "id"
 * showing the next id insert_events would assign.  The view names the
 * table in a string (event_store_next_id('schema.events')), so it does not
 * hold the table back from DROP TABLE; an automatic dependency drops it
 * along with the table instead.  Within SPI, under a safe search_path.
 */
static void
create_slate_id_view(Oid relid, const char *fschema)
{
	Oid			nspoid = get_rel_namespace(relid);
	const char *qschema;
	Oid			viewoid;
	ObjectAddress view;
	ObjectAddress table;
	int			ret;

	if (strcmp(get_rel_name(relid), "events") != 0 ||
		OidIsValid(get_relname_relid("id", nspoid)))
		return;
	qschema = quote_identifier(get_namespace_name(nspoid));
	ret = SPI_execute(psprintf("CREATE VIEW %s.id AS SELECT %s.event_store_next_id(%s) AS id;"
							   " COMMENT ON VIEW %s.id IS"
							   " 'the next id insert_events assigns in %s.events (slate''s id table)'",
							   qschema, fschema,
							   quote_literal_cstr(psprintf("%s.events", qschema)),
							   qschema, qschema),
					  false, 0);
	if (ret != SPI_OK_UTILITY)
		elog(ERROR, "could not create the view id: %s", SPI_result_code_string(ret));
	viewoid = get_relname_relid("id", nspoid);
	ObjectAddressSet(view, RelationRelationId, viewoid);
	ObjectAddressSet(table, RelationRelationId, relid);
	recordDependencyOn(&view, &table, DEPENDENCY_AUTO);
}

/*
 * drop_orphaned_id_views
 *		The sql_drop trigger, once a store was dropped: drop the views "id"
 *		that create_slate_id_view made for the tables named events that
 *		this statement dropped.  Their automatic dependency on the table
 *		does that, but pg_dump does not keep it: in a restored database
 *		the view would outlive its table.  Dropped as the view's owner, as
 *		the dependency would have, and only a view whose definition calls
 *		event_store_next_id for exactly that table.  Within SPI.
 */
void
drop_orphaned_id_views(void)
{
	uint64		i;
	int			ret;

	ret = SPI_execute_with_args("SELECT c.relowner,"
								" pg_catalog.format('DROP VIEW %I.%I', n.nspname, c.relname)"
								" FROM pg_catalog.pg_event_trigger_dropped_objects() o"
								" JOIN pg_catalog.pg_namespace n"
								" ON n.nspname OPERATOR(pg_catalog.=) o.schema_name"
								" JOIN pg_catalog.pg_class c"
								" ON c.relnamespace OPERATOR(pg_catalog.=) n.oid"
								" WHERE o.object_type OPERATOR(pg_catalog.=) 'table'"
								" AND o.object_name OPERATOR(pg_catalog.=) 'events'"
								" AND c.relname OPERATOR(pg_catalog.=) 'id'"
								" AND c.relkind OPERATOR(pg_catalog.=) 'v'"
								" AND EXISTS (SELECT FROM pg_catalog.pg_rewrite r"
								"  JOIN pg_catalog.pg_depend d"
								"  ON d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_rewrite'::pg_catalog.regclass"
								"  AND d.objid OPERATOR(pg_catalog.=) r.oid"
								"  JOIN pg_catalog.pg_proc p"
								"  ON d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass"
								"  AND d.refobjid OPERATOR(pg_catalog.=) p.oid"
								"  WHERE r.ev_class OPERATOR(pg_catalog.=) c.oid"
								"  AND p.proname OPERATOR(pg_catalog.=) 'event_store_next_id'"
								"  AND p.pronamespace OPERATOR(pg_catalog.=) $1)"
								" AND pg_catalog.strpos(pg_catalog.pg_get_viewdef(c.oid),"
								" pg_catalog.format('event_store_next_id(%L::text) AS id',"
								" pg_catalog.quote_ident(n.nspname) OPERATOR(pg_catalog.||) '.events'))"
								" OPERATOR(pg_catalog.>) 0",
								1, (Oid[]) {OIDOID},
								(Datum[]) {ObjectIdGetDatum(events_extension_namespace())},
								NULL, false, 0);	/* a fresh snapshot: without what was dropped */
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not look for the views id of dropped stores: %s",
			 SPI_result_code_string(ret));
	if (SPI_processed == 0)
		return;
	{
		SPITupleTable *found = SPI_tuptable;
		uint64		nfound = SPI_processed;

		for (i = 0; i < nfound; i++)
		{
			bool		isnull;
			Oid			owner = DatumGetObjectId(SPI_getbinval(found->vals[i],
															   found->tupdesc,
															   1, &isnull));
			char	   *drop = SPI_getvalue(found->vals[i], found->tupdesc, 2);
			Oid			save_userid;
			int			save_sec;

			GetUserIdAndSecContext(&save_userid, &save_sec);
			SetUserIdAndSecContext(owner, save_sec | SECURITY_LOCAL_USERID_CHANGE |
								   SECURITY_RESTRICTED_OPERATION);
			ret = SPI_execute(drop, false, 0);
			SetUserIdAndSecContext(save_userid, save_sec);
			if (ret != SPI_OK_UTILITY)
				elog(ERROR, "could not drop the view id of a dropped store: %s",
					 SPI_result_code_string(ret));
		}
	}
}

/*
 * event_store_next_id(store text)
 *		The next id insert_events would assign in the store named, as far as
 *		this snapshot can tell; NULL when there is no such table.  The
 *		function of the view "id" (see create_slate_id_view).  Needs SELECT
 *		on the table.
 */
Datum
event_store_next_id(PG_FUNCTION_ARGS)
{
	List	   *names = textToQualifiedNameList(PG_GETARG_TEXT_PP(0));
	Oid			relid = RangeVarGetRelid(makeRangeVarFromNameList(names),
										 AccessShareLock, true);
	bool		isnull;
	Datum		next;
	int			ret;

	if (!OidIsValid(relid))
		PG_RETURN_NULL();
	if (pg_class_aclcheck(relid, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
		aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_TABLE, get_rel_name(relid));
	SPI_connect();
	ret = SPI_execute(psprintf("SELECT COALESCE(pg_catalog.max(id), 0)"
							   " OPERATOR(pg_catalog.+) 1 FROM %s",
							   quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
														  get_rel_name(relid))),
					  true, 1);
	if (ret != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not read the last id: %s", SPI_result_code_string(ret));
	next = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	SPI_finish();
	PG_RETURN_DATUM(next);
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
				 errdetail("A source store is written by insert_events; a destination store by restore and sync."),
				 errhint("The kind must be \"source\" or \"destination\".")));
	kind = text_to_cstring(PG_GETARG_TEXT_PP(0));
	is_source = parse_store_kind(kind);
	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("event store table name must not be null"),
				 errdetail("create_event_store names the table it creates by this argument."),
				 errhint("Leave it out for a table named \"events\".")));
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
	if (isAnyTempNamespace(nspoid))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot create an event store in a temporary schema"),
				 errdetail("%s", TEMP_STORE_DETAIL)));
	if (sm_namespace_aclcheck(nspoid, GetUserId(), ACL_CREATE) != ACLCHECK_OK)
		aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_SCHEMA, schema);
	if (OidIsValid(get_relname_relid(table, nspoid)))
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_TABLE),
				 errmsg("relation \"%s.%s\" already exists", schema, table),
				 errhint("Choose another schema or table name for the event store.")));

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
	if (is_source && create_guard_triggers(relid, qname, sm_function_schema(fcinfo)))
		create_slate_id_view(relid, sm_function_schema(fcinfo));

	registry_forget_dropped();
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
	char	   *qname;
	int			ret;
	int			nest;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("table and event store kind must not be null"),
				 errdetail("register_event_store takes an existing table and the kind of store it is to be."),
				 errhint("The kind must be \"source\" or \"destination\".")));
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
	check_events_table(rel, qname, NULL);
	/* keep the lock; ALTER TABLE below wants the table closed */
	table_close(rel, NoLock);

	nest = sm_push_search_path();
	SPI_connect();
	registry_forget_dropped();
	if (registry_has(relid))
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

		if (create_guard_triggers(relid, qname, sm_function_schema(fcinfo)))
			create_slate_id_view(relid, sm_function_schema(fcinfo));
		warn_insert_triggers(relid, qname, sm_function_schema(fcinfo));
	}

	registry_add(relid, is_source, notify);
	SPI_finish();
	sm_pop_search_path(nest);
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
				 errmsg("store and notification mode must not be null"),
				 errdetail("set_event_store_notify takes a registered store and a notification mode."),
				 errhint("The notification mode must be \"row\", \"statement\" or \"none\".")));
	relid = PG_GETARG_OID(0);
	mode = parse_notify_mode(text_to_cstring(PG_GETARG_TEXT_PP(1)));
	(void) store_get(relid, false);
	check_store_owner(relid);

	SPI_connect();
	registry_set_notify(relid, mode);
	SPI_finish();
	PG_RETURN_VOID();
}
