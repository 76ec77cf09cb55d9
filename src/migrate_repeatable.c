/*-------------------------------------------------------------------------
 *
 * migrate_repeatable.c
 *	  Repeatable migrations: registering them, finding the pending ones
 *	  and recording their applies.
 *
 * A repeatable migration has no version: it is named by its description
 * (Flyway's R__<description>.sql), unique within its component, and is
 * applied again whenever its SQL changes: views, functions, grants that
 * are simply replaced.  apply_migrations() runs the pending ones after the
 * component's versions, in component and name order, each checked, run
 * and vouched for as a versioned migration is (migrate_apply.c).  They live
 * in the table repeatable_migration; a row is pending while its
 * applied_checksum differs from its checksum, and only pending rows are in
 * a partial index, as in the registry of versions.  Their applies are
 * logged in migration_history (action "repeat"); schema_version, the
 * versions applied now, does not hold them.
 *
 * A new name is a new repeatable migration: renaming one (its file)
 * registers another, and the old one stays registered and applied.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "schema_mgr.h"
#include "migrate.h"

/*
 * mig_first_pending_repeatable
 *		Whether a repeatable migration of the component (or of any, NULL) is
 *		pending: one probe of the partial index.  Sets *first_component and
 *		*first_name unless they are NULL.  Inside mig_enter_internal().
 */
bool
mig_first_pending_repeatable(MigCall *c, const char *component,
							 char **first_component, char **first_name)
{
	Datum		values[1];
	bool		found;

	if (component != NULL)
	{
		values[0] = CStringGetTextDatum(component);
		mig_run_plan(c, P_REP_PENDING_ONE, values, NULL);
	}
	else
		mig_run_plan(c, P_REP_PENDING_ANY, NULL, NULL);
	found = SPI_processed > 0;
	if (found && first_component != NULL)
	{
		*first_component = mig_datum_text(SPI_tuptable->vals[0],
										  SPI_tuptable->tupdesc, 1);
		*first_name = mig_datum_text(SPI_tuptable->vals[0],
									 SPI_tuptable->tupdesc, 2);
	}
	SPI_freetuptable(SPI_tuptable);
	return found;
}

/*
 * mig_pending_repeatables
 *		The pending repeatable migrations of the components (a text[]), in
 *		component and name order; only the one named only, unless NULL.
 *		Read under the components' locks, inside mig_enter_internal().
 */
List *
mig_pending_repeatables(MigCall *c, Datum components, const char *only)
{
	Datum		values[2];
	char		nulls[2] = {' ', ' '};
	List	   *pending = NIL;
	uint64		i;

	values[0] = components;
	values[1] = only ? CStringGetTextDatum(only) : (Datum) 0;
	nulls[1] = only ? ' ' : 'n';
	mig_run_plan(c, P_REP_PENDING_ROWS, values, nulls);
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		Pending    *p = palloc0(sizeof(Pending));
		bool		isnull;
		Datum		d;

		p->kind = MIG_RUN_REPEAT;
		p->component = mig_datum_text(tup, desc, 1);
		p->name = mig_datum_text(tup, desc, 2);
		p->description = p->name;
		p->subject = mig_subject(MIG_RUN_REPEAT, p->component, 0, p->name);
		p->checksum = mig_datum_text(tup, desc, 3);
		p->registered_by = mig_datum_text(tup, desc, 4);
		d = SPI_getbinval(tup, desc, 5, &isnull);
		p->registrant = isnull ? InvalidOid : DatumGetObjectId(d);
		p->approved_by = mig_datum_text(tup, desc, 6);
		d = SPI_getbinval(tup, desc, 7, &isnull);
		p->approver = isnull ? InvalidOid : DatumGetObjectId(d);
		pending = lappend(pending, p);
	}
	SPI_freetuptable(SPI_tuptable);
	return pending;
}

/*
 * mig_record_repeat
 *		Record a repeatable migration as applied with its current checksum,
 *		in its row and in the history log.
 */
