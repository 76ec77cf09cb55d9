/*-------------------------------------------------------------------------
 *
 * events_guard.c
 *	  The append-only guard of source event stores.
 *
 * A source store carries two guard triggers: check_insert (BEFORE INSERT
 * FOR EACH ROW), which lets through only the rows of the allocator's own
 * INSERT, or of restore and sync while they hold a direct-insert grant, and
 * check_sql_command (BEFORE UPDATE OR DELETE OR TRUNCATE FOR EACH
 * STATEMENT), which refuses everything, with slate's message.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/pg_trigger.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "schema_mgr.h"
#include "events.h"

/*
 * Stores that restore or sync may currently write directly, each with the
 * subtransaction that allowed it (DirectInsertGrant, in
 * TopTransactionContext).  A grant ends with events_end_direct_insert, or
 * when that subtransaction or one of its ancestors aborts.
 */
typedef struct DirectInsertGrant
{
	Oid			relid;
	SubTransactionId subid;
} DirectInsertGrant;

static List *direct_insert_grants = NIL;

/* the allocator's INSERT in progress, checked by the guard trigger */
static Oid	inserting_relid = InvalidOid;
static AttrNumber inserting_attnum;
static int64 inserting_lo;
static int64 inserting_hi;

PG_FUNCTION_INFO_V1(events_guard);

static void guard_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
								   SubTransactionId parentSubid, void *arg);
static bool direct_insert_granted(Oid relid);

void
events_guard_init(void)
{
	RegisterSubXactCallback(guard_subxact_callback, NULL);
}

/* The transaction ended, and with it every grant and insert. */
void
events_guard_xact_end(void)
{
	direct_insert_grants = NIL;
	inserting_relid = InvalidOid;
}

/*
 * A subtransaction that aborts takes with it the direct-insert grants made
 * in it or in its children: those have ids >= its own, and every
 * subtransaction with a larger id that began while it was open is one of
 * its children.
 */
static void
guard_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
					   SubTransactionId parentSubid, void *arg)
{
	ListCell   *lc;

	if (event != SUBXACT_EVENT_ABORT_SUB)
		return;
	foreach(lc, direct_insert_grants)
	{
		DirectInsertGrant *g = (DirectInsertGrant *) lfirst(lc);

		if (g->subid >= mySubid)
			direct_insert_grants = foreach_delete_current(direct_insert_grants, lc);
	}
}

/* ----------------------------------------------------------------
 * Direct-insert grants (schema_mgr.h)
 * ----------------------------------------------------------------
 */

void
events_allow_direct_insert(Oid relid)
{
	MemoryContext oldcxt;
	DirectInsertGrant *g;

	if (direct_insert_granted(relid))
		return;
	if (store_get(relid, false)->is_source)
	{
		/* the rows restored must be the rows stored */
		Relation	rel = table_open(relid, RowExclusiveLock);

		guard_check_triggers(rel);
		table_close(rel, NoLock);
	}
	oldcxt = MemoryContextSwitchTo(TopTransactionContext);
	g = palloc(sizeof(DirectInsertGrant));
	g->relid = relid;
	g->subid = GetCurrentSubTransactionId();
	direct_insert_grants = lappend(direct_insert_grants, g);
	MemoryContextSwitchTo(oldcxt);
}

void
events_end_direct_insert(Oid relid)
{
	ListCell   *lc;

	foreach(lc, direct_insert_grants)
	{
		DirectInsertGrant *g = (DirectInsertGrant *) lfirst(lc);

		if (g->relid == relid)
		{
			direct_insert_grants = foreach_delete_current(direct_insert_grants, lc);
			pfree(g);
		}
	}
}

static bool
direct_insert_granted(Oid relid)
{
	ListCell   *lc;

	foreach(lc, direct_insert_grants)
	{
		if (((DirectInsertGrant *) lfirst(lc))->relid == relid)
			return true;
	}
	return false;
}

/* ----------------------------------------------------------------
 * The allocator's INSERT
 * ----------------------------------------------------------------
 */

/* The rows lo..hi of the store are about to be inserted by the allocator. */
void
guard_begin_insert(StoreEntry *store, int64 lo, int64 hi)
{
	inserting_relid = store->relid;
	inserting_attnum = store->id_attnum;
	inserting_lo = lo;
	inserting_hi = hi;
}

void
guard_end_insert(void)
{
	inserting_relid = InvalidOid;
}

/* schema.table, quoted, for messages */
static char *
relation_qualified_name(Relation rel)
{
	return quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
									  RelationGetRelationName(rel));
}

/*
 * guard_check_triggers
 *		Refuse to write into a source store that has a trigger able to change
 *		the rows written: a BEFORE INSERT row trigger (other than the guard)
 *		may give a row another id, ts or event than the allocator assigned,
 *		or skip it.  AFTER triggers and statement triggers see the rows but
 *		cannot change them, so they are allowed.  A disabled trigger does
 *		not fire; enabling it again needs the owner and shows up here.
 *		The caller holds a lock that keeps triggers from being added.
 */
