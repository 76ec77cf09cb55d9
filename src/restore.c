/*-------------------------------------------------------------------------
 *
 * restore.c
 *	  restore_events: rebuild an empty source store from an online backup,
 *	  over dblink (see remote.c), and the row loading that sync_events
 *	  shares with it.
 *
 * Speed and memory: rows are copied in id ranges of
 * schema_mgr.restore_batch_size, one INSERT ... SELECT FROM dblink() each
 * (dblink reads in single-row mode into a tuplestore bounded by work_mem,
 * so the remote produces rows while we parse them and memory stays flat);
 * into an empty store, the indexes (primary key included) are dropped
 * first and rebuilt after the load, inside the same transaction; rows go
 * in through events_allow_direct_insert, so no notification is sent.
 *
 * Locks: insert_events locks the store's table (RowExclusiveLock) and then
 * the store's allocator lock.  Restore and sync take the locks in the same
 * order, and every table lock they will need before the allocator lock
 * (AccessExclusiveLock when the indexes are to be rebuilt, else
 * ExclusiveLock, which keeps writers out and lets readers in), so a writer
 * arriving meanwhile waits for them instead of deadlocking with them.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "portability/instr_time.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"

#include "remote.h"

/* ids per dblink() query when copying rows */
static int	restore_batch_size = 20000;

/* a progress NOTICE at least every this many rows ... */
#define PROGRESS_ROWS		100000
/* ... or every this many seconds, whichever comes first */
#define PROGRESS_SECONDS	10.0

typedef struct SavedIndex
{
	char	   *drop;			/* DROP INDEX / ALTER TABLE ... DROP CONSTRAINT */
	char	   *create;			/* CREATE INDEX / ALTER TABLE ... ADD CONSTRAINT */
} SavedIndex;

static void restore_work(Job *job);
static Datum restore_events_password(FunctionCallInfo fcinfo);
static Datum restore_events_connection(FunctionCallInfo fcinfo);

PG_FUNCTION_INFO_V1(sm_restore_events_password);
PG_FUNCTION_INFO_V1(sm_restore_events);

/* ------------------------------------------------------------------------
 * Module initialisation
 * ------------------------------------------------------------------------
 */
void
restore_init(void)
{
	DefineCustomIntVariable("schema_mgr.restore_batch_size",
							"Rows fetched per round trip by restore_events and sync_events.",
							"Memory use grows with the batch size, not with the number of events.",
							&restore_batch_size,
							20000, 100, 1000000,
							PGC_USERSET, 0,
							NULL, NULL, NULL);
}

/* ------------------------------------------------------------------------
 * Loading rows
 * ------------------------------------------------------------------------
 */

/*
 * Whether restore and sync may drop the store's indexes, the primary key
 * included, to rebuild them after loading into an empty store: building an
 * index once after loading an empty table is much faster than maintaining
 * it row by row (on 1M events, dropping the primary key too took the load
 * from about 10 s to 8 s, for 0.6 s to rebuild it).  Only done by the
 * table's owner, and only when no index carries state that recreating it
 * would lose (replica identity, CLUSTER mark) and no foreign key
 * references the table; otherwise the indexes stay and are maintained as
 * rows arrive.  Decided before any lock is taken beyond the caller's, so
 * that the caller can take the table lock dropping needs first.
 */
