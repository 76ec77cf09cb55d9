/*-------------------------------------------------------------------------
 *
 * migrate_revert.c
 *	  revert_migrations: take applied versions back with their undo SQL.
 *
 * revert_migrations(component, to_version) runs the undo SQL of every
 * applied version of the component above to_version, the last applied
 * first (the highest version first, unless versions were applied out of
 * order), in the caller's transaction under the component's lock (the
 * lock applying takes, so a concurrent apply and revert run one after the
 * other).  Only roles that may write into the component may revert it
 * (migrate_owner.c).  It refuses before running anything when one of those
 * versions has no undo SQL, was baselined (nothing of it ran, so no undo
 * can take it back), is no longer registered or was changed since it was
 * applied, or when no role with the caller's privileges vouches for its
 * undo SQL.  Each undo runs as a migration does (migrate_apply.c): checked
 * when it is registered and again here, statement by statement as the
 * caller in a subtransaction at its own GUC nest level, leaving no
 * temporary object.
 * A reverted version's row leaves schema_version (whose trigger makes its
 * registry row pending again, so the next apply_migrations() applies it
 * again) and a "revert" row is added to the history log.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "schema_mgr.h"
#include "migrate.h"

PG_FUNCTION_INFO_V1(sm_revert_migrations);

static List *versions_to_revert(MigCall *c, const char *component,
								int64 to_version);
static void check_revertible(Pending *p, bool registered, bool baselined,
							 const char *applied_checksum,
							 const char *registered_checksum,
							 int64 to_version);

/*
 * mig_record_revert
 *		Take a reverted version out of schema_version (its registry row is
 *		pending again) and log the revert, with the undo's checksum.
 */
void
mig_record_revert(MigCall *c, Pending *p, TimestampTz start,
				  Interval *duration)
{
	Datum		values[2];

	mig_enter_internal(c);
	values[0] = CStringGetTextDatum(p->component);
	values[1] = Int64GetDatum(p->version);
	mig_run_plan(c, P_FORGET, values, NULL);
	mig_log_history(c, p, "revert", start, duration);
	mig_leave_internal(c);
}

/*
 * check_revertible
 *		Refuse a version that no undo can take back.
 */
static void
check_revertible(Pending *p, bool registered, bool baselined,
				 const char *applied_checksum,
				 const char *registered_checksum, int64 to_version)
{
	const char *component = p->component;

	if (baselined)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot revert migration \"%s\" version " INT64_FORMAT ": it was baselined",
						component, p->version),
				 errdetail("A baselined version was marked as applied without running, so no undo SQL can take it back."),
				 errhint("Revert to version " INT64_FORMAT " or above.",
						 p->version)));
	if (!registered)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot revert migration \"%s\" version " INT64_FORMAT ": it is no longer registered",
						component, p->version),
				 errdetail("Its undo SQL would be registered with it."),
				 errhint("Register the migration again with its undo SQL.")));
	if (applied_checksum != NULL &&
		strcmp(applied_checksum, registered_checksum) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot revert migration \"%s\" version " INT64_FORMAT ": it has changed since it was applied",
						component, p->version),
				 errdetail("It was applied with checksum %s; the registered SQL now has checksum %s, and its undo SQL may be written for that.",
						   applied_checksum, registered_checksum),
				 errhint("Restore the original SQL of this migration.")));
	if (p->checksum == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot revert migration \"%s\" to version " INT64_FORMAT ": version " INT64_FORMAT " has no undo SQL",
						component, to_version, p->version),
				 errdetail("Reverting runs the undo SQL of every applied version above " INT64_FORMAT ", the last applied first, and nothing runs unless all of them have one.",
						   to_version),
				 errhint("Register its undo SQL with register_migration(..., undo => ...), or revert to version " INT64_FORMAT " or above.",
						 p->version)));
}

/*
 * versions_to_revert
 *		The applied versions above to_version, last applied first, each
 *		checked; read under the component's lock, inside
 *		mig_enter_internal().
 *		p->checksum is the undo's checksum.
 */
static List *
versions_to_revert(MigCall *c, const char *component, int64 to_version)
{
	Datum		values[2];
	List	   *rows = NIL;
	uint64		i;

	values[0] = CStringGetTextDatum(component);
	values[1] = Int64GetDatum(to_version);
	mig_run_plan(c, P_REVERT_ROWS, values, NULL);
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		Pending    *p = palloc0(sizeof(Pending));
		bool		isnull;
		bool		registered;
		char	   *kind;
		char	   *applied_checksum;
		char	   *registered_checksum;
		Datum		d;

		p->kind = MIG_RUN_UNDO;
		p->component = pstrdup(component);
		p->version = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
		p->subject = mig_subject(MIG_RUN_UNDO, component, p->version, NULL);
		p->description = mig_datum_text(tup, desc, 2);
		kind = mig_datum_text(tup, desc, 3);
		applied_checksum = mig_datum_text(tup, desc, 4);
		registered = DatumGetBool(SPI_getbinval(tup, desc, 5, &isnull));
		registered_checksum = mig_datum_text(tup, desc, 6);
		p->checksum = mig_datum_text(tup, desc, 7);
		p->registered_by = mig_datum_text(tup, desc, 8);
		d = SPI_getbinval(tup, desc, 9, &isnull);
		p->registrant = isnull ? InvalidOid : DatumGetObjectId(d);
		p->approved_by = mig_datum_text(tup, desc, 10);
		d = SPI_getbinval(tup, desc, 11, &isnull);
		p->approver = isnull ? InvalidOid : DatumGetObjectId(d);
		check_revertible(p, registered, strcmp(kind, "baseline") == 0,
						 applied_checksum, registered_checksum, to_version);
		rows = lappend(rows, p);
	}
	SPI_freetuptable(SPI_tuptable);
	return rows;
}

