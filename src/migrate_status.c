/*-------------------------------------------------------------------------
 *
 * migrate_status.c
 *	  Reading and adjusting the history: baseline, current_version,
 *	  migration_status, migration_info and repair.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "schema_mgr.h"
#include "migrate.h"

PG_FUNCTION_INFO_V1(sm_baseline);
PG_FUNCTION_INFO_V1(sm_current_version);
PG_FUNCTION_INFO_V1(sm_migration_status);
PG_FUNCTION_INFO_V1(sm_migration_info);

static void put_status(FunctionCallInfo fcinfo);
PG_FUNCTION_INFO_V1(sm_repair);

/* ----------------------------------------------------------------
 * baseline(component text, version bigint)
 *		returns table (version bigint, description text)
 *
 * Adopt a schema created by other means: mark every registered migration
 * of the component up to version as applied without running it, and
 * record version itself as the baseline even when it is not registered
 * (migrations registered later at or below it are marked as baselined when
 * they are registered).  Only for a component with no history yet.
 * ----------------------------------------------------------------
 */
Datum
sm_baseline(PG_FUNCTION_ARGS)
{
	char	   *component = mig_arg_component(fcinfo, 0);
	int64		version = mig_arg_version(fcinfo, 1, "baseline version");
	ReturnSetInfo *rsinfo;
	MigCall		c;
	Datum		values[8];
	bool		isnull;
	bool		found = false;
	int			i;
	List	   *rows = NIL;
	ListCell   *lc;
	Interval   *zero = palloc0(sizeof(Interval));
	TimestampTz now = GetCurrentTimestamp();

	InitMaterializedSRF(fcinfo, 0);
	rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* as for applying: the check below must see concurrent commits */
	mig_require_writer_transaction("baseline a migration component",
								   "A baseline", "Baseline");

	mig_call_init(&c, fcinfo, false);
	mig_lock_component(&c, component);
	mig_check_component_writer(&c, component);

	mig_enter_internal(&c);
	values[0] = CStringGetTextDatum(component);
	mig_run_plan(&c, P_CURRENT_VERSION, values, NULL);
	(void) SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1,
						 &isnull);
	if (!isnull)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("migration component \"%s\" already has applied migrations",
						component),
				 errdetail("A baseline adopts a schema that was created without schema_mgr."),
				 errhint("Apply its pending migrations instead.")));

	values[1] = Int64GetDatum(version);
	mig_run_plan(&c, P_BASELINE_ROWS, values, NULL);
	for (i = 0; i < (int) SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		Pending    *p = palloc0(sizeof(Pending));

		p->component = component;
		p->version = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
		p->description = mig_datum_text(tup, desc, 2);
		p->checksum = mig_datum_text(tup, desc, 3);
		rows = lappend(rows, p);
	}
	mig_leave_internal(&c);

	foreach(lc, rows)
	{
		Pending    *p = (Pending *) lfirst(lc);
		Datum		v[2];
		bool		n[2] = {false, false};

		mig_record_applied(&c, p, now, zero, "baseline");
		v[0] = Int64GetDatum(p->version);
		v[1] = CStringGetTextDatum(p->description);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, v, n);
		if (p->version == version)
			found = true;
	}
	if (!found)
	{
		Datum		v[2];
		bool		n[2] = {false, false};

		mig_enter_internal(&c);
		values[0] = CStringGetTextDatum(component);
		values[1] = Int64GetDatum(version);
		values[2] = CStringGetTextDatum("<< baseline >>");
		values[3] = TimestampTzGetDatum(now);
		values[5] = CStringGetTextDatum(c.caller);
		values[6] = IntervalPGetDatum(zero);
		values[7] = CStringGetTextDatum("baseline");
		mig_insert_history(&c, values, "    n   ");
		mig_leave_internal(&c);
		v[0] = Int64GetDatum(version);
		v[1] = values[2];
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, v, n);
	}

	SPI_finish();
	return (Datum) 0;
}