bool
restore_may_drop_indexes(Oid relid)
{
	Oid			types[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(relid)};
	int			rc;
	bool		isnull;

	if (!sm_class_ownercheck(relid, GetUserId()))
		return false;

	rc = SPI_execute_with_args("SELECT NOT EXISTS (SELECT 1 FROM pg_catalog.pg_index "
							   "                   WHERE indrelid OPERATOR(pg_catalog.=) $1 "
							   "                   AND (indisreplident OR indisclustered)) "
							   "   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint "
							   "                   WHERE confrelid OPERATOR(pg_catalog.=) $1)",
							   1, types, values, NULL, false, 0);
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not inspect the indexes of the store");
	return DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

/*
 * Lock the store for a load: its table in table_lock mode, then its
 * allocator lock, as insert_events takes them (see the file header).
 */
void
restore_lock_store(Oid relid, LOCKMODE table_lock)
{
	LockRelationOid(relid, table_lock);
	events_lock_store(relid);
}

/* count, min and max of the store's ids above from_id */
void
restore_store_stats(Job *job, int64 from_id, int64 *count, int64 *min, int64 *max)
{
	job_read_store(job, psprintf("SELECT pg_catalog.count(*), pg_catalog.min(id), pg_catalog.max(id) "
								 "FROM %s WHERE id OPERATOR(pg_catalog.>) " INT64_FORMAT,
								 job->store.qualified_name, from_id));
	*count = sm_spi_int8(0, 1, NULL);
	*min = sm_spi_int8(0, 2, NULL);
	*max = sm_spi_int8(0, 3, NULL);
}

/*
 * Refuse remote rows with a null ts or event, which the store's columns
 * reject, naming the first such row and its column instead of leaving it to
 * the store's NOT NULL constraint.  rows, ts_nonnull, event_nonnull: the
 * remote table's count(*), count(ts) and count(event), read in the call's
 * remote snapshot.
 */
void
restore_refuse_null_columns(Job *job, int64 rows, int64 ts_nonnull,
							int64 event_nonnull)
{
	Remote	   *r = &job->remote;
	int64		id;
	bool		ts_null;
	int64		n;

	if (ts_nonnull == rows && event_nonnull == rows)
		return;
	remote_query(r, psprintf("SELECT id::pg_catalog.int8, ts IS NULL FROM %s "
							 "WHERE ts IS NULL OR event IS NULL "
							 "ORDER BY id LIMIT 1", r->table),
				 "id bigint, ts_null boolean");
	if (SPI_processed != 1)
		elog(ERROR, "the %s's rows with a null column have disappeared",
			 remote_noun(r->role));
	id = sm_spi_int8(0, 1, NULL);
	ts_null = (strcmp(sm_spi_text(0, 2), "t") == 0);
	n = rows - (ts_null ? ts_nonnull : event_nonnull);
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("the event with id " INT64_FORMAT " in the %s has a null %s",
					id, remote_noun(r->role), ts_null ? "ts" : "event"),
			 errdetail_plural("Table %s in the %s has " INT64_FORMAT " row with a null %s.",
							  "Table %s in the %s has " INT64_FORMAT " rows with a null %s.",
							  (unsigned long) n,
							  r->table, remote_noun(r->role), n,
							  ts_null ? "ts" : "event"),
			 errhint("Correct that event in table %s of the %s, or load from another database.",
					 r->table, remote_noun(r->role)),
			 errhidestmt(r->hide_stmt)));
}

/*
 * Drop the store's indexes, the primary key included (the caller made sure
 * restore_may_drop_indexes() and holds AccessExclusiveLock), and return how
 * to recreate them.  The primary key is rebuilt first, so a duplicate id
 * still fails the load.  An index whose definition pg_get_indexdef does
 * not fully give back (a tablespace of its own, a comment, a column
 * statistics target) stays.  The rebuilt indexes go to the database's
 * default tablespace, as before: remote_run_job sets default_tablespace
 * to ''.
 */
