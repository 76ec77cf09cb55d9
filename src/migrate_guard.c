/*-------------------------------------------------------------------------
 *
 * migrate_guard.c
 *	  The event trigger that keeps the migration history from being dropped
 *	  by accident.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/event_trigger.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "nodes/parsenodes.h"
#include "utils/acl.h"
#include "utils/builtins.h"

#include "schema_mgr.h"
#include "migrate.h"

PG_FUNCTION_INFO_V1(sm_guard_drop);

/* ----------------------------------------------------------------
 * guard_drop() returns event_trigger
 *
 * On ddl_command_start of DROP EXTENSION, DROP SCHEMA and DROP OWNED:
 * refuse to drop schema_mgr (directly, with its schema, or with everything
 * its owner owns) while the migration history has rows, unless
 * schema_mgr.allow_drop is on.  The history is user data:
 * losing it makes every migration pending again.
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

	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		elog(ERROR, "not fired by event trigger manager");
	trigdata = (EventTriggerData *) fcinfo->context;
	parsetree = trigdata->parsetree;
	if (mig_allow_drop ||
		!OidIsValid(get_extension_oid("schema_mgr", true)))
		PG_RETURN_VOID();

	c.schema = sm_function_schema(fcinfo);
	c.owner = sm_extension_owner();
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
				: strcmp(quote_identifier(strVal(obj)), c.schema) == 0)
				hit = true;
		}
	}
	else if (IsA(parsetree, DropOwnedStmt))
	{
		/* DROP OWNED BY the extension's owner drops the extension too */
		foreach(lc, ((DropOwnedStmt *) parsetree)->roles)
			if (get_rolespec_oid(lfirst_node(RoleSpec, lc), true) == c.owner)
				hit = true;
	}
	if (!hit)
		PG_RETURN_VOID();

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	c.caller = NULL;
	c.read_only = true;
	mig_enter_internal(&c);
	mig_run_plan(&c, P_HISTORY_ROWS, NULL, NULL);
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
