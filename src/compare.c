/*-------------------------------------------------------------------------
 *
 * compare.c
 *	  compare_events (find the first id at which a store and the events
 *	  table of another database differ) and the range hashes behind it,
 *	  which restore_events and sync_events use for their checks too.
 *
 * Each side hashes the canonical text of its rows in buckets of ids, the
 * remote side while the local side works; the first bucket that differs
 * is bisected the same way until it is one id wide.  Each side is read in
 * one snapshot: the remote in one REPEATABLE READ transaction (remote.c),
 * the store in a snapshot registered for the call (compare_events) or, for
 * restore's and sync's checks, in the latest one, which shows their own
 * load and nothing else can change while they hold the store's locks.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/snapmgr.h"

#include "remote.h"

/* compare_events: buckets per bisection level */
#define COMPARE_FANOUT		256

/*
 * Canonical text of an event row, hashed identically on both sides: id, ts
 * in UTC with microseconds ("infinity" and "-infinity" as such: to_char
 * gives NULL for them), and the jsonb output of event (jsonb output is
 * canonical), separated by "|"; a NULL ts or event is "NULL", which no
 * timestamp or JSON text is.  The text is hashed as UTF-8, whatever the
 * database's encoding: the two databases may differ in theirs (dblink
 * converts the rows it copies).  Every name is qualified: the remote side
 * may hold objects that shadow unqualified ones.
 */
#define ROW_HASH_EXPR \
	"pg_catalog.md5(pg_catalog.convert_to(pg_catalog.concat_ws('|', id, " \
	"COALESCE(pg_catalog.to_char(pg_catalog.timezone('UTC', ts), " \
	"'YYYY-MM-DD HH24:MI:SS.US'), ts::pg_catalog.text, 'NULL'), " \
	"COALESCE(event::pg_catalog.jsonb::pg_catalog.text, 'NULL')), 'UTF8'))"

typedef struct BucketHashes
{
	int			n;
	int64	   *bucket;
	char	  **hash;
} BucketHashes;

static char *bucket_hash_sql(const char *table, int64 lo, int64 hi, int64 w);
static void collect_buckets(BucketHashes *bh);
static void local_buckets(Job *job, int64 lo, int64 hi, int64 w,
						  BucketHashes *bh);
static void remote_buckets_send(Job *job, int64 lo, int64 hi, int64 w);
static void remote_buckets_get(Job *job, BucketHashes *bh);
static void compare_work(Job *job);
static Datum compare_events(FunctionCallInfo fcinfo);

PG_FUNCTION_INFO_V1(sm_compare_events);

/* ------------------------------------------------------------------------
 * Range hashes
 * ------------------------------------------------------------------------
 */

/* SQL for the hashes of buckets of width w over ids lo..hi of table. */
static char *
bucket_hash_sql(const char *table, int64 lo, int64 hi, int64 w)
{
	return psprintf("SELECT (id OPERATOR(pg_catalog.-) " INT64_FORMAT ") "
					"OPERATOR(pg_catalog./) " INT64_FORMAT " AS b, "
					"pg_catalog.md5(pg_catalog.string_agg(" ROW_HASH_EXPR ", '' ORDER BY id)) AS h "
					"FROM %s WHERE id OPERATOR(pg_catalog.>=) " INT64_FORMAT
					" AND id OPERATOR(pg_catalog.<=) " INT64_FORMAT " "
					"GROUP BY 1 ORDER BY 1",
					lo, w, table, lo, hi);
}

/* Copy the (b bigint, h text) rows of the last SPI result. */
static void
collect_buckets(BucketHashes *bh)
{
	uint64		i;

	bh->n = (int) SPI_processed;
	bh->bucket = palloc(sizeof(int64) * (bh->n + 1));
	bh->hash = palloc(sizeof(char *) * (bh->n + 1));
	for (i = 0; i < SPI_processed; i++)
	{
		bh->bucket[i] = sm_spi_int8(i, 1, NULL);
		bh->hash[i] = sm_spi_text(i, 2);
	}
}

static void
local_buckets(Job *job, int64 lo, int64 hi, int64 w, BucketHashes *bh)
{
	job_read_store(job, bucket_hash_sql(job->store.qualified_name, lo, hi, w));
	collect_buckets(bh);
}

/*
 * The remote side's bucket hashes are computed while the local side
 * computes its own: send the query, hash locally, then collect.
 */