List *
restore_drop_indexes(Job *job)
{
	List	   *saved = NIL;
	Oid			types[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(job->store.relid)};
	uint64		i;
	ListCell   *lc;
	int			rc;

	/* the primary key first (recreated first), then the others by name */
	rc = SPI_execute_with_args(
							   "SELECT pg_catalog.format('ALTER TABLE %s DROP CONSTRAINT %I', $1::pg_catalog.regclass, k.conname), "
							   "       pg_catalog.format('ALTER TABLE %s ADD CONSTRAINT %I %s', $1::pg_catalog.regclass, k.conname, "
							   "              pg_catalog.pg_get_constraintdef(k.oid)) "
							   "FROM pg_catalog.pg_constraint k "
							   "WHERE k.conrelid OPERATOR(pg_catalog.=) $1 AND k.contype OPERATOR(pg_catalog.=) 'p' "
							   "AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_description d "
							   "                WHERE (d.classoid OPERATOR(pg_catalog.=) 'pg_catalog.pg_constraint'::pg_catalog.regclass "
							   "                       AND d.objoid OPERATOR(pg_catalog.=) k.oid) "
							   "                   OR (d.classoid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass "
							   "                       AND d.objoid OPERATOR(pg_catalog.=) k.conindid)) "
							   "AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a "
							   "                WHERE a.attrelid OPERATOR(pg_catalog.=) k.conindid "
							   "                  AND a.attstattarget OPERATOR(pg_catalog.>) 0) "
							   "UNION ALL "
							   "SELECT * FROM (SELECT pg_catalog.format('DROP INDEX %I.%I', n.nspname, c.relname), "
							   "       pg_catalog.pg_get_indexdef(i.indexrelid) "
							   "FROM pg_catalog.pg_index i "
							   "JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) i.indexrelid "
							   "JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace "
							   "WHERE i.indrelid OPERATOR(pg_catalog.=) $1 "
							   "AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k "
							   "                WHERE k.conindid OPERATOR(pg_catalog.=) i.indexrelid) "
							   "AND c.reltablespace OPERATOR(pg_catalog.=) 0 "
							   "AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_description d "
							   "                WHERE d.classoid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass "
							   "                  AND d.objoid OPERATOR(pg_catalog.=) i.indexrelid) "
							   "AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a "
							   "                WHERE a.attrelid OPERATOR(pg_catalog.=) i.indexrelid "
							   "                  AND a.attstattarget OPERATOR(pg_catalog.>) 0) "
							   "ORDER BY c.relname) s",
							   1, types, values, NULL, false, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not list the indexes of the store");
	for (i = 0; i < SPI_processed; i++)
	{
		SavedIndex *si = palloc(sizeof(SavedIndex));

		si->drop = sm_spi_text(i, 1);
		si->create = sm_spi_text(i, 2);
		saved = lappend(saved, si);
	}
	foreach(lc, saved)
	{
		SavedIndex *si = lfirst(lc);

		sm_spi_exec(si->drop, 0, NULL, SPI_OK_UTILITY);
	}
	return saved;
}

void
restore_recreate_indexes(List *saved)
{
	ListCell   *lc;

	foreach(lc, saved)
	{
		SavedIndex *si = lfirst(lc);

		CHECK_FOR_INTERRUPTS();
		sm_spi_exec(si->create, 0, NULL, SPI_OK_UTILITY);
	}
}

/*
 * Copy the remote rows with ids from_id + 1 .. to_id (known to be dense) in
 * id order into the local store, restore_batch_size ids per statement, so
 * memory stays flat however many rows there are.  Each batch is one
 * dblink() query; dblink reads its result in single-row mode, so the remote
 * backend produces rows while this one parses them.  Returns the rows
 * copied.
 */
int64
restore_copy_rows(Job *job, int64 from_id, int64 to_id, const char *verb)
{
	Remote	   *r = &job->remote;
	char	   *insert_sql;
	SPIPlanPtr	plan;
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		values[2];
	int64		total = 0;
	int64		expected = to_id - from_id;
	int64		next_progress = PROGRESS_ROWS;
	int64		lo;
	instr_time	start,
				last,
				now;

	insert_sql = psprintf("INSERT INTO %s (id, ts, event) "
						  "SELECT id, ts, event "
						  "FROM %s.dblink($1, $2) "
						  "AS t(id bigint, ts timestamptz, event jsonb)",
						  job->store.qualified_name, r->dblink);
	plan = SPI_prepare(insert_sql, 2, types);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	values[0] = CStringGetTextDatum(r->connname);

	INSTR_TIME_SET_CURRENT(start);
	last = start;
	for (lo = from_id + 1; lo <= to_id; lo += restore_batch_size)
	{
		int64		hi = Min(to_id, lo + restore_batch_size - 1);
		char	   *batch_sql;
		int			rc;

		CHECK_FOR_INTERRUPTS();
		batch_sql = psprintf("SELECT id, ts, event FROM %s "
							 "WHERE id OPERATOR(pg_catalog.>=) " INT64_FORMAT
							 " AND id OPERATOR(pg_catalog.<=) " INT64_FORMAT
							 " ORDER BY id",
							 r->table, lo, hi);
		values[1] = CStringGetTextDatum(batch_sql);
		job->loading_lo = lo;
		job->loading_hi = hi;
		rc = SPI_execute_plan(plan, values, NULL, false, 0);
		job->loading_lo = job->loading_hi = 0;
		if (rc != SPI_OK_INSERT)
			elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(rc));
		total += SPI_processed;
		pfree(DatumGetPointer(values[1]));
		pfree(batch_sql);

		INSTR_TIME_SET_CURRENT(now);
		INSTR_TIME_SUBTRACT(now, last);
		if (total >= next_progress || INSTR_TIME_GET_DOUBLE(now) >= PROGRESS_SECONDS)
		{
			instr_time	elapsed;

			INSTR_TIME_SET_CURRENT(elapsed);
			INSTR_TIME_SUBTRACT(elapsed, start);
			ereport(NOTICE,
					(errmsg("%s " INT64_FORMAT " of " INT64_FORMAT " events (%.0f%%, %.1f s)",
							verb, total, expected,
							expected > 0 ? 100.0 * total / expected : 100.0,
							INSTR_TIME_GET_DOUBLE(elapsed)),
					 errhidestmt(r->hide_stmt)));
			while (next_progress <= total)
				next_progress += PROGRESS_ROWS;
			INSTR_TIME_SET_CURRENT(last);
		}
	}
	SPI_freeplan(plan);
	return total;
}

