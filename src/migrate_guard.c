/*-------------------------------------------------------------------------
 *
 * migrate_guard.c
 *	  The event trigger that keeps the migration history from being dropped
 *	  by accident.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_namespace.h"
#include "commands/event_trigger.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "nodes/parsenodes.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "schema_mgr.h"
#include "migrate.h"

PG_FUNCTION_INFO_V1(sm_guard_drop);

static Oid
schema_owner(Oid nspoid)
{
	HeapTuple	tup = SearchSysCache1(NAMESPACEOID, ObjectIdGetDatum(nspoid));
	Oid			owner;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for schema %u", nspoid);
	owner = ((Form_pg_namespace) GETSTRUCT(tup))->nspowner;
	ReleaseSysCache(tup);
	return owner;
}

/* ----------------------------------------------------------------
 * guard_drop() returns event_trigger
 *
 * On ddl_command_start of DROP EXTENSION, DROP SCHEMA and DROP OWNED:
 * refuse to drop schema_mgr while the migration history has rows, unless
 * schema_mgr.allow_drop is on.  The history is user data: losing it makes
 * every migration pending again.  These are the only commands that can drop
 * the extension (it depends on nothing but its schema); it goes with
 *	- DROP EXTENSION schema_mgr,
 *	- DROP SCHEMA of its schema (CASCADE), by whichever role owns the schema,
 *	- DROP OWNED BY its owner, or by the owner of its schema (CASCADE).
 * The event trigger is enabled ALWAYS, so it fires with
 * session_replication_role = replica too.
 * ----------------------------------------------------------------
 */
Datum
sm_guard_drop(PG_FUNCTION_ARGS)
{
	EventTriggerData *trigdata;
	Node	   *parsetree;
	ListCell   *lc;
	bool		hit = false;
	MigCall		c;
	int64		rows;
	bool		isnull;
	Oid			nspoid;

	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		elog(ERROR, "not fired by event trigger manager");
	trigdata = (EventTriggerData *) fcinfo->context;
	parsetree = trigdata->parsetree;
	if (mig_allow_drop ||
		!OidIsValid(get_extension_oid("schema_mgr", true)))
		PG_RETURN_VOID();

	c.schema = sm_function_schema(fcinfo);
	c.owner = sm_extension_owner();
	nspoid = get_func_namespace(fcinfo->flinfo->fn_oid);
	if (IsA(parsetree, DropStmt))
	{
		DropStmt   *stmt = (DropStmt *) parsetree;

		if (stmt->removeType != OBJECT_EXTENSION &&
			stmt->removeType != OBJECT_SCHEMA)
			PG_RETURN_VOID();
		foreach(lc, stmt->objects)
		{
			Node	   *obj = (Node *) lfirst(lc);

			if (!IsA(obj, String))
				continue;
			if (stmt->removeType == OBJECT_EXTENSION
				? strcmp(strVal(obj), "schema_mgr") == 0
				: get_namespace_oid(strVal(obj), true) == nspoid)
				hit = true;
		}
	}
	else if (IsA(parsetree, DropOwnedStmt))
	{
		/*
		 * DROP OWNED BY the extension's owner drops the extension, and DROP
		 * OWNED BY the owner of its schema drops the schema and, with
		 * CASCADE, the extension in it.
		 */
		foreach(lc, ((DropOwnedStmt *) parsetree)->roles)
		{
			Oid			role = get_rolespec_oid(lfirst_node(RoleSpec, lc), true);

			if (OidIsValid(role) &&
				(role == c.owner || role == schema_owner(nspoid)))
				hit = true;
		}
	}
	if (!hit)
		PG_RETURN_VOID();

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	c.caller = NULL;
	c.read_only = true;
	mig_enter_internal(&c);
	/* from 1.1 on, the history log counts too */
	mig_run_plan(&c, OidIsValid(get_relname_relid("migration_history", nspoid))
				 ? P_HISTORY_ROWS_LOGGED : P_HISTORY_ROWS, NULL, NULL);
	rows = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
									   SPI_tuptable->tupdesc, 1, &isnull));
	mig_leave_internal(&c);
	SPI_finish();

	if (rows > 0)
		ereport(ERROR,
				(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
				 errmsg_plural("cannot drop extension schema_mgr while its migration history has " INT64_FORMAT " row",
							   "cannot drop extension schema_mgr while its migration history has " INT64_FORMAT " rows",
							   rows, rows),
				 errdetail("Dropping the extension would drop schema_version and the migration registry with it."),
				 errhint("Keep a copy first (pg_dump keeps both tables), then SET schema_mgr.allow_drop = on and drop again.")));
	PG_RETURN_VOID();
}
