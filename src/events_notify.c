/*-------------------------------------------------------------------------
 *
 * events_notify.c
 *	  The eventsinsert notifications of insert_events.
 *
 * Channel eventsinsert, per row (slate's payload, or the same object
 * without the event and with "truncated": true when it would not fit in
 * NOTIFY's 8000 bytes), per statement, or none, as registered for the
 * store.  Sent with Async_Notify by insert_events itself once the ids are
 * known, so rows written by restore or sync send nothing.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/async.h"
#include "commands/trigger.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/arrayaccess.h"
#include "utils/jsonb.h"

#include "events.h"

/* NOTIFY refuses payloads of this many bytes or more (async.c) */
#define NOTIFY_PAYLOAD_LIMIT	8000
#define EVENTS_CHANNEL			"eventsinsert"

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
 * Under the lock, once the ids are known: queue the notifications of the
 * events of arr, which are first_id onwards.  Each payload is made right
 * before it is queued, in one reused buffer: NOTIFY keeps its own copy of
 * every payload until commit, and a second copy of them all would double
 * what a large call holds in memory.
 */
void
notify_send(StoreEntry *store, ArrayType *arr, int64 first_id, int nevents)
{
	if (store->notify == NOTIFY_ROW)
	{
		StringInfoData buf;
		array_iter	it;
		int			head_len;
		int			i;

		initStringInfo(&buf);
		appendStringInfo(&buf, "{\"table\" : %s, \"id\" : ", store->payload_table);
		head_len = buf.len;
		array_iter_setup(&it, (AnyArrayType *) arr);
		for (i = 0; i < nevents; i++)
		{
			bool		isnull;
			Jsonb	   *jb = DatumGetJsonbP(array_iter_next(&it, &isnull, i,
															 -1, false, TYPALIGN_INT));
			int			id_end;

			CHECK_FOR_INTERRUPTS();
			buf.len = head_len;
			buf.data[buf.len] = '\0';
			appendStringInfo(&buf, INT64_FORMAT, first_id + i);
			id_end = buf.len;
			appendStringInfoString(&buf, ", \"event\" : ");
			(void) JsonbToCString(&buf, &jb->root, VARSIZE(jb));
			appendStringInfoChar(&buf, '}');
			/* NOTIFY refuses a payload of the limit or more: drop the event */
			if (buf.len >= NOTIFY_PAYLOAD_LIMIT)
			{
				buf.len = id_end;
				buf.data[buf.len] = '\0';
				appendStringInfoString(&buf, ", \"truncated\" : true}");
			}
			Async_Notify(EVENTS_CHANNEL, buf.data);
		}
		pfree(buf.data);
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
