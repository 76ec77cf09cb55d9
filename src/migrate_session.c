/*-------------------------------------------------------------------------
 *
 * migrate_session.c
 *	  What a migration may leave in the session: nothing.
 *
 * A migration runs in the caller's session, often a more privileged one
 * than the role that wrote it (a superuser applying a deployer's chain after
 * SET ROLE).  Whatever the migration changes in the session would stay for
 * the caller's next statements, so:
 *
 * - every setting it changes, with SET, SET LOCAL, set_config() or SET ROLE,
 *	 is put back when the migration ends, as a function's SET clause does:
 *	 the migration runs at its own GUC nest level, which is then unwound
 *	 with AtEOXact_GUC(false, ...) (as index builds and REFRESH
 *	 MATERIALIZED VIEW unwind what user code set).  The next migration and
 *	 the caller see the settings of before.
 * - a migration that leaves a temporary relation or type behind is refused:
 *	 the session's temporary schema is searched before every other schema,
 *	 so such an object could take the place of one the caller uses later
 *	 (a view named pg_stat_activity calling the deployer's function).
 *	 Temporary objects the migration drops before it ends are fine.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"

#include "schema_mgr.h"
#include "migrate.h"

/*
 * The session's temporary relations and types (their oids), or NULL when
 * the session has no temporary schema yet.
 */
static ArrayType *
temp_objects(MigCall *c, ArrayType *known, char **first_new)
{
	Oid			tempnsp;
	Oid			temptoastnsp;
	Datum		values[2];
	ArrayType  *result = NULL;

	*first_new = NULL;
	GetTempNamespaceState(&tempnsp, &temptoastnsp);
	if (!OidIsValid(tempnsp))
		return NULL;

	mig_enter_internal(c);
	values[0] = ObjectIdGetDatum(tempnsp);
	values[1] = known ? PointerGetDatum(known)
		: PointerGetDatum(construct_empty_array(OIDOID));
	mig_run_plan(c, P_TEMP_OBJECTS, values, NULL);
	if (known != NULL)
	{
		if (SPI_processed > 0)
			*first_new = mig_datum_text(SPI_tuptable->vals[0],
										SPI_tuptable->tupdesc, 2);
	}
	else
	{
		Datum	   *oids = palloc(sizeof(Datum) * (SPI_processed + 1));
		uint64		i;
		bool		isnull;

		for (i = 0; i < SPI_processed; i++)
			oids[i] = SPI_getbinval(SPI_tuptable->vals[i],
									SPI_tuptable->tupdesc, 1, &isnull);
		result = construct_array(oids, (int) SPI_processed, OIDOID,
								 sizeof(Oid), true, TYPALIGN_INT);
	}
	mig_leave_internal(c);
	return result;
}

/*
 * mig_session_begin
 *		Call right before a migration's first statement.
 */
void
mig_session_begin(MigCall *c, MigSession *s)
{
	char	   *unused;

	s->temp_before = temp_objects(c, NULL, &unused);
	s->guc_level = NewGUCNestLevel();
}

/*
 * mig_session_end
 *		Call after the migration's last statement, still in its
 *		subtransaction: refuses a temporary object left behind, then puts
 *		every setting back.
 */
void
mig_session_end(MigCall *c, Pending *p, MigSession *s)
{
	char	   *left;

	AtEOXact_GUC(false, s->guc_level);
	if (s->temp_before == NULL)
		s->temp_before = construct_empty_array(OIDOID);
	(void) temp_objects(c, s->temp_before, &left);
	if (left != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("temporary object \"%s\" would outlive the migration",
						left),
				 errdetail("The session's temporary objects are found before those of any other schema, so one left behind could take the place of an object the caller uses afterwards."),
				 errhint("Drop temporary objects before the migration ends (a temporary table created with ON COMMIT DROP would live until the end of the transaction).")));
}
