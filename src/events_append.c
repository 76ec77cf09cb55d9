/*-------------------------------------------------------------------------
 *
 * events_append.c
 *	  The allocator and the writer of gapless event stores: insert_events
 *	  (text and jsonb[]) and the allocator lock restore and sync share.
 *
 * Id allocation.  There is no counter row.  insert_events takes the store's
 * allocator lock (a transaction-scoped advisory lock, SM_LOCK_EVENTS with
 * the table's oid), reads the last row (max id and its ts) with a backward
 * scan of the primary key under a fresh snapshot, and inserts max+1 ..
 * max+n.  The lock is held until commit: the previous holder has committed
 * (and is visible to the fresh snapshot) before we read, so ids are
 * gapless, a rolled-back transaction leaves no gap, and ids become visible
 * in id order.  Everything that can be done before taking the lock is done
 * before it: parsing, jsonb input, the array, the cached plan.
 *
 * Timestamps: one per transaction, taken from the clock the first time the
 * transaction allocates (after the lock), and never smaller than the last
 * row's ts, so ts never decreases along the ids.
 *
 * Writing: through one prepared INSERT ... SELECT FROM unnest($1), so the
 * executor checks whatever the table has (constraints, a partition's
 * bounds, row security, the owner's AFTER triggers) and checks for
 * interrupts.  The events exist once in memory: as the jsonb array that
 * INSERT reads (the caller's own array for append_events).
 *
 * Privileges: insert_events runs with the caller's rights and needs INSERT
 * on the events table; the guard trigger refuses every INSERT that does not
 * come from the allocator, so that privilege cannot be used any other way.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/index.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "optimizer/optimizer.h"
#include "tcop/utility.h"
#include "storage/proc.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "schema_mgr.h"
#include "events.h"
#include "event_text.h"

/* per transaction */
static bool xact_ts_valid = false;
static TimestampTz xact_ts;

PG_FUNCTION_INFO_V1(insert_events_text);
PG_FUNCTION_INFO_V1(insert_events_array);

static void append_events(Oid relid, ArrayType *arr, bool owned,
						  int nevents, int64 *first_id, TimestampTz *ts);

/* The transaction ended: its ts is no longer ours. */
void
events_append_xact_end(void)
{
	xact_ts_valid = false;
}

/*
 * The lock belongs to the (sub)transaction, not to the portal or procedure
 * call that happens to be running (as AssignTransactionId takes the xid's
 * lock): a savepoint rolled back releases it with the rows, a committed one
 * hands it to its parent, and the grouped commit finds it with the
 * transaction at the end (events_commit.c).  A portal's resource owner can
 * outlive the statement, as the extended query protocol's unnamed portal
 * does until the commit.
 */
static LockAcquireResult
acquire_store_lock(LOCKTAG *tag, bool dontWait)
{
	ResourceOwner save = CurrentResourceOwner;
	volatile LockAcquireResult res = LOCKACQUIRE_NOT_AVAIL;

	CurrentResourceOwner = CurTransactionResourceOwner;
	PG_TRY();
	{
		res = LockAcquire(tag, ExclusiveLock, false, dontWait);
	}
	PG_FINALLY();
	{
		CurrentResourceOwner = save;
	}
	PG_END_TRY();
	return res;
}

/*
 * The allocator lock: classid SM_LOCK_EVENTS, objid the table's oid, a tag
 * no SQL function can take (see sm_advisory_locktag), so only insert_events,
 * restore and sync hold it.  Taken without waiting when it is free (the
 * common case costs nothing more).  Otherwise the wait is bounded by
 * lock_timeout; it then runs in a subtransaction, so that a timeout can be
 * reported with the store and the session holding the lock rather than as
 * a bare "canceling statement due to lock timeout".
 */
static void
wait_for_store_lock(void *arg)
{
	(void) acquire_store_lock((LOCKTAG *) arg, false);
}

