/*-------------------------------------------------------------------------
 *
 * events_commit.c
 *	  Commit modes of source stores: set_event_store_commit, and the
 *	  grouped commit of the transactions that append to a 'grouped' store.
 *
 * Ids are assigned in commit order because the allocator lock is held
 * until the commit has happened: the next writer reads the last row only
 * once the previous one is visible.  In 'durable' mode (the default) the
 * lock is released where PostgreSQL releases every lock, after the commit
 * record has been flushed (and, under synchronous replication, confirmed),
 * so the writers of a store flush one at a time.
 *
 * In 'grouped' mode the lock is released as soon as the commit record is
 * in the WAL and the transaction is visible, and the flush follows:
 *
 *	PRE_COMMIT	(no user code runs after this point) every allocator lock
 *				the transaction still holds was taken to append to a
 *				grouped store: remember the caller's synchronous_commit and
 *				set it to off, so that RecordTransactionCommit inserts the
 *				commit record and marks the transaction committed without
 *				waiting for the flush.
 *	COMMIT		(after ProcArrayEndTransaction: visible to new snapshots;
 *				before the other locks are released and before the client
 *				is answered) release the allocator locks, restore
 *				synchronous_commit, flush the WAL up to the commit record
 *				and wait for synchronous standbys as the caller's setting
 *				asks, exactly as RecordTransactionCommit would have.
 *
 * A transaction that sent notifications (insert_events does, unless the
 * store's notify mode is 'none') also holds the lock PostgreSQL takes in
 * PreCommit_Notify so that notifications are queued in commit order (an
 * AccessExclusiveLock on "database 0"), and it would serialize the flushes
 * just the same.  It is released with the allocator: once the transaction
 * is visible its queue entries are in commit order, which is all that lock
 * is for, and it is exactly where an asynchronous commit releases it.
 *
 * The next writer takes the lock while we flush, reads our rows and
 * inserts its commit record after ours; concurrent XLogFlush calls then
 * share one write and fsync.  WAL order is still id order, so a crash
 * keeps a prefix of the commits: ids 1..K, and every acknowledged event.
 * What a reader can see before the flush is described in the README
 * ("Commit modes"), and the reasoning in its design section.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_database.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "replication/syncrep.h"
#include "storage/lock.h"
#include "utils/builtins.h"
#include "utils/resowner.h"

#include "schema_mgr.h"
#include "events.h"

/*
 * Per transaction: the stores whose allocator lock it asked for
 * (insert_events, restore, sync), how often, and how many of those were
 * appends in grouped mode.  A store is grouped for this commit only if
 * every one was.
 */
#define MAX_COMMIT_STORES	8

typedef struct CommitStore
{
	Oid			relid;
	int			nlocks;
	int			ngrouped;
} CommitStore;

static CommitStore stores[MAX_COMMIT_STORES];
static int	nstores = 0;
static bool stores_overflow = false;	/* more stores: commit durably */
/* set at PRE_COMMIT when the commit is grouped */
static bool grouped_pending = false;
static int	saved_synchronous_commit;

PG_FUNCTION_INFO_V1(set_event_store_commit);

static void commit_xact_callback(XactEvent event, void *arg);

void
events_commit_init(void)
{
	RegisterXactCallback(commit_xact_callback, NULL);
}

/*
 * The commit mode of a registry row: true for 'grouped'.  Looked up by
 * name: a 1.0 registry (the new library before ALTER EXTENSION UPDATE) has
 * no such column, and its stores are durable.
 */
bool
registry_commit_grouped(HeapTuple tuple, TupleDesc desc)
{
	int			i;

	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		bool		isnull;
		Datum		d;

		if (att->attisdropped ||
			strcmp(NameStr(att->attname), "commit_mode") != 0)
			continue;
		d = heap_getattr(tuple, i + 1, desc, &isnull);
		return !isnull && strcmp(TextDatumGetCString(d), "grouped") == 0;
	}
	return false;
}

static CommitStore *
commit_store(Oid relid)
{
	int			i;

	for (i = 0; i < nstores; i++)
		if (stores[i].relid == relid)
			return &stores[i];
	if (nstores == MAX_COMMIT_STORES)
	{
		stores_overflow = true;
		return NULL;
	}
	stores[nstores].relid = relid;
	stores[nstores].nlocks = 0;
	stores[nstores].ngrouped = 0;
	return &stores[nstores++];
}

/* The allocator lock of relid is about to be taken (events_lock_store). */
void
commit_note_lock(Oid relid)
{
	CommitStore *cs = commit_store(relid);

	if (cs)
		cs->nlocks++;
}

/* insert_events holds store's allocator lock and is about to append. */
void
commit_note_append(StoreEntry *store)
{
	CommitStore *cs = commit_store(store->relid);

	if (cs && store->grouped)
		cs->ngrouped++;
}

static bool
allocator_lock_held(Oid relid, LOCKTAG *tag)
{
	sm_advisory_locktag(tag, SM_LOCK_EVENTS, relid);
#if PG_VERSION_NUM >= 170000
	return LockHeldByMe(tag, ExclusiveLock, false);
#else
	return LockHeldByMe(tag, ExclusiveLock);
#endif
}