void
guard_check_triggers(Relation rel)
{
	TriggerDesc *trig = rel->trigdesc;
	Oid			extnsp;
	int			i;

	if (trig == NULL || !trig->trig_insert_before_row)
		return;
	extnsp = events_extension_namespace();
	for (i = 0; i < trig->numtriggers; i++)
	{
		Trigger    *t = &trig->triggers[i];

		if (!TRIGGER_FOR_ROW(t->tgtype) || !TRIGGER_FOR_BEFORE(t->tgtype) ||
			!TRIGGER_FOR_INSERT(t->tgtype) || t->tgenabled == TRIGGER_DISABLED ||
			events_guard_function(t->tgfoid, extnsp))
			continue;
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("event store \"%s\" has a trigger that can change the events written to it",
						relation_qualified_name(rel)),
				 errdetail("Trigger \"%s\" runs BEFORE INSERT FOR EACH ROW, so it could store another id, ts or event than insert_events assigned.",
						   t->tgname),
				 errhint("Drop the trigger, or make it an AFTER trigger, which sees the rows without changing them.")));
	}
}

/*
 * Is funcoid one of schema_mgr's trigger functions (extnsp: its schema)?
 * Those are the guard (events_guard, filter_sql_command) and the
 * notify_insert placeholder, none of which changes a row.
 */
bool
events_guard_function(Oid funcoid, Oid extnsp)
{
	char	   *fname;

	if (get_func_namespace(funcoid) != extnsp)
		return false;
	fname = get_func_name(funcoid);
	return fname != NULL && (strcmp(fname, "events_guard") == 0 ||
							 strcmp(fname, "filter_sql_command") == 0 ||
							 strcmp(fname, "notify_event_insert") == 0);
}

/*
 * events_guard
 *		The append-only guard of a source store: row-level BEFORE INSERT
 *		(only the allocator's own INSERT, or restore or sync between
 *		events_allow_direct_insert and events_end_direct_insert, may
 *		insert) and statement-level BEFORE UPDATE, DELETE, TRUNCATE (always
 *		refused).
 */
Datum
events_guard(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	Relation	rel;
	Oid			relid;
	const char *op;

	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "events_guard: not called by trigger manager");
	rel = td->tg_relation;
	relid = RelationGetRelid(rel);

	if (TRIGGER_FIRED_BY_INSERT(td->tg_event))
	{
		if (TRIGGER_FIRED_FOR_ROW(td->tg_event))
		{
			HeapTuple	tuple = td->tg_trigtuple;

			if (relid == inserting_relid)
			{
				bool		isnull;
				Datum		d = heap_getattr(tuple, inserting_attnum,
											 RelationGetDescr(rel), &isnull);

				if (!isnull && DatumGetInt64(d) >= inserting_lo &&
					DatumGetInt64(d) <= inserting_hi)
					return PointerGetDatum(tuple);
			}
			else if (direct_insert_granted(relid))
				return PointerGetDatum(tuple);
		}
		if (SessionReplicationRole == SESSION_REPLICATION_ROLE_REPLICA)
			ereport(ERROR,
					(errcode(ERRCODE_S_R_E_PROHIBITED_SQL_STATEMENT_ATTEMPTED),
					 errmsg("cannot insert into event store \"%s\" directly",
							relation_qualified_name(rel)),
					 errdetail("The ids of a source event store are assigned by insert_events; rows replicated into it would collide with the ids it assigns itself."),
					 errhint("Replicate into a destination store: register_event_store('<table>', 'destination').")));
		ereport(ERROR,
				(errcode(ERRCODE_S_R_E_PROHIBITED_SQL_STATEMENT_ATTEMPTED),
				 errmsg("cannot insert into event store \"%s\" directly",
						relation_qualified_name(rel)),
				 errdetail("The ids of a source event store are assigned by insert_events, gapless and in commit order; a row inserted any other way could break that sequence."),
				 errhint("Append events with insert_events().")));
	}

	if (TRIGGER_FIRED_BY_UPDATE(td->tg_event))
		op = "UPDATE";
	else if (TRIGGER_FIRED_BY_DELETE(td->tg_event))
		op = "DELETE";
	else if (TRIGGER_FIRED_BY_TRUNCATE(td->tg_event))
		op = "TRUNCATE";
	else
		op = "?";
	/* slate's message text, which clients may match on */
	ereport(ERROR,
			(errcode(ERRCODE_S_R_E_PROHIBITED_SQL_STATEMENT_ATTEMPTED),
			 errmsg("cannot perform SQL command on events table: %s", op),
			 errdetail("Event store \"%s\" is append-only.",
					   relation_qualified_name(rel))));
	PG_RETURN_NULL();
}

/* ----------------------------------------------------------------
 * Creating the guard triggers
 * ----------------------------------------------------------------
 */