/*
 * A row of the batch being loaded could not be taken (a data exception,
 * such as an event that is not valid JSON): find the first row of the batch
 * that is not valid JSON and name its id, with PostgreSQL's error, bounded,
 * as detail (see sm_jsonb_in), instead of dblink's context.  Called on the
 * error path of remote_run_job while the remote transaction is still open;
 * gives back edata, its detail bounded the same way, if no such row is
 * found.
 */
typedef struct BadRowSearch
{
	Job		   *job;
	int64		id;				/* out: the first bad id, or 0 */
} BadRowSearch;

static void
find_bad_row_call(void *arg)
{
	BadRowSearch *search = (BadRowSearch *) arg;
	Job		   *job = search->job;
	uint64		i;

	remote_query(&job->remote,
				 psprintf("SELECT id, event::pg_catalog.text FROM %s "
						  "WHERE id OPERATOR(pg_catalog.>=) " INT64_FORMAT
						  " AND id OPERATOR(pg_catalog.<=) " INT64_FORMAT
						  " ORDER BY id",
						  job->remote.table, job->loading_lo, job->loading_hi),
				 "id bigint, event text");
	for (i = 0; i < SPI_processed; i++)
	{
		char	   *event = sm_spi_text(i, 2);
		Datum		jb;
		SmInvalidJson invalid;

		CHECK_FOR_INTERRUPTS();
		if (event == NULL || sm_jsonb_in(event, &jb, &invalid))
			continue;
		search->id = sm_spi_int8(i, 1, NULL);
		ereport(ERROR,
				(errcode(invalid.sqlerrcode),
				 errmsg("the event with id " INT64_FORMAT " in the %s is not valid JSON",
						search->id, remote_noun(job->remote.role)),
				 errdetail_internal("%s", invalid.detail),
				 errhint("Correct that event in table %s of the %s, or load from another database.",
						 job->remote.table, remote_noun(job->remote.role))));
	}
}

ErrorData *
restore_explain_load_error(Job *job, ErrorData *edata)
{
	BadRowSearch search = {job, 0};
	ErrorData  *e;

	e = sm_try_subxact(find_bad_row_call, &search);
	if (e != NULL && search.id != 0)
		return e;
	edata->detail = sm_clip(edata->detail, SM_EXCERPT_BYTES);
	return edata;
}