void
events_lock_store(Oid relid)
{
	LOCKTAG		tag;
	ErrorData  *edata;
	int			pid = 0;
	char	   *appname = NULL;
	bool		prepared = false;
	char	   *gid = NULL;
	char	   *store_name;

	commit_note_lock(relid);
	sm_advisory_locktag(&tag, SM_LOCK_EVENTS, relid);
	if (acquire_store_lock(&tag, true) != LOCKACQUIRE_NOT_AVAIL)
		return;
	if (LockTimeout <= 0)
	{
		(void) acquire_store_lock(&tag, false);
		return;
	}
	edata = sm_try_subxact(wait_for_store_lock, &tag);
	if (edata == NULL)
		return;
	if (edata->sqlerrcode != ERRCODE_LOCK_NOT_AVAILABLE)
		ReThrowError(edata);

	/* who holds it? a session, or a prepared transaction */
	pid = sm_advisory_lock_holder(SM_LOCK_EVENTS, relid, &appname, &prepared,
								  &gid);
	store_name = quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
											get_rel_name(relid));
	if (prepared)
		ereport(ERROR,
				(errcode(ERRCODE_LOCK_NOT_AVAILABLE),
				 errmsg("could not lock event store \"%s\" within lock_timeout", store_name),
				 errdetail("Its allocator lock is held by the prepared transaction \"%s\" until COMMIT PREPARED or ROLLBACK PREPARED ends it; waited %d ms.",
						   gid ? gid : "", LockTimeout),
				 errhint("Finish that prepared transaction: until then every writer of the store waits for it.")));
	if (pid != 0)
		ereport(ERROR,
				(errcode(ERRCODE_LOCK_NOT_AVAILABLE),
				 errmsg("could not lock event store \"%s\" within lock_timeout", store_name),
				 errdetail("Its allocator lock is held by process %d (application_name \"%s\") until that transaction ends; waited %d ms.",
						   pid, appname ? appname : "", LockTimeout),
				 errhint("Ids are assigned in commit order, so each writer waits for the one before it: keep transactions that append events short, or raise lock_timeout.")));
	ereport(ERROR,
			(errcode(ERRCODE_LOCK_NOT_AVAILABLE),
			 errmsg("could not lock event store \"%s\" within lock_timeout", store_name),
			 errdetail("Waited %d ms; the session that held the allocator lock has since released it.",
					   LockTimeout),
			 errhint("Retry, or raise lock_timeout.")));
}

/* ----------------------------------------------------------------
 * Appending events
 * ----------------------------------------------------------------
 */

/*
 * Read the last row of the store (highest id and its ts) with a backward
 * scan of the primary key under a fresh snapshot.  Must be called with the
 * allocator lock held.
 */
static bool
read_last_row(Relation heap, Relation index, StoreEntry *store,
			  int64 *last_id, TimestampTz *last_ts)
{
	Snapshot	snap;
	IndexScanDesc scan;
	TupleTableSlot *slot;
	bool		found = false;

	snap = RegisterSnapshot(GetLatestSnapshot());
	scan = sm_index_beginscan(heap, index, snap, 0, 0);
	index_rescan(scan, NULL, 0, NULL, 0);
	slot = table_slot_create(heap, NULL);
	if (index_getnext_slot(scan, BackwardScanDirection, slot))
	{
		bool		isnull;

		*last_id = DatumGetInt64(slot_getattr(slot, store->id_attnum, &isnull));
		*last_ts = DatumGetTimestampTz(slot_getattr(slot, store->ts_attnum, &isnull));
		found = true;
	}
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	UnregisterSnapshot(snap);
	return found;
}

static void
check_writable(void)
{
	if (RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("cannot insert events during recovery"),
				 errdetail("This server is a standby; events are appended on the primary.")));
	PreventCommandIfReadOnly("insert_events");
	PreventCommandIfParallelMode("insert_events");
}

/*
 * An error's context without the line SPI adds for the allocator's own
 * INSERT statement (lines from the owner's triggers stay), with a line
 * naming the store instead.
 */