/*
 * Create the triggers of a source store that it does not have yet (a table
 * adopted by register_event_store may have slate's check_sql_command and
 * notify_insert already):
 *
 * check_insert		 BEFORE INSERT FOR EACH ROW, events_guard(): only the
 *					 allocator's rows (and restore's and sync's) get in
 * check_sql_command BEFORE UPDATE OR DELETE OR TRUNCATE FOR EACH STATEMENT,
 *					 filter_sql_command(): append-only, with slate's message
 * notify_insert	 AFTER INSERT FOR EACH STATEMENT, notify_event_insert():
 *					 does nothing, insert_events notifies itself; it is
 *					 there under slate's names because slate's tools (the
 *					 replicator's start-up check) look for it
 *
 * The two guards are ENABLE ALWAYS: they fire in replica mode too, which is
 * what a logical replication apply worker runs in.  With the SQL objects of
 * 1.0 (an installation not yet updated), the guard is events_guard() for
 * both and there is no notify_insert.  Returns whether the SQL objects are
 * 1.1's.  Within SPI.
 */
bool
create_guard_triggers(Oid relid, const char *qname, const char *fschema)
{
	static const char *const triggers[3][3] = {
		{"check_insert", "BEFORE INSERT ON %s FOR EACH ROW", "events_guard"},
		{"check_sql_command", "BEFORE UPDATE OR DELETE OR TRUNCATE ON %s FOR EACH STATEMENT",
		"filter_sql_command"},
		{"notify_insert", "AFTER INSERT ON %s FOR EACH STATEMENT", "notify_event_insert"},
	};
	Datum		arg = ObjectIdGetDatum(relid);
	bool		slate_names;
	bool		isnull;
	int			i;
	int			ret;

	ret = SPI_execute(psprintf("SELECT pg_catalog.to_regprocedure('%s.notify_event_insert()')"
							   " IS NOT NULL", fschema), true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not look up the trigger functions: %s",
			 SPI_result_code_string(ret));
	slate_names = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0],
											 SPI_tuptable->tupdesc, 1, &isnull));

	for (i = 0; i < lengthof(triggers); i++)
	{
		const char *func = triggers[i][2];
		bool		always = (i < 2);

		if (!slate_names && i == 2)
			break;
		if (!slate_names)
			func = "events_guard";
		ret = SPI_execute_with_args(psprintf("SELECT 1 FROM pg_catalog.pg_trigger"
											 " WHERE tgrelid OPERATOR(pg_catalog.=) $1"
											 " AND tgname OPERATOR(pg_catalog.=) '%s'",
											 triggers[i][0]),
									1, (Oid[]) {OIDOID}, &arg, NULL, true, 1);
		if (ret != SPI_OK_SELECT)
			elog(ERROR, "could not read the triggers of \"%s\": %s",
				 qname, SPI_result_code_string(ret));
		if (SPI_processed > 0)
			continue;
		ret = SPI_execute(psprintf("CREATE TRIGGER %s %s EXECUTE FUNCTION %s.%s()%s%s%s",
								   triggers[i][0], psprintf(triggers[i][1], qname),
								   fschema, func,
								   always ? "; ALTER TABLE " : "",
								   always ? qname : "",
								   always ? psprintf(" ENABLE ALWAYS TRIGGER %s", triggers[i][0]) : ""),
						  false, 0);
		if (ret != SPI_OK_UTILITY)
			elog(ERROR, "could not create the guard triggers: %s",
				 SPI_result_code_string(ret));
	}
	return slate_names;
}

/*
 * Warn about INSERT triggers of an adopted source store other than the
 * guard: typically slate's notify_insert, which repeats insert_events' own
 * notification and fails on events too big for NOTIFY.  Within SPI.
 */
void
warn_insert_triggers(Oid relid, const char *qname, const char *fschema)
{
	Datum		arg = ObjectIdGetDatum(relid);
	char	   *names;
	int			ret;

	ret = SPI_execute_with_args(psprintf("SELECT pg_catalog.string_agg(pg_catalog.quote_ident(tgname), ', '"
										 " ORDER BY tgname) FROM pg_catalog.pg_trigger"
										 " WHERE tgrelid OPERATOR(pg_catalog.=) $1 AND NOT tgisinternal"
										 " AND (tgtype::pg_catalog.int4 OPERATOR(pg_catalog.&) %d)"
										 " OPERATOR(pg_catalog.<>) 0"
										 " AND tgfoid OPERATOR(pg_catalog.<>) ALL (SELECT p.oid FROM pg_catalog.pg_proc p"
										 " WHERE p.pronamespace OPERATOR(pg_catalog.=) '%s'::pg_catalog.regnamespace)",
										 TRIGGER_TYPE_INSERT, fschema),
								1, (Oid[]) {OIDOID}, &arg, NULL, true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read the triggers of \"%s\": %s",
			 qname, SPI_result_code_string(ret));
	names = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	if (names != NULL)
		ereport(WARNING,
				(errmsg("event store \"%s\" has INSERT triggers of its own: %s",
						qname, names),
				 errdetail("insert_events runs them for each event while it holds the store's allocator lock, and sends the eventsinsert notifications itself; a trigger that notifies with the whole event, as slate's notify_insert does, makes every event over 8000 bytes fail."),
				 errhint("Drop the triggers that insert_events makes redundant, such as slate's notify_insert.")));
}