static void
remote_buckets_send(Job *job, int64 lo, int64 hi, int64 w)
{
	Remote	   *r = &job->remote;
	const char *args[2] = {r->connname, bucket_hash_sql(r->table, lo, hi, w)};

	sm_spi_exec(psprintf("SELECT %s.dblink_send_query($1, $2)", r->dblink),
					 2, args, SPI_OK_SELECT);
}

static void
remote_buckets_get(Job *job, BucketHashes *bh)
{
	Remote	   *r = &job->remote;
	const char *args[1] = {r->connname};
	char	   *q = psprintf("SELECT * FROM %s.dblink_get_result($1) AS t(b bigint, h text)",
							 r->dblink);

	sm_spi_exec(q, 1, args, SPI_OK_SELECT);
	collect_buckets(bh);
	/* one more call collects the end of the results, freeing the connection */
	sm_spi_exec(q, 1, args, SPI_OK_SELECT);
}

/*
 * First id in lo..hi at which the local store and the remote table differ
 * (a row present on one side only, or different), or 0 when they agree.
 * Bisects: hashes of up to COMPARE_FANOUT buckets per level on each side,
 * then descends into the first bucket that differs.
 */
int64
compare_first_difference(Job *job, int64 lo, int64 hi)
{
	while (lo <= hi)
	{
		int64		w = (hi - lo) / COMPARE_FANOUT + 1;
		BucketHashes l,
					r;
		int			i = 0,
					j = 0;
		int64		diff = -1;

		CHECK_FOR_INTERRUPTS();
		remote_buckets_send(job, lo, hi, w);
		local_buckets(job, lo, hi, w, &l);
		remote_buckets_get(job, &r);

		/* merge the two ordered bucket lists, stop at the first mismatch */
		while (i < l.n || j < r.n)
		{
			if (i < l.n && j < r.n && l.bucket[i] == r.bucket[j])
			{
				if (strcmp(l.hash[i], r.hash[j]) != 0)
				{
					diff = l.bucket[i];
					break;
				}
				i++, j++;
			}
			else if (j >= r.n || (i < l.n && l.bucket[i] < r.bucket[j]))
			{
				diff = l.bucket[i];
				break;
			}
			else
			{
				diff = r.bucket[j];
				break;
			}
		}
		if (diff < 0)
			return 0;
		lo = lo + diff * w;
		if (w == 1)
			return lo;
		hi = Min(hi, lo + w - 1);
	}
	return 0;
}

/* Whether rows lo..hi are the same on both sides. */
bool
compare_ranges_equal(Job *job, int64 lo, int64 hi)
{
	return compare_first_difference(job, lo, hi) == 0;
}

/* ------------------------------------------------------------------------
 * compare_events
 * ------------------------------------------------------------------------
 */
static void
compare_work(Job *job)
{
	Remote	   *r = &job->remote;
	int64		lcount,
				lmin,
				lmax;

	events_lookup_store(job->store_relid, false, &job->store);

	/*
	 * One snapshot of the store for the whole call, as the other side has
	 * one: a sync or a writer committing meanwhile is seen by every read
	 * or by none.
	 */
	job->local_snapshot = RegisterSnapshot(GetTransactionSnapshot());
	restore_store_stats(job, 0, &lcount, &lmin, &lmax);
	remote_connect(r);
	remote_setup(r);
	remote_query(r, psprintf("SELECT COALESCE(pg_catalog.max(id), 0)::pg_catalog.int8 FROM %s",
							 r->table),
				 "max bigint");
	job->local_max = lmax;
	job->remote_max = sm_spi_int8(0, 1, NULL);
	job->first_difference = compare_first_difference(job, 1, Max(lmax, job->remote_max));
	job->equal = (job->first_difference == 0);
	remote_exec(r, "COMMIT");
	UnregisterSnapshot(job->local_snapshot);
	job->local_snapshot = NULL;
}

/*
 * compare_events(other, store, remote_table)
 *		Compare a store with the events table of another database.
 */
static Datum
compare_events(FunctionCallInfo fcinfo)
{
	Job			job;
	TupleDesc	tupdesc;
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};

	remote_job_from_connection_args(fcinfo, &job, REMOTE_OTHER, "other");
	remote_run_job(&job, compare_work);

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	tupdesc = BlessTupleDesc(tupdesc);
	values[0] = BoolGetDatum(job.equal);
	values[1] = Int64GetDatum(job.first_difference);
	nulls[1] = job.equal;
	values[2] = Int64GetDatum(job.local_max);
	values[3] = Int64GetDatum(job.remote_max);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

Datum
sm_compare_events(PG_FUNCTION_ARGS)
{
	return remote_call_hiding_statement(fcinfo, compare_events,
										remote_connection_arg_has_password(fcinfo));
}