/* ----------------------------------------------------------------
 * current_version(component text) returns bigint
 *
 * NULL when nothing of the component is applied, whether or not it has
 * registered migrations: an application can ask before registering.
 * ----------------------------------------------------------------
 */
Datum
sm_current_version(PG_FUNCTION_ARGS)
{
	char	   *component = mig_arg_component(fcinfo, 0);
	MigCall		c;
	Datum		values[1];
	Datum		d;
	bool		isnull;
	int64		result = 0;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	mig_call_init(&c, fcinfo, true);
	mig_enter_internal(&c);
	values[0] = CStringGetTextDatum(component);
	mig_run_plan(&c, P_CURRENT_VERSION, values, NULL);
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1,
					  &isnull);
	if (!isnull)
		result = DatumGetInt64(d);
	mig_leave_internal(&c);
	SPI_finish();

	if (isnull)
		PG_RETURN_NULL();
	PG_RETURN_INT64(result);
}

/* ----------------------------------------------------------------
 * migration_status(component text) returns table
 * migration_info(component text) returns table
 *
 * From 1.1 on, migration_status shows repeatable migrations too (version
 * NULL, their name as description): the first columns of
 * migration_info's rows, which add whether a row is a repeatable migration
 * and whether a version has undo SQL.
 * ----------------------------------------------------------------
 */
static void
put_status(FunctionCallInfo fcinfo)
{
	char	   *component = NULL;
	ReturnSetInfo *rsinfo;
	MigCall		c;
	Datum		values[1];
	char		nulls[1] = {' '};
	List	   *notx;

	if (!PG_ARGISNULL(0))
		component = mig_arg_component(fcinfo, 0);

	InitMaterializedSRF(fcinfo, 0);
	rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	mig_call_init(&c, fcinfo, true);
	mig_enter_internal(&c);
	mig_component_param(&c, component, &values[0], &nulls[0]);
	notx = mig_notx_states(&c, values[0], nulls[0]);
	mig_run_plan(&c, c.owners ? P_INFO : P_STATUS, values, nulls);
	mig_put_status_rows(rsinfo, notx);
	mig_leave_internal(&c);
	SPI_finish();
}

Datum
sm_migration_status(PG_FUNCTION_ARGS)
{
	put_status(fcinfo);
	return (Datum) 0;
}

Datum
sm_migration_info(PG_FUNCTION_ARGS)
{
	put_status(fcinfo);
	return (Datum) 0;
}

/* ----------------------------------------------------------------
 * repair(component text) returns table (component, version, action)
 *
 * Realign the registry with the history (Flyway's repair), for edits that
 * bypassed the history's triggers: a registry row marked applied without a
 * history row becomes pending again ('pending again'), and a history row
 * of the registered SQL marks its registry row applied ('marked applied').
 * The history itself is never changed.  Components are locked as for
 * applying, in name order.
 * ----------------------------------------------------------------
 */
Datum
sm_repair(PG_FUNCTION_ARGS)
{
	char	   *component = NULL;
	ReturnSetInfo *rsinfo;
	MigCall		c;
	Datum		values[1];
	char		nulls[1] = {' '};
	int			n = 0;

	if (!PG_ARGISNULL(0))
		component = mig_arg_component(fcinfo, 0);
	InitMaterializedSRF(fcinfo, 0);
	rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	mig_require_writer_transaction("repair the migration registry",
								   "A repair", "Repair");
	mig_call_init(&c, fcinfo, false);

	mig_enter_internal(&c);
	mig_component_param(&c, component, &values[0], &nulls[0]);
	mig_run_plan(&c, P_REPAIR_COMPONENTS, values, nulls);
	values[0] = mig_lock_listed_components(&c, &n);
	if (n == 0)
	{
		SPI_finish();
		ereport(NOTICE,
				(errmsg("the migration registry agrees with the history, nothing to repair")));
		return (Datum) 0;
	}
	mig_enter_internal(&c);
	mig_run_plan(&c, P_REPAIR, values, NULL);
	mig_put_rows(rsinfo);
	mig_leave_internal(&c);
	SPI_finish();
	return (Datum) 0;
}