/* The notification queue's lock (see the header comment), taken once */
static void
release_notify_lock(void)
{
	LOCKTAG		tag;

	SET_LOCKTAG_OBJECT(tag, InvalidOid, DatabaseRelationId, 0, 0);
#if PG_VERSION_NUM >= 170000
	if (LockHeldByMe(&tag, AccessExclusiveLock, false))
#else
	if (LockHeldByMe(&tag, AccessExclusiveLock))
#endif
		LockRelease(&tag, AccessExclusiveLock, false);
}

/*
 * Pre-commit: group this commit if the transaction still holds the
 * allocator lock of a grouped store (a rolled-back savepoint may have
 * released it along with the rows), and took every allocator lock it still
 * holds to append in grouped mode (not in durable mode, nor for restore or
 * sync).
 */
static void
commit_pre_commit(void)
{
	bool		any = false;
	int			i;

	if (nstores == 0 || stores_overflow)
		return;
	for (i = 0; i < nstores; i++)
	{
		LOCKTAG		tag;

		if (!allocator_lock_held(stores[i].relid, &tag))
			continue;
		if (stores[i].ngrouped < stores[i].nlocks)
			return;
		any = true;
	}
	if (!any)
		return;

	/*
	 * Set the variable, not the setting: nothing but RecordTransactionCommit
	 * reads it from here to the commit callback, SyncRepWaitMode keeps the
	 * caller's value for the wait below, and no SET can undo it any more.
	 */
	saved_synchronous_commit = synchronous_commit;
	synchronous_commit = SYNCHRONOUS_COMMIT_OFF;
	grouped_pending = true;
}

/*
 * Commit, visible, locks still held: hand the allocator on, then make the
 * commit as durable as the caller asked before the client hears of it.
 */
static void
commit_grouped(void)
{
	XLogRecPtr	lsn = XactLastCommitEnd;
	ResourceOwner save = CurrentResourceOwner;
	int			i;

	/*
	 * The allocator locks belong to the transaction (events_lock_store),
	 * whatever owner is current now (a procedure's COMMIT runs in its
	 * call's portal).
	 */
	CurrentResourceOwner = TopTransactionResourceOwner;
	for (i = 0; i < nstores; i++)
	{
		LOCKTAG		tag;

		/* once per insert_events call of the transaction */
		while (allocator_lock_held(stores[i].relid, &tag) &&
			   LockRelease(&tag, ExclusiveLock, false))
			;
	}
	CurrentResourceOwner = save;
	/* taken by PreCommit_Notify, for the owner current at this commit */
	release_notify_lock();
	TRACE_ALLOCATOR(ALLOC_RELEASED);

	synchronous_commit = saved_synchronous_commit;
	if (synchronous_commit > SYNCHRONOUS_COMMIT_OFF &&
		!XLogRecPtrIsInvalid(lsn))
	{
		/* as in RecordTransactionCommit: a failure to flush is a PANIC */
		START_CRIT_SECTION();
		XLogFlush(lsn);
		END_CRIT_SECTION();
		/* returns at once unless synchronous standbys are to confirm */
		SyncRepWaitForLSN(lsn, true);
	}
}

static void
commit_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
			TRACE_ALLOCATOR(ALLOC_PRE_COMMIT);
			commit_pre_commit();
			return;
		case XACT_EVENT_COMMIT:
			if (grouped_pending)
				commit_grouped();
			else				/* durable: flushed, released right after this */
				TRACE_ALLOCATOR(ALLOC_RELEASED);
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PREPARE:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PARALLEL_ABORT:
			if (grouped_pending)
				synchronous_commit = saved_synchronous_commit;
			events_trace_reset();
			break;
		default:
			return;
	}
	nstores = 0;
	stores_overflow = false;
	grouped_pending = false;
}

/* "durable" (false) or "grouped" (true) */
static bool
parse_commit_mode(const char *s)
{
	if (strcmp(s, "grouped") == 0)
		return true;
	if (strcmp(s, "durable") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid commit mode"),
				 errdetail("The commit mode must be \"durable\" or \"grouped\".")));
	return false;
}

/*
 * set_event_store_commit(store, commit_mode)
 *		Choose when insert_events hands the store's allocator to the next
 *		writer: after the commit is flushed ('durable') or once it is
 *		written and visible ('grouped').  Either order keeps the ids gapless
 *		and in commit order, so writers in flight may finish under the old
 *		mode while new ones use the new one.
 */
Datum
set_event_store_commit(PG_FUNCTION_ARGS)
{
	Oid			relid;
	bool		grouped;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("store and commit mode must not be null"),
				 errdetail("set_event_store_commit takes a registered source store and a commit mode."),
				 errhint("The commit mode is \"durable\" or \"grouped\".")));
	relid = PG_GETARG_OID(0);
	grouped = parse_commit_mode(text_to_cstring(PG_GETARG_TEXT_PP(1)));
	(void) store_get(relid, true);
	check_store_owner(relid);

	SPI_connect();
	registry_set(relid, "commit_mode", grouped ? "grouped" : "durable");
	SPI_finish();
	PG_RETURN_VOID();
}