/* ----------------------------------------------------------------
 * revert_migrations(component text, to_version bigint, dry_run boolean)
 *		returns table (component, version, description, duration,
 *					   checksum, outcome, error)
 *
 * One row per version reverted (checksum: its undo's), outcome "reverted";
 * in a dry run "would revert", or "would fail" with the error and "not
 * run" for the versions after it, and everything is rolled back.
 * to_version 0 reverts every version.
 * ----------------------------------------------------------------
 */
Datum
sm_revert_migrations(PG_FUNCTION_ARGS)
{
	char	   *component = mig_arg_component(fcinfo, 0);
	int64		to_version;
	bool		dry_run;
	ReturnSetInfo *rsinfo;
	MigCall		c;
	Datum		values[1];
	Datum		d;
	bool		isnull;
	int64		current;
	List	   *rows;
	ListCell   *lc;
	MemoryContext oldcontext;
	MemoryContext checkcxt;
	ResourceOwner oldowner;

	if (mig_running_migration() != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot revert migrations from inside a migration"),
				 errdetail("%s is running.",
						   mig_subject_sentence(mig_running_migration()->subject)),
				 errhint("Remove the call from the migration's SQL.")));
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("version to revert to must not be null"),
				 errdetail("revert_migrations takes back every applied version above this one."),
				 errhint("Pass 0 to revert every version.")));
	to_version = PG_GETARG_INT64(1);
	/* a revert for real is never what a missing answer means */
	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("whether a revert is a dry run must not be null"),
				 errdetail("A revert runs undo SQL, which drops what its migrations created."),
				 errhint("Pass dry_run => true to run it and roll it back, or false to revert.")));
	dry_run = PG_GETARG_BOOL(2);
	if (to_version < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid version to revert to: " INT64_FORMAT, to_version),
				 errdetail("Migration versions are positive integers; 0 reverts every version.")));

	InitMaterializedSRF(fcinfo, 0);
	rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* as for applying: what is read under the lock must be current */
	mig_require_writer_transaction("revert migrations", "Reverting",
								   "Revert migrations");
	mig_call_init(&c, fcinfo, false);
	mig_lock_component(&c, component);

	/* reverting rewrites the component's history, as a baseline does */
	mig_enter_internal(&c);
	if (!mig_component_exists(&c, component))
		mig_unknown_component(component);
	mig_leave_internal(&c);
	mig_check_component_writer(&c, component);

	mig_enter_internal(&c);
	values[0] = CStringGetTextDatum(component);
	mig_run_plan(&c, P_CURRENT_VERSION, values, NULL);
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1,
					  &isnull);
	current = isnull ? 0 : DatumGetInt64(d);
	if (to_version > current)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot revert migration component \"%s\" to version " INT64_FORMAT ", which is above its current version",
						component, to_version),
				 isnull ?
				 errdetail("Nothing of the component is applied.") :
				 errdetail("Its current version is " INT64_FORMAT ".", current),
				 errhint("Apply migrations up to a version with apply_migrations(component, target_version).")));
	if (to_version == current)
	{
		mig_leave_internal(&c);
		SPI_finish();
		ereport(NOTICE,
				(errmsg("migration component \"%s\" is at version " INT64_FORMAT ", nothing to revert",
						component, to_version)));
		return (Datum) 0;
	}

	/* check everything before running anything */
	mig_read_may_read_sql(&c);
	rows = versions_to_revert(&c, component, to_version);
	checkcxt = AllocSetContextCreate(CurrentMemoryContext, "undo check",
									 ALLOCSET_DEFAULT_SIZES);
	foreach(lc, rows)
	{
		Pending    *p = (Pending *) lfirst(lc);

		mig_check_registrant(&c, p);
		mig_prepare_run(&c, p, checkcxt);
	}
	MemoryContextDelete(checkcxt);
	mig_leave_internal(&c);

	oldcontext = CurrentMemoryContext;
	oldowner = CurrentResourceOwner;
	if (dry_run)
	{
		BeginInternalSubTransaction(NULL);
		MemoryContextSwitchTo(oldcontext);
	}

	(void) mig_run_pending(&c, rsinfo, rows, dry_run, "reverted",
						   "would revert");

	if (dry_run)
	{
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcontext);
		CurrentResourceOwner = oldowner;
	}
	SPI_finish();
	if (dry_run)
		ereport(NOTICE,
				(errmsg("dry run: everything was rolled back")));
	return (Datum) 0;
}
