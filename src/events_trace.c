/*-------------------------------------------------------------------------
 *
 * events_trace.c
 *	  schema_mgr.trace_allocator: where the time of a transaction that
 *	  appends events goes, summed per backend and logged when it exits.
 *
 * Ids are handed out in commit order, so a store's writers run one after
 * another from the moment one gets the allocator lock until it releases it
 * at commit.  How long that section takes, and how much of it is the
 * insert, the rest of the caller's transaction and the commit, is what
 * decides how many events a store takes per second.  With the setting on
 * (superusers only), each backend adds up, per transaction that appended:
 *
 *	waiting		first request of the allocator lock until it is granted
 *	writing		granted until the last insert_events call of the
 *				transaction has written its rows and notifications
 *	until commit	from there to the start of the commit
 *	committing	start of the commit until the lock is released: the
 *				commit record and visibility, plus the WAL flush in
 *				'durable' mode (in 'grouped' mode the flush follows the
 *				release and is not counted)
 *
 * and logs the means when it exits.  test/bench/allocator_trace.sh runs
 * pgbench at several client counts and prints them side by side.  Off,
 * the cost is one test of a boolean per mark.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "portability/instr_time.h"
#include "storage/ipc.h"
#include "utils/guc.h"

#include "events.h"

bool		events_trace_allocator = false;

static instr_time marks[ALLOC_MARKS];
static int	marked = 0;			/* bit i: marks[i] set in this transaction */
static bool exit_registered = false;

static struct
{
	int64		transactions;
	double		usec[ALLOC_MARKS - 1];	/* between mark i and i + 1 */
}			totals;

static void
log_allocator_trace(int code, Datum arg)
{
	double		n = (double) totals.transactions;

	if (totals.transactions == 0)
		return;
	ereport(LOG,
			(errmsg("allocator trace: " INT64_FORMAT " transactions appended events; mean waiting %.1f us, writing %.1f us, until commit %.1f us, committing %.1f us",
					totals.transactions,
					totals.usec[0] / n, totals.usec[1] / n,
					totals.usec[2] / n, totals.usec[3] / n)));
}

void
events_trace_init(void)
{
	DefineCustomBoolVariable("schema_mgr.trace_allocator",
							 "Logs, when a backend exits, where the time of its transactions that appended events went.",
							 "Means of the wait for a store's allocator lock, the insert, the rest of "
							 "the transaction and the commit, for benchmarks.",
							 &events_trace_allocator,
							 false,
							 PGC_SUSET, 0,
							 NULL, NULL, NULL);
}

/*
 * events_trace_mark
 *		Record that the transaction reached point m.  The lock's request and
 *		grant count once per transaction (its first insert_events); a later
 *		point replaces an earlier record of itself.  At ALLOC_RELEASED a
 *		transaction that passed every point is added up.
 */
void
events_trace_mark(AllocMark m)
{
	int			i;

	if ((m == ALLOC_REQUEST || m == ALLOC_GRANTED) && (marked & (1 << m)))
		return;
	if (m != ALLOC_REQUEST && !(marked & (1 << (m - 1))))
		return;					/* restore, sync, or a release without an append */
	INSTR_TIME_SET_CURRENT(marks[m]);
	marked |= 1 << m;
	if (m != ALLOC_RELEASED)
		return;

	if (!exit_registered)
	{
		on_proc_exit(log_allocator_trace, (Datum) 0);
		exit_registered = true;
	}
	totals.transactions++;
	for (i = 0; i < ALLOC_MARKS - 1; i++)
	{
		instr_time	d = marks[i + 1];

		INSTR_TIME_SUBTRACT(d, marks[i]);
		totals.usec[i] += INSTR_TIME_GET_MICROSEC(d);
	}
	marked = 0;
}

/* The transaction ended without releasing through a traced commit. */
void
events_trace_reset(void)
{
	marked = 0;
}
