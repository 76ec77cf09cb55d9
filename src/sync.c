/*-------------------------------------------------------------------------
 *
 * sync.c
 *	  sync_events: bring a destination store up to date from a source, over
 *	  dblink.  The destination must hold ids 1..M, the same rows as the
 *	  source's 1..M (spot-checked at both ends, or all of them with
 *	  verify_all); the source's rows above M are then copied as restore
 *	  copies them.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/spi.h"
#include "funcapi.h"
#include "storage/lmgr.h"

#include "remote.h"

static Oid	only_destination_store(void);
static void sync_work(Job *job);
static Datum sync_events(FunctionCallInfo fcinfo);

PG_FUNCTION_INFO_V1(sm_sync_events);

/* ------------------------------------------------------------------------
 * sync_events
 * ------------------------------------------------------------------------
 */

/* The only destination store of this database (an error unless exactly one). */
static Oid
only_destination_store(void)
{
	bool		isnull;
	char	   *sql = psprintf("SELECT relid::pg_catalog.oid FROM %s.event_store "
							   "WHERE kind OPERATOR(pg_catalog.=) 'destination'",
							   sm_extension_schema());

	sm_spi_exec(sql, 0, NULL, SPI_OK_SELECT);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("no destination event store exists in this database"),
				 errhint("Create one with create_event_store('destination').")));
	if (SPI_processed > 1)
		ereport(ERROR,
				(errcode(ERRCODE_AMBIGUOUS_PARAMETER),
				 errmsg("more than one destination event store exists in this database"),
				 errhint("Name the store to bring up to date with the store argument.")));
	return DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0],
										  SPI_tuptable->tupdesc, 1, &isnull));
}

static void
sync_work(Job *job)
{
	Remote	   *r = &job->remote;
	int64		lcount,
				lmin,
				lmax,
				rmax,
				rcount,
				ts_nonnull,
				event_nonnull;
	List	   *indexes = NIL;
	bool		drop_indexes;

	/* what is read once the store is locked must include the last sync */
	sm_require_read_committed("sync events", "A sync", "Sync events");
	if (!OidIsValid(job->store_relid))
		job->store_relid = only_destination_store();
	events_lookup_store(job->store_relid, false, &job->store);
	if (job->store.is_source)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("event store \"%s\" is not a destination store", job->store.qualified_name),
				 errdetail("A source store assigns its own ids; copies of another store's events go into a destination store."),
				 errhint("Create one with create_event_store('destination').")));

	/*
	 * The table lock first, then the allocator lock (see restore.c).  A
	 * destination that is still empty gets its indexes rebuilt after the
	 * load, which needs AccessExclusiveLock: taken, when it is, before the
	 * allocator lock too.
	 */
	LockRelationOid(job->store.relid, ExclusiveLock);
	restore_store_stats(job, 0, &lcount, &lmin, &lmax);
	drop_indexes = (lcount == 0 && restore_may_drop_indexes(job->store.relid));
	restore_lock_store(job->store.relid,
					   drop_indexes ? AccessExclusiveLock : ExclusiveLock);
	drop_indexes = drop_indexes && restore_may_drop_indexes(job->store.relid);

	/* the destination must itself be 1..M */
	if (lcount != lmax || (lcount > 0 && lmin != 1))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("event store \"%s\" does not hold consecutive ids from 1",
						job->store.qualified_name),
				 errdetail("It has " INT64_FORMAT " rows with ids from " INT64_FORMAT " to " INT64_FORMAT ".",
						   lcount, lmin, lmax)));

	remote_connect(r);
	remote_setup(r);
	remote_query(r, psprintf("SELECT COALESCE(pg_catalog.max(id), 0)::pg_catalog.int8, "
							 "pg_catalog.count(*), pg_catalog.count(ts), "
							 "pg_catalog.count(event) FROM %s", r->table),
				 "max bigint, count bigint, ts_nonnull bigint, event_nonnull bigint");
	rmax = sm_spi_int8(0, 1, NULL);
	rcount = sm_spi_int8(0, 2, NULL);
	ts_nonnull = sm_spi_int8(0, 3, NULL);
	event_nonnull = sm_spi_int8(0, 4, NULL);
	job->local_max = lmax;
	job->remote_max = rmax;

	if (lmax > rmax)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("event store \"%s\" is ahead of the source", job->store.qualified_name),
				 errdetail("The destination's highest id is " INT64_FORMAT ", the source's is " INT64_FORMAT ".",
						   lmax, rmax),
				 errhint("The destination has diverged from the source; rebuild it from the source.")));
	if (rcount != rmax)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("the source's event ids are not consecutive from 1"),
				 errdetail("The source has " INT64_FORMAT " events and its highest id is " INT64_FORMAT ".",
						   rcount, rmax)));
	restore_refuse_null_columns(job, rcount, ts_nonnull, event_nonnull);
	if (lmax > 0)
	{
		int64		diff;

		if (job->verify_all)
			diff = compare_first_difference(job, 1, lmax);
		else
		{
			diff = compare_first_difference(job, Max(1, lmax - SPOT_CHECK_ROWS + 1), lmax);
			if (diff == 0)
				diff = compare_first_difference(job, 1, Min(lmax, SPOT_CHECK_ROWS));
		}
		if (diff != 0)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("event store \"%s\" has diverged from the source", job->store.qualified_name),
					 errdetail("The event with id " INT64_FORMAT " differs from the source's.", diff),
					 errhint("Find the extent with compare_events, then rebuild the destination from the source.")));
	}

	if (rmax > lmax)
	{
		int64		c,
					mn,
					mx;

		events_allow_direct_insert(job->store.relid);
		if (drop_indexes)
			indexes = restore_drop_indexes(job);
		job->rows = restore_copy_rows(job, lmax, rmax, "copied");
		events_end_direct_insert(job->store.relid);
		restore_recreate_indexes(indexes);
		restore_store_stats(job, lmax, &c, &mn, &mx);
		if (job->rows != rmax - lmax || c != rmax - lmax || mx != rmax)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("copied events do not match the source"),
					 errdetail("Expected ids " INT64_FORMAT " to " INT64_FORMAT "; copied " INT64_FORMAT " rows.",
							   lmax + 1, rmax, job->rows)));
	}
	remote_exec(r, "COMMIT");
	job->max_id = rmax;
}

/*
 * sync_events(source, store, remote_table, verify_all)
 *		Copy the source's events above the destination's highest id.
 */
static Datum
sync_events(FunctionCallInfo fcinfo)
{
	Job			job;

	remote_job_from_connection_args(fcinfo, &job, REMOTE_SOURCE, "source");
	job.verify_all = !PG_ARGISNULL(3) && PG_GETARG_BOOL(3);
	remote_run_job(&job, sync_work);
	PG_RETURN_DATUM(remote_two_int8_result(fcinfo, job.rows, job.max_id));
}

Datum
sm_sync_events(PG_FUNCTION_ARGS)
{
	return remote_call_hiding_statement(fcinfo, sync_events,
										remote_connection_arg_has_password(fcinfo));
}
