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
 * - nothing of the migration may run after it ends, when the current role
 *	 may be a more privileged one than the migration's (the caller's RESET
 *	 ROLE before COMMIT): a migration that leaves a cursor open (a holdable
 *	 one runs its query at COMMIT, any other when the caller fetches from
 *	 it), queues deferred trigger events (fired at COMMIT) or leaves a
 *	 prepared statement (EXECUTE runs it as the caller; a prepared
 *	 statement is not rolled back with the transaction, so it is
 *	 deallocated however the migration ends) is refused.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/prepare.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/portal.h"

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

/* Whether oid is an element of the oid array a */
static bool
oid_in(ArrayType *a, Oid oid)
{
	Oid		   *elems = (Oid *) ARR_DATA_PTR(a);
	int			n = ArrayGetNItems(ARR_NDIM(a), ARR_DIMS(a));
	int			i;

	for (i = 0; i < n; i++)
		if (elems[i] == oid)
			return true;
	return false;
}

/*
 * The tables with deferrable triggers (other than foreign keys') that have
 * trigger events waiting, as an oid array; with known, only the name of the
 * first such table not among known, in *first_new.
 */
static ArrayType *
deferred_tables(MigCall *c, ArrayType *known, char **first_new)
{
	Datum	   *oids;
	int			n = 0;
	uint64		i;
	ArrayType  *result = NULL;

	*first_new = NULL;
	mig_enter_internal(c);
	mig_run_plan(c, P_DEFERRABLE_RELATIONS, NULL, NULL);
	oids = palloc(sizeof(Datum) * (SPI_processed + 1));
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		Oid			relid = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
														   SPI_tuptable->tupdesc,
														   1, &isnull));

		if (!AfterTriggerPendingOnRel(relid))
			continue;
		if (known != NULL && !oid_in(known, relid))
		{
			*first_new = mig_datum_text(SPI_tuptable->vals[i],
										SPI_tuptable->tupdesc, 2);
			break;
		}
		oids[n++] = ObjectIdGetDatum(relid);
	}
	if (known == NULL)
		result = construct_array(oids, n, OIDOID, sizeof(Oid), true,
								 TYPALIGN_INT);
	mig_leave_internal(c);
	return result;
}

/*
 * The first cursor opened since subtransaction subid began and still open
 * (its name), or NULL.
 */
static char *
cursor_left_open(MigCall *c, SubTransactionId subid)
{
	char	   *found = NULL;
	uint64		i;

	mig_enter_internal(c);
	mig_run_plan(c, P_OPEN_CURSORS, NULL, NULL);
	for (i = 0; i < SPI_processed && found == NULL; i++)
	{
		char	   *name = mig_datum_text(SPI_tuptable->vals[i],
										  SPI_tuptable->tupdesc, 1);
		Portal		portal = GetPortalByName(name);

		/* subtransactions begun later have higher ids */
		if (PortalIsValid(portal) &&
			portal->createSubid != InvalidSubTransactionId &&
			portal->createSubid >= subid)
			found = name;
	}
	mig_leave_internal(c);
	return found;
}

/* The session's prepared statements, as keys (a text array) */
static ArrayType *
prepared_statements(MigCall *c)
{
	bool		isnull;
	ArrayType  *result;

	mig_enter_internal(c);
	mig_run_plan(c, P_PREPARED_STATEMENTS, NULL, NULL);
	result = DatumGetArrayTypePCopy(SPI_getbinval(SPI_tuptable->vals[0],
												  SPI_tuptable->tupdesc, 1,
												  &isnull));
	mig_leave_internal(c);
	return result;
}

/*
 * The names of the prepared statements that were not there (under that
 * name, with that text) before the migration.
 */
static List *
new_prepared_statements(MigCall *c, MigSession *s)
{
	Datum		values[1];
	List	   *names = NIL;
	uint64		i;

	mig_enter_internal(c);
	values[0] = PointerGetDatum(s->prepared_before);
	mig_run_plan(c, P_NEW_PREPARED_STATEMENTS, values, NULL);
	for (i = 0; i < SPI_processed; i++)
		names = lappend(names, mig_datum_text(SPI_tuptable->vals[i],
											  SPI_tuptable->tupdesc, 1));
	mig_leave_internal(c);
	return names;
}

/*
 * mig_session_begin
 *		Call right before a migration's first statement, in its
 *		subtransaction.
 */
void
mig_session_begin(MigCall *c, MigSession *s)
{
	char	   *unused;

	s->temp_before = temp_objects(c, NULL, &unused);
	s->deferred_before = deferred_tables(c, NULL, &unused);
	s->prepared_before = prepared_statements(c);
	s->subid = GetCurrentSubTransactionId();
	s->guc_level = NewGUCNestLevel();
	s->started = true;
}

/*
 * mig_session_end
 *		Call after the migration's last statement, still in its
 *		subtransaction: puts every setting back, then refuses what the
 *		migration left behind.  After an error here (or anywhere in the
 *		migration), call mig_session_cleanup.
 */
void
mig_session_end(MigCall *c, Pending *p, MigSession *s)
{
	char	   *left;
	List	   *prepared;

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

	left = cursor_left_open(c, s->subid);
	if (left != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cursor \"%s\" would outlive the migration", left),
				 errdetail("A cursor runs its query when it is fetched from, or at COMMIT when it is declared WITH HOLD, as the role current then, which may be a more privileged one than the migration's."),
				 errhint("Close cursors before the migration ends.")));

	(void) deferred_tables(c, s->deferred_before, &left);
	if (left != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("deferred trigger events on table %s would fire after the migration",
						left),
				 errdetail("Deferred triggers fire at COMMIT, as the role current then, which may be a more privileged one than the migration's."),
				 errhint("Make them fire before the migration ends: end it with SET CONSTRAINTS ... IMMEDIATE, naming the constraint triggers (or ALL).")));

	prepared = new_prepared_statements(c, s);
	if (prepared != NIL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("prepared statement \"%s\" would outlive the migration",
						(char *) linitial(prepared)),
				 errdetail("EXECUTE would run it as the role current then, which may be a more privileged one than the migration's; prepared statements last for the session, whether the transaction commits or not."),
				 errhint("DEALLOCATE prepared statements before the migration ends.")));
}

/*
 * mig_session_cleanup
 *		Call after a migration failed (its subtransaction rolled back):
 *		deallocates the prepared statements it left, which no rollback
 *		removes.
 */
void
mig_session_cleanup(MigCall *c, MigSession *s)
{
	ListCell   *lc;

	if (!s->started)
		return;
	foreach(lc, new_prepared_statements(c, s))
		DropPreparedStatement((const char *) lfirst(lc), false);
}