/* ------------------------------------------------------------------------
 * restore_events
 * ------------------------------------------------------------------------
 */
static void
restore_work(Job *job)
{
	Remote	   *r = &job->remote;
	int64		count,
				nonnull,
				minid,
				maxid,
				distinct,
				ts_nonnull,
				event_nonnull;
	bool		isnull,
				drop_indexes;
	List	   *indexes = NIL;
	int64		lcount,
				lmin,
				lmax;
	instr_time	t0,
				t1,
				t2,
				t3;

	/* the store must be seen empty once locked: not as it was before */
	sm_require_read_committed("restore events", "A restore", "Restore events");

	/*
	 * The target: an empty source store, which nobody else may write now;
	 * its table lock first, then the allocator lock (see the file header).
	 */
	events_lookup_store(job->store_relid, true, &job->store);
	drop_indexes = restore_may_drop_indexes(job->store.relid);
	restore_lock_store(job->store.relid,
					   drop_indexes ? AccessExclusiveLock : ExclusiveLock);
	/* what was decided before the lock still holds? (nobody can change it now) */
	drop_indexes = drop_indexes && restore_may_drop_indexes(job->store.relid);
	sm_spi_exec(psprintf("SELECT EXISTS (SELECT 1 FROM %s)", job->store.qualified_name),
				0, NULL, SPI_OK_SELECT);
	if (DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("event store \"%s\" is not empty", job->store.qualified_name),
				 errdetail("Events can only be restored into a freshly created, empty source store."),
				 errhint("Create a new source store with create_event_store('source') and restore into it."),
				 errhidestmt(r->hide_stmt)));

	/* the backup: reachable, and exactly ids 1..N with N >= 1 */
	remote_connect(r);
	remote_setup(r);
	remote_query(r, psprintf("SELECT pg_catalog.count(*), pg_catalog.count(id), "
							 "pg_catalog.min(id)::pg_catalog.int8, "
							 "pg_catalog.max(id)::pg_catalog.int8, "
							 "pg_catalog.count(ts), pg_catalog.count(event) FROM %s",
							 r->table),
				 "count bigint, nonnull bigint, min bigint, max bigint, "
				 "ts_nonnull bigint, event_nonnull bigint");
	count = sm_spi_int8(0, 1, NULL);
	nonnull = sm_spi_int8(0, 2, NULL);
	minid = sm_spi_int8(0, 3, NULL);
	maxid = sm_spi_int8(0, 4, NULL);
	ts_nonnull = sm_spi_int8(0, 5, NULL);
	event_nonnull = sm_spi_int8(0, 6, NULL);

	if (count == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the backup has no events"),
				 errdetail("Table %s in the backup database (%s) is empty.",
						   r->table, r->describe),
				 errhint("Restore from a backup that holds at least one event."),
				 errhidestmt(r->hide_stmt)));
	if (nonnull != count)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("the backup has events without an id"),
				 errdetail("Table %s in the backup database has " INT64_FORMAT " rows, " INT64_FORMAT " of them with a null id.",
						   r->table, count, count - nonnull),
				 errhint("Restore from a backup whose events are numbered 1 to N without gaps."),
				 errhidestmt(r->hide_stmt)));
	restore_refuse_null_columns(job, count, ts_nonnull, event_nonnull);
	if (minid != 1 || maxid != count)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("the backup's event ids are not 1 to " INT64_FORMAT, count),
				 errdetail("Table %s in the backup database has " INT64_FORMAT " events with ids from " INT64_FORMAT " to " INT64_FORMAT ".",
						   r->table, count, minid, maxid),
				 errhint("Restore from a backup whose events are numbered 1 to N without gaps."),
				 errhidestmt(r->hide_stmt)));
	if (!r->id_unique)
	{
		/* no unique index on id: duplicates are possible, count them */
		remote_query(r, psprintf("SELECT pg_catalog.count(DISTINCT id) FROM %s", r->table),
					 "n bigint");
		distinct = sm_spi_int8(0, 1, NULL);
		if (distinct != count)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("the backup has duplicate event ids"),
					 errdetail("Table %s in the backup database has " INT64_FORMAT " events but only " INT64_FORMAT " distinct ids from 1 to " INT64_FORMAT ".",
							   r->table, count, distinct, maxid),
					 errhint("Restore from a backup whose events are numbered 1 to N without gaps."),
					 errhidestmt(r->hide_stmt)));
	}

	/* load: secondary indexes are built afterwards, no notifications */
	events_allow_direct_insert(job->store.relid);
	INSTR_TIME_SET_CURRENT(t0);
	if (drop_indexes)
		indexes = restore_drop_indexes(job);
	job->rows = restore_copy_rows(job, 0, maxid, "restored");
	events_end_direct_insert(job->store.relid);
	INSTR_TIME_SET_CURRENT(t1);
	restore_recreate_indexes(indexes);
	INSTR_TIME_SET_CURRENT(t2);

	/* post-conditions: the store holds exactly 1..N, as the backup */
	restore_store_stats(job, 0, &lcount, &lmin, &lmax);
	if (job->rows != count || lcount != count || lmin != 1 || lmax != count)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("restored events do not match the backup"),
				 errdetail("Expected ids 1 to " INT64_FORMAT "; copied " INT64_FORMAT " rows, the store has " INT64_FORMAT " rows with ids from " INT64_FORMAT " to " INT64_FORMAT ".",
						   count, job->rows, lcount, lmin, lmax),
				 errhint("Nothing was restored."),
				 errhidestmt(r->hide_stmt)));
	/* spot check: the first and last rows hash the same on both sides */
	if (!compare_ranges_equal(job, 1, Min(count, SPOT_CHECK_ROWS)) ||
		!compare_ranges_equal(job, Max(1, count - SPOT_CHECK_ROWS + 1), count))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("restored events do not match the backup"),
				 errdetail("The checksums of the first or last events differ."),
				 errhint("Nothing was restored."),
				 errhidestmt(r->hide_stmt)));

	remote_exec(r, "COMMIT");
	job->max_id = maxid;
	INSTR_TIME_SET_CURRENT(t3);
	INSTR_TIME_SUBTRACT(t3, t2);
	INSTR_TIME_SUBTRACT(t2, t1);
	INSTR_TIME_SUBTRACT(t1, t0);
	elog(DEBUG1, "restore_events: loaded in %.2f s, %d indexes built in %.2f s, checked in %.2f s",
		 INSTR_TIME_GET_DOUBLE(t1), list_length(indexes),
		 INSTR_TIME_GET_DOUBLE(t2), INSTR_TIME_GET_DOUBLE(t3));
}