static char *
strip_insert_context(char *context, StoreEntry *store)
{
	StringInfoData buf;
	char	   *line;
	char	   *next;

	initStringInfo(&buf);
	for (line = context; line != NULL && *line != '\0'; line = next)
	{
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (strncmp(line, "SQL statement \"INSERT INTO ", 27) == 0 &&
			strstr(line, "WITH ORDINALITY AS e(ev, n)") != NULL)
			continue;
		appendStringInfo(&buf, "%s%s", buf.len > 0 ? "\n" : "", line);
	}
	appendStringInfo(&buf, "%sappending to event store \"%s\"",
					 buf.len > 0 ? "\n" : "", store->qualified_name);
	return buf.data;
}

/*
 * Run the store's INSERT for ids lo..hi, letting the guard trigger know
 * that these rows come from the allocator.
 */
static int
execute_insert(StoreEntry *store, Datum *args, int64 lo, int64 hi)
{
	volatile int ret = 0;
	MemoryContext oldcxt = CurrentMemoryContext;

	guard_begin_insert(store, lo, hi);
	store->in_use++;
	PG_TRY();
	{
		ret = SPI_execute_plan(store->plan, args, NULL, false, 0);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		guard_end_insert();
		store->in_use--;
		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		FlushErrorState();
		/* the caller did not write that INSERT: say what it did call */
		edata->context = strip_insert_context(edata->context, store);
		ReThrowError(edata);
	}
	PG_END_TRY();
	guard_end_insert();
	store->in_use--;
	return ret;
}

/*
 * append_events
 *		Append the events of arr (a one-dimensional jsonb array without
 *		nulls, nevents long) to the source store relid (InvalidOid: the only
 *		source store).  Returns the first id and the ts used.  The array is
 *		what the INSERT reads, so no other copy of the events is made; if
 *		it is the call's own (owned), it may be freed once written.
 */
static void
append_events(Oid relid, ArrayType *arr, bool owned, int nevents,
			  int64 *first_id, TimestampTz *ts_out)
{
	StoreEntry *store;
	Relation	heap;
	Relation	index;
	int64		last_id = 0;
	TimestampTz last_ts = 0;
	TimestampTz ts;
	Datum		args[3];
	int			ret;

	check_writable();
	store = store_get(relid, true);
	relid = store->relid;
	/* the INSERT would check this too, but only once the lock is held */
	if (pg_class_aclcheck(relid, GetUserId(), ACL_INSERT) != ACLCHECK_OK)
		aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_TABLE, get_rel_name(relid));

	/* --- before the lock: the checks and the plan --- */
	heap = table_open(relid, RowExclusiveLock);
	guard_check_triggers(heap);
	SPI_connect();
	if (store->plan == NULL)
	{
		char	   *sql;
		SPIPlanPtr	plan;

		sql = psprintf("INSERT INTO %s (id, ts, event)"
					   " SELECT $2 OPERATOR(pg_catalog.+) e.n, $3, e.ev"
					   " FROM pg_catalog.unnest($1) WITH ORDINALITY AS e(ev, n)",
					   store->qualified_name);
		/*
		 * A generic plan: a custom one would fold the array into the plan
		 * as a constant, a second copy of every event.
		 */
		plan = SPI_prepare_cursor(sql, 3, (Oid[]) {JSONBARRAYOID, INT8OID, TIMESTAMPTZOID},
								  CURSOR_OPT_GENERIC_PLAN);
		if (plan == NULL)
			elog(ERROR, "could not prepare the event insert: %s",
				 SPI_result_code_string(SPI_result));
		if (SPI_keepplan(plan) != 0)
			elog(ERROR, "could not keep the event insert plan");
		store->plan = plan;
	}
	index = index_open(store->pkey_oid, AccessShareLock);

	/* --- the allocator lock, held until the transaction ends --- */
	TRACE_ALLOCATOR(ALLOC_REQUEST);
	events_lock_store(relid);
	TRACE_ALLOCATOR(ALLOC_GRANTED);
	commit_note_append(store);

	CommandCounterIncrement();	/* see our own earlier rows */
	(void) read_last_row(heap, index, store, &last_id, &last_ts);
	if (last_id > PG_INT64_MAX - nevents)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("event store \"%s\" has run out of ids", store->qualified_name)));

	if (!xact_ts_valid)
	{
		xact_ts = GetCurrentTimestamp();
		xact_ts_valid = true;
	}
	if (xact_ts < last_ts)
		xact_ts = last_ts;
	ts = xact_ts;

	args[0] = PointerGetDatum(arr);
	args[1] = Int64GetDatum(last_id);
	args[2] = TimestampTzGetDatum(ts);
	ret = execute_insert(store, args, last_id + 1, last_id + nevents);
	if (ret != SPI_OK_INSERT || SPI_processed != (uint64) nevents)
		elog(ERROR, "event insert returned %s with " UINT64_FORMAT " rows",
			 SPI_result_code_string(ret), SPI_processed);

	notify_send(store, heap, index, arr, owned, last_id + 1, nevents);

	index_close(index, NoLock);
	SPI_finish();
	table_close(heap, NoLock);

	*first_id = last_id + 1;
	*ts_out = ts;
	TRACE_ALLOCATOR(ALLOC_WRITTEN);
}

