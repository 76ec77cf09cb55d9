/*-------------------------------------------------------------------------
 *
 * migrate_register.c
 *	  register_migration: add a migration to the registry, or find it there
 *	  already; with its undo SQL (the five-argument form).  A migration
 *	  without a version is a repeatable one (migrate_repeatable.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "schema_mgr.h"
#include "migrate.h"

PG_FUNCTION_INFO_V1(sm_register_migration);

/* ----------------------------------------------------------------
 * register_migration(component text, version bigint, description text,
 *					  sql text [, undo text]) returns text
 *
 * Returns 'registered', 'unchanged', 'updated' (description or undo SQL
 * only), 'replaced' (pending migration with new SQL) or 'baselined'
 * (registered under a baseline, so marked as applied without running).
 * The four-argument form leaves a registered undo as it is; the five-
 * argument form sets it (NULL: no undo), also for an applied migration,
 * whose undo has not run.
 * ----------------------------------------------------------------
 */

static bool
same_checksum(const char *a, const char *b)
{
	return a == NULL ? b == NULL : (b != NULL && strcmp(a, b) == 0);
}

Datum
sm_register_migration(PG_FUNCTION_ARGS)
{
	char	   *component = mig_arg_component(fcinfo, 0);
	int64		version;
	bool		set_undo = PG_NARGS() > 4;
	char	   *undo = NULL;
	char	   *undo_checksum = NULL;
	char	   *undo_subject;
	bool		undo_changed = false;
	char	   *description;
	char	   *sql;
	char	   *checksum;
	MigCall		c;
	Datum		values[6];
	char	   *reg_checksum = NULL;
	char	   *reg_description = NULL;
	bool		in_history = false;
	char	   *history_checksum = NULL;
	bool		has_baseline = false;
	int64		baseline_version = 0;
	bool		mark_applied;
	const char *result;

	/* no version: a repeatable migration, named by its description */
	if (PG_ARGISNULL(1))
		return mig_register_repeatable(fcinfo, component);
	version = mig_arg_version(fcinfo, 1, "migration version");
	description = mig_arg_text(fcinfo, 2, "migration description");
	sql = mig_arg_text(fcinfo, 3, "migration SQL");
	if (set_undo && !PG_ARGISNULL(4))
		undo = text_to_cstring(PG_GETARG_TEXT_PP(4));

	/* syntax and statement checks, before anything is stored */
	mig_check_statements(component, version, sql,
					 mig_parse_sql(component, version, sql, true));
	checksum = sm_sql_checksum(sql, strlen(sql));
	undo_subject = mig_subject(MIG_RUN_UNDO, component, version, NULL);
	if (undo != NULL)
	{
		mig_check_statements_of(undo_subject, undo,
								mig_parse_sql_of(undo_subject, undo, true));
		undo_checksum = sm_sql_checksum(undo, strlen(undo));
	}

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	mig_call_init(&c, fcinfo, false);

	/* serialise with appliers of the same component */
	mig_lock_component(&c, component);
	mig_check_component_writer(&c, component);

	mig_enter_internal(&c);
	values[0] = CStringGetTextDatum(component);
	values[1] = Int64GetDatum(version);
	mig_run_plan(&c, P_REG_LOOKUP, values, NULL);
	if (SPI_processed == 1)
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		Datum		d;

		reg_checksum = mig_datum_text(tup, desc, 1);
		reg_description = mig_datum_text(tup, desc, 2);
		in_history = DatumGetBool(SPI_getbinval(tup, desc, 3, &isnull));
		history_checksum = mig_datum_text(tup, desc, 4);
		d = SPI_getbinval(tup, desc, 5, &isnull);
		has_baseline = !isnull;
		if (!isnull)
			baseline_version = DatumGetInt64(d);
	}

	/* a new undo, or another one */
	if (set_undo && reg_checksum == NULL)
		undo_changed = undo != NULL;
	else if (set_undo)
	{
		mig_run_plan(&c, P_REG_UNDO_LOOKUP, values, NULL);
		undo_changed = !same_checksum(mig_datum_text(SPI_tuptable->vals[0],
													 SPI_tuptable->tupdesc,
													 1),
									  undo_checksum);
	}

	/* changing another role's migration */
	if (reg_checksum != NULL && c.owners &&
		(strcmp(reg_checksum, checksum) != 0 ||
		 strcmp(reg_description, description) != 0 || undo_changed))
	{
		bool		isnull;
		Datum		d;

		mig_run_plan(&c, P_REG_IDENTITY, values, NULL);
		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1,
						  &isnull);
		mig_check_replace(&c, mig_subject(MIG_RUN_APPLY, component, version,
										  NULL),
						  isnull ? InvalidOid : DatumGetObjectId(d),
						  mig_datum_text(SPI_tuptable->vals[0],
										 SPI_tuptable->tupdesc, 2),
						  strcmp(reg_checksum, checksum) != 0
						  ? "replace the SQL of"
						  : undo_changed ? "change the undo SQL of" : "rename");
	}

	if (in_history && history_checksum != NULL &&
		strcmp(history_checksum, checksum) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("migration \"%s\" version " INT64_FORMAT " has already been applied with different SQL",
						component, version),
				 errdetail("The applied SQL has checksum %s; the new SQL has checksum %s.",
						   history_checksum, checksum),
				 errhint("Never change an applied migration: register the change as a new migration with a higher version.")));

	/* covered by a baseline: mark as applied without running it */
	mark_applied = in_history;
	if (!in_history && has_baseline && version <= baseline_version)
	{
		Datum		hv[8];
		Interval   *zero = palloc0(sizeof(Interval));

		hv[0] = CStringGetTextDatum(component);
		hv[1] = Int64GetDatum(version);
		hv[2] = CStringGetTextDatum(description);
		hv[3] = TimestampTzGetDatum(GetCurrentTimestamp());
		hv[4] = CStringGetTextDatum(checksum);
		hv[5] = CStringGetTextDatum(c.caller);
		hv[6] = IntervalPGetDatum(zero);
		hv[7] = CStringGetTextDatum("baseline");
		mig_insert_history(&c, hv, NULL);
		mark_applied = true;
	}

	values[2] = CStringGetTextDatum(description);
	values[3] = CStringGetTextDatum(sql);
	values[4] = CStringGetTextDatum(c.caller);
	values[5] = BoolGetDatum(mark_applied);
	if (reg_checksum == NULL)
	{
		mig_run_plan(&c, P_REG_INSERT, values, NULL);
		result = (mark_applied && history_checksum == NULL) ? "baselined" : "registered";
	}
	else if (strcmp(reg_checksum, checksum) != 0)
	{
		mig_run_plan(&c, P_REG_UPDATE, values, NULL);
		result = "replaced";
	}
	else if (strcmp(reg_description, description) != 0)
	{
		mig_run_plan(&c, P_REG_DESCRIPTION, values, NULL);
		result = "updated";
	}
	else
		result = undo_changed ? "updated" : "unchanged";

	if (undo_changed)
	{
		values[2] = undo ? CStringGetTextDatum(undo) : (Datum) 0;
		mig_run_plan(&c, P_REG_SET_UNDO, values, undo ? NULL : "  n");
	}

	/*
	 * New SQL: the caller is its registrant, any approval is void.  Other
	 * undo SQL only voids the approvals: the registrant stays, since it
	 * still wrote the SQL, and the caller has its privileges (or it no
	 * longer exists and vouches for nothing), so it may vouch for the undo
	 * too; registering an undo never vouches for SQL the caller did not
	 * write.
	 */
	if (c.owners && (reg_checksum == NULL || strcmp(result, "replaced") == 0))
	{
		values[2] = ObjectIdGetDatum(c.caller_id);
		mig_run_plan(&c, P_SET_REGISTRANT, values, NULL);
	}
	else if (c.owners && undo_changed)
		mig_run_plan(&c, P_VOID_APPROVAL, values, NULL);
	mig_leave_internal(&c);

	SPI_finish();
	PG_RETURN_TEXT_P(cstring_to_text(result));
}
