/*-------------------------------------------------------------------------
 *
 * events_notify.c
 *	  The eventsinsert notifications of insert_events.
 *
 * Channel eventsinsert, per row (slate's payload, or the same object
 * without the event and with "truncated": true when it would not fit in
 * NOTIFY's 8000 bytes), per statement, or none, as registered for the
 * store.  Sent with Async_Notify by insert_events itself once the ids are
 * known, so rows written by restore or sync send nothing.  NOTIFY keeps a
 * copy of every payload until commit: a large call keeps those copies
 * without the rounding of an AllocSet, and frees its own copy of the events
 * first when it can (see notify_send), so that a call holds its events
 * about twice, not three or four times.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/stratnum.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "commands/async.h"
#include "commands/trigger.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/arrayaccess.h"
#include "utils/fmgroids.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "compat.h"
#include "events.h"

/* NOTIFY refuses payloads of this many bytes or more (async.c) */
#define NOTIFY_PAYLOAD_LIMIT	8000
#define EVENTS_CHANNEL			"eventsinsert"
/* calls that notify this many rows or fewer queue them the plain way */
#define NOTIFY_SMALL_CALL		64

PG_FUNCTION_INFO_V1(events_notify_insert);


const char *
notify_mode_name(NotifyMode mode)
{
	switch (mode)
	{
		case NOTIFY_ROW:
			return "row";
		case NOTIFY_STATEMENT:
			return "statement";
		case NOTIFY_NONE:
			return "none";
	}
	return "?";
}

NotifyMode
parse_notify_mode(const char *s)
{
	if (strcmp(s, "row") == 0)
		return NOTIFY_ROW;
	if (strcmp(s, "statement") == 0)
		return NOTIFY_STATEMENT;
	if (strcmp(s, "none") == 0)
		return NOTIFY_NONE;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid notification mode \"%s\"", s),
			 errhint("The notification mode must be \"row\", \"statement\" or \"none\".")));
	return NOTIFY_NONE;			/* keep compiler quiet */
}

/*
 * Queue the notification of event jb, id id: slate's payload, made in buf
 * after the head_len bytes of its head ("{"table" : ..., "id" : ").
 */
static void
notify_row(StringInfo buf, int head_len, int64 id, Jsonb *jb)
{
	int			id_end;

	buf->len = head_len;
	buf->data[buf->len] = '\0';
	appendStringInfo(buf, INT64_FORMAT, id);
	id_end = buf->len;
	appendStringInfoString(buf, ", \"event\" : ");
	(void) JsonbToCString(buf, &jb->root, VARSIZE(jb));
	appendStringInfoChar(buf, '}');
	/* NOTIFY refuses a payload of the limit or more: drop the event */
	if (buf->len >= NOTIFY_PAYLOAD_LIMIT)
	{
		buf->len = id_end;
		buf->data[buf->len] = '\0';
		appendStringInfoString(buf, ", \"truncated\" : true}");
	}
	Async_Notify(EVENTS_CHANNEL, buf->data);
}

/*
 * Queue one notification per event: those of arr, or, when arr is NULL,
 * the rows first_id onwards just written to heap, read back through its
 * primary key.  Each
 * payload is made right before it is queued, in one reused buffer: NOTIFY
 * keeps its own copy of every payload until commit, and a second copy of
 * them all would double what a large call holds in memory.
 */