/*
 * The store argument of insert_events and append_events: NULL (or left
 * out) means the only source store; any other value must name a table.
 */
static Oid
store_argument(FunctionCallInfo fcinfo, int argno)
{
	if (PG_ARGISNULL(argno))
		return InvalidOid;
	if (!OidIsValid(PG_GETARG_OID(argno)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("event store 0 does not exist"),
				 errdetail("The store argument is the OID 0, which names no table."),
				 errhint("Leave the store out, or pass NULL, to append to the only source store.")));
	return PG_GETARG_OID(argno);
}

/*
 * Error context: which row of the event list an error is about.
 */
typedef struct JsonRowContext
{
	int			rowno;
	const char *str;
	int			offset;
} JsonRowContext;

static void
json_row_context(void *arg)
{
	JsonRowContext *c = (JsonRowContext *) arg;

	errcontext("event %d of the event list, at position %d", c->rowno,
			   pg_mbstrlen_with_len(c->str, c->offset) + 1);
}

/*
 * The array the text call appends: built event by event in one buffer that
 * grows (a large chunk, which the allocator extends in place where it can),
 * so the events exist once, in the form the INSERT reads.
 */
typedef struct EventArrayBuf
{
	char	   *data;
	Size		len;
	Size		cap;
} EventArrayBuf;

static void
event_array_add(EventArrayBuf *b, Jsonb *jb)
{
	Size		pos = INTALIGN(b->len);
	Size		need = pos + VARSIZE(jb);

	if (need > MaxAllocSize)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("event list is too large"),
				 errdetail("The events of one call must fit in 1 GB once converted to jsonb.")));
	if (need > b->cap)
	{
		b->cap = Min(Max(need, b->cap * 2), MaxAllocSize);
		b->data = repalloc_huge(b->data, b->cap);
	}
	memset(b->data + b->len, 0, pos - b->len);
	memcpy(b->data + pos, jb, VARSIZE(jb));
	b->len = need;
}