void
mig_record_repeat(MigCall *c, Pending *p, TimestampTz start,
				  Interval *duration)
{
	Datum		values[6];

	mig_enter_internal(c);
	values[0] = CStringGetTextDatum(p->component);
	values[1] = CStringGetTextDatum(p->name);
	values[2] = CStringGetTextDatum(p->checksum);
	values[3] = TimestampTzGetDatum(start);
	values[4] = CStringGetTextDatum(c->caller);
	values[5] = IntervalPGetDatum(duration);
	mig_run_plan(c, P_REP_MARK_APPLIED, values, NULL);
	mig_log_history(c, p, "repeat", start, duration);
	mig_leave_internal(c);
}

/*
 * check_name
 *		A repeatable migration's name: not blank, at most
 *		MIG_REPEATABLE_NAME_BYTES bytes (it is shown whole in messages).
 */
static void
check_name(const char *component, const char *name)
{
	const char *p;

	if (strlen(name) > MIG_REPEATABLE_NAME_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("repeatable migration name is too long"),
				 errdetail("A repeatable migration of component \"%s\" is named by its description, which must be at most %d bytes; this one has %zu.",
						   component, MIG_REPEATABLE_NAME_BYTES, strlen(name)),
				 errhint("Shorten the description (the <description> of R__<description>.sql).")));
	for (p = name; *p; p++)
		if (!isspace((unsigned char) *p))
			return;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("repeatable migration name must not be empty"),
			 errdetail("A migration without a version is a repeatable migration of component \"%s\", named by its description.",
					   component),
			 errhint("Give it a description, or give it a version.")));
}

/* ----------------------------------------------------------------
 * register_migration(component, NULL, description, sql [, undo])
 *
 * Returns 'registered', 'unchanged' or 'replaced' (other SQL: applied
 * again by the next apply_migrations()).
 * ----------------------------------------------------------------
 */
Datum
mig_register_repeatable(FunctionCallInfo fcinfo, const char *component)
{
	char	   *name = mig_arg_text(fcinfo, 2, "migration description");
	char	   *sql = mig_arg_text(fcinfo, 3, "migration SQL");
	char	   *subject;
	char	   *checksum;
	char	   *reg_checksum = NULL;
	const char *result;
	MigCall		c;
	Datum		values[5];

	check_name(component, name);
	subject = mig_subject(MIG_RUN_REPEAT, component, 0, name);
	if (PG_NARGS() > 4 && !PG_ARGISNULL(4))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s cannot have undo SQL", subject),
				 errdetail("A repeatable migration is not reverted: it is applied again when its SQL changes."),
				 errhint("Register the SQL that undoes it as its new SQL, or give the migration a version.")));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	mig_call_init(&c, fcinfo, false);
	if (!c.owners)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("migration version must not be null"),
				 errdetail("Migrations without a version (repeatable migrations) need schema_mgr 1.1."),
				 errhint("Run ALTER EXTENSION schema_mgr UPDATE.")));

	mig_check_statements_of(subject, sql, mig_parse_sql_of(subject, sql, true));
	checksum = sm_sql_checksum(sql, strlen(sql));

	/* serialise with appliers of the same component */
	mig_lock_component(&c, component);
	mig_check_component_writer(&c, component);

	mig_enter_internal(&c);
	values[0] = CStringGetTextDatum(component);
	values[1] = CStringGetTextDatum(name);
	mig_run_plan(&c, P_REP_LOOKUP, values, NULL);
	if (SPI_processed == 1)
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		Datum		d;

		reg_checksum = mig_datum_text(tup, desc, 1);
		d = SPI_getbinval(tup, desc, 2, &isnull);
		if (strcmp(reg_checksum, checksum) != 0)
			mig_check_replace(&c, subject,
							  isnull ? InvalidOid : DatumGetObjectId(d),
							  mig_datum_text(tup, desc, 3),
							  "replace the SQL of");
	}

	values[2] = CStringGetTextDatum(sql);
	values[3] = CStringGetTextDatum(c.caller);
	values[4] = ObjectIdGetDatum(c.caller_id);
	if (reg_checksum == NULL)
	{
		mig_run_plan(&c, P_REP_INSERT, values, NULL);
		result = "registered";
	}
	else if (strcmp(reg_checksum, checksum) != 0)
	{
		mig_run_plan(&c, P_REP_UPDATE, values, NULL);
		result = "replaced";
	}
	else
		result = "unchanged";
	mig_leave_internal(&c);

	SPI_finish();
	PG_RETURN_TEXT_P(cstring_to_text(result));
}