static void
notify_rows(StoreEntry *store, Relation heap, Relation index, ArrayType *arr,
			int64 first_id, int nevents)
{
	StringInfoData buf;
	int			head_len;
	MemoryContext rowcxt;
	array_iter	it = {0};
	ScanKeyData key;
	Snapshot	snap = NULL;
	IndexScanDesc scan = NULL;
	TupleTableSlot *slot = NULL;
	int			i;

	initStringInfo(&buf);
	appendStringInfo(&buf, "{\"table\" : %s, \"id\" : ", store->payload_table);
	head_len = buf.len;
	if (arr != NULL)
		sm_array_iter_setup(&it, (AnyArrayType *) arr, -1, false, TYPALIGN_INT);
	else
	{
		/* the rows of this command: the allocator lock keeps others out */
		CommandCounterIncrement();
		snap = RegisterSnapshot(GetLatestSnapshot());
		ScanKeyInit(&key, 1, BTGreaterEqualStrategyNumber, F_INT8GE,
					Int64GetDatum(first_id));
		scan = sm_index_beginscan(heap, index, snap, 1, 0);
		index_rescan(scan, &key, 1, NULL, 0);
		slot = table_slot_create(heap, NULL);
	}
	/* an event with a short or toasted header is expanded for its row only */
	rowcxt = AllocSetContextCreate(CurrentMemoryContext, "notified row",
								   ALLOCSET_DEFAULT_SIZES);
	for (i = 0; i < nevents; i++)
	{
		bool		isnull;
		Datum		event;
		MemoryContext oldcxt;

		CHECK_FOR_INTERRUPTS();
		if (arr != NULL)
			event = sm_array_iter_next(&it, &isnull, i, -1, false, TYPALIGN_INT);
		else
		{
			if (!index_getnext_slot(scan, ForwardScanDirection, slot))
				elog(ERROR, "event %d of %d just appended to %s is missing",
					 i + 1, nevents, store->qualified_name);
			if (DatumGetInt64(slot_getattr(slot, store->id_attnum, &isnull)) !=
				first_id + i)
				elog(ERROR, "event %d of %d just appended to %s has another id",
					 i + 1, nevents, store->qualified_name);
			event = slot_getattr(slot, store->event_attnum, &isnull);
		}
		oldcxt = MemoryContextSwitchTo(rowcxt);
		notify_row(&buf, head_len, first_id + i, DatumGetJsonbP(event));
		MemoryContextSwitchTo(oldcxt);
		MemoryContextReset(rowcxt);
	}
	MemoryContextDelete(rowcxt);
	if (arr == NULL)
	{
		index_endscan(scan);
		ExecDropSingleTupleTableSlot(slot);
		UnregisterSnapshot(snap);
	}
	pfree(buf.data);
}

/*
 * notify_rows with NOTIFY's copies in a generation context that stands in
 * for CurTransactionContext (see notify_send).
 */
static void
notify_rows_apart(StoreEntry *store, Relation heap, Relation index,
				  ArrayType *arr, int64 first_id, int nevents)
{
	MemoryContext xactcxt = CurTransactionContext;

	CurTransactionContext = GenerationContextCreate(xactcxt,
													"insert_events notifications",
													0, 64 * 1024,
													8 * 1024 * 1024);
	PG_TRY();
	{
		notify_rows(store, heap, index, arr, first_id, nevents);
	}
	PG_FINALLY();
	{
		CurTransactionContext = xactcxt;
	}
	PG_END_TRY();
}

/*
 * notify_send
 *		Under the lock, once the ids are known: queue the notifications of
 *		the nevents events appended from first_id on, whose array is arr.
 *		If arr is the call's own (owned), a large call frees it here and
 *		reads the rows back from heap through index, its primary key, so
 *		that the events and NOTIFY's copies of them are not both in memory.
 *
 * NOTIFY copies each payload into CurTransactionContext, an AllocSet,
 * which rounds a chunk up to a power of two: a 300-byte payload takes 512
 * bytes until commit.  For more than a few rows the copies go to a
 * generation context instead (no rounding, and they are only ever freed
 * together), a child of CurTransactionContext that stands in for it while
 * the rows are queued, so that it lives exactly as long.  NOTIFY's list
 * and duplicate-check table of the (sub)transaction are made or grown
 * there too; a subtransaction's are merged into its parent's at its
 * commit, as NOTIFY always does.
 */
void
notify_send(StoreEntry *store, Relation heap, Relation index, ArrayType *arr,
			bool owned, int64 first_id, int nevents)
{
	if (store->notify == NOTIFY_ROW && nevents <= NOTIFY_SMALL_CALL)
		notify_rows(store, heap, index, arr, first_id, nevents);
	else if (store->notify == NOTIFY_ROW)
	{
		if (owned)
			pfree(arr);
		notify_rows_apart(store, heap, index, owned ? NULL : arr,
						  first_id, nevents);
	}
	else if (store->notify == NOTIFY_STATEMENT)
		Async_Notify(EVENTS_CHANNEL,
					 psprintf("{\"table\" : %s, \"id\" : " INT64_FORMAT
							  ", \"last_id\" : " INT64_FORMAT ", \"count\" : %d}",
							  store->payload_table, first_id,
							  first_id + nevents - 1, nevents));
}

/*
 * notify_event_insert()
 *		The function of a source store's notify_insert trigger (AFTER INSERT
 *		FOR EACH STATEMENT).  insert_events queues the notifications itself,
 *		with the ids it assigned, so the trigger has nothing left to do.  It
 *		exists under slate's names because slate's tools look for them: the
 *		replicator refuses to start from a database without a notify_insert
 *		trigger on events and a notify_event_insert function.
 */
Datum
events_notify_insert(PG_FUNCTION_ARGS)
{
	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "notify_event_insert: not called by trigger manager");
	return PointerGetDatum(NULL);
}