Datum
insert_events_text(PG_FUNCTION_ARGS)
{
	text	   *values;
	Oid			relid = store_argument(fcinfo, 1);
	EventTextRow *rows;
	int			nrows;
	int			i;
	int64		first_id;
	TimestampTz ts;
	ErrorContextCallback errcb;
	JsonRowContext jc;
	MemoryContext rowcxt;
	StringInfoData literal;
	EventArrayBuf buf;
	ArrayType  *arr;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("event list must not be null"),
				 errdetail("insert_events takes the events as slate's text list of ($1[n], $2, '<json>') tuples."),
				 errhint("Pass the list, or skip the call when there are no events.")));
	values = PG_GETARG_TEXT_PP(0);
	nrows = event_text_parse(VARDATA_ANY(values), VARSIZE_ANY_EXHDR(values), &rows);

	/* the array header, then the events, each the moment it is parsed */
	buf.len = ARR_OVERHEAD_NONULLS(1);
	buf.cap = buf.len + VARSIZE_ANY_EXHDR(values) + 1024;
	buf.data = MemoryContextAllocHuge(CurrentMemoryContext, buf.cap);
	memset(buf.data, 0, buf.len);
	initStringInfo(&literal);
	jc.str = VARDATA_ANY(values);
	errcb.callback = json_row_context;
	errcb.arg = &jc;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;
	/* jsonb_in leaves its parser's memory behind: one reset context per row */
	rowcxt = AllocSetContextCreate(CurrentMemoryContext, "insert_events row",
								   ALLOCSET_DEFAULT_SIZES);
	for (i = 0; i < nrows; i++)
	{
		MemoryContext oldcxt;
		Datum		jb;
		SmInvalidJson invalid;

		CHECK_FOR_INTERRUPTS();
		jc.rowno = i + 1;
		jc.offset = rows[i].offset;
		event_text_literal(VARDATA_ANY(values), &rows[i], &literal);
		oldcxt = MemoryContextSwitchTo(rowcxt);
		if (!sm_jsonb_in(literal.data, &jb, &invalid))
			ereport(ERROR,
					(errcode(invalid.sqlerrcode),
					 errmsg("event %d of the event list is not valid JSON", i + 1),
					 errdetail_internal("%s", invalid.detail),
					 errhint("Correct that event, or leave it out of the list; none of the list's events were written.")));
		event_array_add(&buf, DatumGetJsonbP(jb));
		MemoryContextSwitchTo(oldcxt);
		MemoryContextReset(rowcxt);
	}
	error_context_stack = errcb.previous;
	MemoryContextDelete(rowcxt);
	pfree(literal.data);
	pfree(rows);
	/* the text is no longer needed: free it if it is our own copy */
	if ((Pointer) values != PG_GETARG_POINTER(0))
		pfree(values);

	arr = (ArrayType *) buf.data;
	SET_VARSIZE(arr, buf.len);
	arr->ndim = 1;
	arr->dataoffset = 0;
	arr->elemtype = JSONBOID;
	ARR_DIMS(arr)[0] = nrows;
	ARR_LBOUND(arr)[0] = 1;

	append_events(relid, arr, true, nrows, &first_id, &ts);
	PG_RETURN_INT32(nrows);
}

Datum
insert_events_array(PG_FUNCTION_ARGS)
{
	ArrayType  *arr;
	Oid			relid = store_argument(fcinfo, 1);
	int			n;
	int64		first_id;
	TimestampTz ts;
	TupleDesc	tupdesc;
	Datum		values[3];
	bool		isnull[3] = {false, false, false};

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("events must not be null"),
				 errdetail("append_events takes the events as a one-dimensional jsonb array."),
				 errhint("Pass the array, or skip the call when there are no events.")));
	arr = PG_GETARG_ARRAYTYPE_P(0);
	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("events must be a one-dimensional array")));
	n = ArrayGetNItems(ARR_NDIM(arr), ARR_DIMS(arr));
	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("no events to insert"),
				 errdetail("The events array is empty.")));
	if (ARR_HASNULL(arr))
	{
		uint8	   *bitmap = ARR_NULLBITMAP(arr);
		int			i;

		for (i = 0; i < n; i++)
		{
			CHECK_FOR_INTERRUPTS();
			if (!(bitmap[i / 8] & (1 << (i % 8))))
				ereport(ERROR,
						(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						 errmsg("event %d is null", i + 1)));
		}
	}

	/*
	 * The INSERT numbers the events from 1, whatever the array's bounds.  A
	 * detoasted array is our own copy, which may be freed once written.
	 */
	append_events(relid, arr, (Pointer) arr != PG_GETARG_POINTER(0), n,
				  &first_id, &ts);

	values[0] = Int64GetDatum(first_id);
	values[1] = Int64GetDatum(first_id + n - 1);
	values[2] = TimestampTzGetDatum(ts);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc),
													  values, isnull)));
}