/*
 * restore_events(fromHost, fromDatabase, fromDatabaseUser,
 *				  fromDatabasePassword, store, fromPort, remote_table)
 *		The slate-compatible form.  The password is in the SQL text by
 *		design, so every message of this call hides the statement.
 */
Datum
sm_restore_events_password(PG_FUNCTION_ARGS)
{
	return remote_call_hiding_statement(fcinfo, restore_events_password, true);
}

static Datum
restore_events_password(FunctionCallInfo fcinfo)
{
	Job			job;

	remote_job_from_password_args(fcinfo, &job);
	remote_run_job(&job, restore_work);
	PG_RETURN_DATUM(remote_two_int8_result(fcinfo, job.rows, job.max_id + 1));
}

/*
 * restore_events(connection, store, remote_table)
 *		connection is a libpq connection string or a foreign server name
 *		(credentials in a user mapping or .pgpass): no password in SQL text.
 */
static Datum
restore_events_connection(FunctionCallInfo fcinfo)
{
	Job			job;

	remote_job_from_connection_args(fcinfo, &job, REMOTE_BACKUP, "connection");
	remote_run_job(&job, restore_work);
	PG_RETURN_DATUM(remote_two_int8_result(fcinfo, job.rows, job.max_id + 1));
}

Datum
sm_restore_events(PG_FUNCTION_ARGS)
{
	return remote_call_hiding_statement(fcinfo, restore_events_connection,
										remote_connection_arg_has_password(fcinfo));
}
