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
#include "utils/lsyscache.h"
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

/* What of the session could run a migration's code after it ends */
typedef struct SessionState
{
	ArrayType  *cursors;		/* names */
	ArrayType  *prepared_names;
	ArrayType  *prepared_keys;	/* in the order of prepared_names */
	List	   *deferred;		/* tables with deferred trigger events */
} SessionState;

static ArrayType *
array_at(int col)
{
	bool		isnull;

	return DatumGetArrayTypePCopy(SPI_getbinval(SPI_tuptable->vals[0],
												SPI_tuptable->tupdesc, col,
												&isnull));
}

static void
session_state(MigCall *c, SessionState *st)
{
	ArrayType  *deferrable;
	Datum	   *relids;
	int			n;
	int			i;

	mig_enter_internal(c);
	mig_run_plan(c, P_SESSION_STATE, NULL, NULL);
	st->cursors = array_at(1);
	st->prepared_names = array_at(2);
	st->prepared_keys = array_at(3);
	deferrable = array_at(4);
	mig_leave_internal(c);

	st->deferred = NIL;
	deconstruct_array(deferrable, OIDOID, sizeof(Oid), true, TYPALIGN_INT,
					  &relids, NULL, &n);
	for (i = 0; i < n; i++)
		if (AfterTriggerPendingOnRel(DatumGetObjectId(relids[i])))
			st->deferred = lappend_oid(st->deferred,
									   DatumGetObjectId(relids[i]));
}

static Datum *
text_elements(ArrayType *a, int *n)
{
	Datum	   *elems;

	deconstruct_array(a, TEXTOID, -1, false, TYPALIGN_INT, &elems, NULL, n);
	return elems;
}

/*
 * The first cursor among names opened since subtransaction subid began
 * (its name), or NULL.
 */
static char *
cursor_opened_since(ArrayType *names, SubTransactionId subid)
{
	int			n;
	Datum	   *elems = text_elements(names, &n);
	int			i;

	for (i = 0; i < n; i++)
	{
		char	   *name = TextDatumGetCString(elems[i]);
		Portal		portal = GetPortalByName(name);

		/* subtransactions begun later have higher ids */
		if (PortalIsValid(portal) &&
			portal->createSubid != InvalidSubTransactionId &&
			portal->createSubid >= subid)
			return name;
	}
	return NULL;
}

/*
 * The names of the prepared statements of st whose keys are not among
 * keys_before: prepared since, or in place of one of the same name.
 */
static List *
prepared_since(SessionState *st, ArrayType *keys_before)
{
	int			n_before,
				n,
				n_names;
	Datum	   *before = text_elements(keys_before, &n_before);
	Datum	   *keys = text_elements(st->prepared_keys, &n);
	Datum	   *names = text_elements(st->prepared_names, &n_names);
	List	   *result = NIL;
	int			i,
				j;

	for (i = 0; i < n && i < n_names; i++)
	{
		for (j = 0; j < n_before; j++)
			if (VARSIZE_ANY(DatumGetPointer(keys[i])) ==
				VARSIZE_ANY(DatumGetPointer(before[j])) &&
				memcmp(DatumGetPointer(keys[i]), DatumGetPointer(before[j]),
					   VARSIZE_ANY(DatumGetPointer(keys[i]))) == 0)
				break;
		if (j == n_before)
			result = lappend(result, TextDatumGetCString(names[i]));
	}
	return result;
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
	SessionState st;

	s->temp_before = temp_objects(c, NULL, &unused);
	session_state(c, &st);
	s->deferred_before = st.deferred;
	s->prepared_before = st.prepared_keys;
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
	SessionState st;
	ListCell   *lc;
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

	session_state(c, &st);
	left = cursor_opened_since(st.cursors, s->subid);
	if (left != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cursor \"%s\" would outlive the migration", left),
				 errdetail("A cursor runs its query when it is fetched from, or at COMMIT when it is declared WITH HOLD, as the role current then, which may be a more privileged one than the migration's."),
				 errhint("Close cursors before the migration ends.")));

	foreach(lc, st.deferred)
	{
		Oid			relid = lfirst_oid(lc);

		if (!list_member_oid(s->deferred_before, relid))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("deferred trigger events on table %s would fire after the migration",
							quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
													   get_rel_name(relid))),
					 errdetail("Deferred triggers fire at COMMIT, as the role current then, which may be a more privileged one than the migration's."),
					 errhint("Make them fire before the migration ends: end it with SET CONSTRAINTS ... IMMEDIATE, naming the constraint triggers (or ALL).")));
	}

	prepared = prepared_since(&st, s->prepared_before);
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
	SessionState st;
	ListCell   *lc;

	if (!s->started)
		return;
	session_state(c, &st);
	foreach(lc, prepared_since(&st, s->prepared_before))
		DropPreparedStatement((const char *) lfirst(lc), false);
}
