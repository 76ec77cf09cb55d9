/*-------------------------------------------------------------------------
 *
 * events_notify.c
 *	  The eventsinsert notifications of insert_events.
 *
 * Channel eventsinsert, per row (slate's payload, or the same object
 * without the event and with "truncated": true when it would not fit in
 * NOTIFY's 8000 bytes), per statement, or none, as registered for the
 * store.  The payloads are built before the allocator lock (all but the id
 * digits) and sent with Async_Notify by insert_events itself once the ids
 * are known, so rows written by restore or sync send nothing.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/async.h"
#include "commands/trigger.h"
#include "miscadmin.h"
#include "utils/jsonb.h"

#include "events.h"

/* NOTIFY refuses payloads of this many bytes or more (async.c) */
#define NOTIFY_PAYLOAD_LIMIT	8000
#define EVENTS_CHANNEL			"eventsinsert"

PG_FUNCTION_INFO_V1(events_notify_insert);

/* What notify_prepare builds before the lock. */
struct EventPayloads
{
	char	   *head;			/* {"table" : "events", "id" : */
	int			head_len;
	char	  **tail;			/* per event: the rest, after the id */
};

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
 * Before the allocator lock: everything of the notifications but the ids.
 * NULL when the store sends one notification per statement or none.
 */
EventPayloads *
notify_prepare(StoreEntry *store, Datum *events, int nevents)
{
	EventPayloads *p;
	int			i;

	if (store->notify != NOTIFY_ROW)
		return NULL;
	p = palloc(sizeof(EventPayloads));
	p->head = psprintf("{\"table\" : %s, \"id\" : ", store->payload_table);
	p->head_len = strlen(p->head);
	p->tail = palloc(sizeof(char *) * nevents);
	for (i = 0; i < nevents; i++)
	{
		Jsonb	   *jb;
		char	   *text;
		int			len;

		CHECK_FOR_INTERRUPTS();
		jb = DatumGetJsonbP(events[i]);
		text = JsonbToCString(NULL, &jb->root, VARSIZE(jb));
		len = strlen(text);

		/* head + up to 20 digits + tail + NUL must stay under the limit */
		if (p->head_len + 20 + len + 14 < NOTIFY_PAYLOAD_LIMIT)
			p->tail[i] = psprintf(", \"event\" : %s}", text);
		else
			p->tail[i] = ", \"truncated\" : true}";
		pfree(text);
	}
	return p;
}

/* Under the lock, once the ids are known: queue the notifications. */
void
notify_send(StoreEntry *store, EventPayloads *p, int64 first_id, int nevents)
{
	if (store->notify == NOTIFY_ROW)
	{
		StringInfoData buf;
		int			i;

		initStringInfo(&buf);
		for (i = 0; i < nevents; i++)
		{
			CHECK_FOR_INTERRUPTS();
			resetStringInfo(&buf);
			appendBinaryStringInfo(&buf, p->head, p->head_len);
			appendStringInfo(&buf, INT64_FORMAT, first_id + i);
			appendStringInfoString(&buf, p->tail[i]);
			Async_Notify(EVENTS_CHANNEL, buf.data);
		}
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
