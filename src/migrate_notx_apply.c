/*-------------------------------------------------------------------------
 *
 * migrate_notx_apply.c
 *	  Applying a non-transactional migration: one step of
 *	  apply_migrations_stepwise.
 *
 * The step runs in a transaction of its own that the procedure begins
 * right after a commit, so that it holds no snapshot.  It takes the
 * component's "non-transactional migration running" key and then its
 * lock (mig_lock_component_notx: appliers of the component wait for them,
 * so the statement runs once; any other taker of the component's lock is
 * refused while the key is held, since it would wait with a snapshot that
 * the statement waits for), reads and checks the migration as
 * apply_migrations() does, hands the statement to a background worker
 * that runs it at top level (migrate_worker.c), and waits, still holding
 * no snapshot: CREATE INDEX CONCURRENTLY waits for every transaction whose
 * snapshot is older than its own, and would wait for this one forever.
 * Only after the worker reports success does the step write the history
 * row, and the procedure commits it.
 *
 * What an attempt that did not finish leaves behind:
 * - a failed, cancelled or crashed CREATE INDEX CONCURRENTLY leaves its
 *	 index INVALID, REINDEX CONCURRENTLY a "_ccnew" or "_ccold" index: the
 *	 next attempt drops them (DROP INDEX CONCURRENTLY, in the worker, before
 *	 the statement) and runs the statement again;
 * - an attempt that ended after the worker's commit and before the history
 *	 row's (a crash) leaves the index built and valid: the next attempt
 *	 records the migration as applied without building it again (when a
 *	 valid index of that name on the table is not the statement's, as far
 *	 as the catalogs tell, the attempt fails instead);
 * - the other statements allowed are safe to run again (DROP INDEX
 *	 CONCURRENTLY is, when written with IF EXISTS).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/transam.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "nodes/parsenodes.h"
#include "catalog/index.h"
#include "storage/lmgr.h"
#include "storage/proc.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/portal.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "schema_mgr.h"
#include "migrate.h"

/*
 * probe_notx
 *		Whether a registered migration is non-transactional.  Reads the
 *		start of its SQL only, or all of it when the start does not tell.
 *		Inside mig_enter_internal().
 */
static bool
probe_notx(MigCall *c, const char *component, int64 version)
{
	Datum		values[2];
	MigMark		mark = MIG_MARK_NO;

	values[0] = CStringGetTextDatum(component);
	values[1] = Int64GetDatum(version);
	mig_run_plan(c, P_NOTX_PROBE, values, NULL);
	if (SPI_processed == 1)
	{
		bool		isnull;
		char	   *start = mig_datum_text(SPI_tuptable->vals[0],
										   SPI_tuptable->tupdesc, 1);
		bool		truncated = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0],
														   SPI_tuptable->tupdesc,
														   2, &isnull));

		mark = mig_marker_state(start, truncated);
	}
	SPI_freetuptable(SPI_tuptable);
	if (mark == MIG_MARK_UNKNOWN)
	{
		Pending		p = {0};

		p.component = (char *) component;
		p.version = version;
		mig_fetch_sql(c, &p);
		mark = mig_no_transaction(p.sql) ? MIG_MARK_YES : MIG_MARK_NO;
		pfree(p.sql);
	}
	return mark == MIG_MARK_YES;
}

/* probe_notx, for apply_migrations_stepwise */
bool
mig_pending_notx(MigCall *c, const char *component, int64 version)
{
	bool		result;

	mig_enter_internal(c);
	result = probe_notx(c, component, version);
	mig_leave_internal(c);
	return result;
}

/*
 * mig_refuse_notx
 *		apply_migrations() applies everything in the caller's transaction:
 *		a non-transactional migration in its way is refused before anything
 *		is applied.  Inside mig_enter_internal().
 */
void
mig_refuse_notx(MigCall *c, Pending *p)
{
	if (probe_notx(c, p->component, p->version))
		ereport(ERROR,
				(errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
				 errmsg("cannot apply a non-transactional migration inside a transaction"),
				 errdetail("Migration \"%s\" version " INT64_FORMAT " is marked \"%s\" and runs outside any transaction block; nothing was applied.",
						   p->component, p->version, MIG_NOTX_MARKER),
				 errhint("Apply with CALL apply_migrations_stepwise(), which runs it on its own, or apply up to the version before it with target_version.")));
}

static void
notx_error_context(void *arg)
{
	Pending    *p = (Pending *) arg;

	errcontext("non-transactional migration \"%s\" version " INT64_FORMAT,
			   p->component, p->version);
}

/*
 * read_under_lock
 *		The migration as pending under the component's lock, or NULL when a
 *		concurrent caller applied it meanwhile.  Sets c->read_all_sql, as
 *		apply_migrations() does.
 */
static Pending *
read_under_lock(MigCall *c, const char *component, int64 version)
{
	Datum		elem = CStringGetTextDatum(component);
	Datum		values[2];
	char		nulls[2] = {' ', ' '};
	List	   *pending;
	ListCell   *lc;
	Pending    *found = NULL;

	mig_enter_internal(c);
	mig_read_may_read_sql(c);
	values[0] = PointerGetDatum(construct_array(&elem, 1, TEXTOID, -1, false,
												TYPALIGN_INT));
	values[1] = Int64GetDatum(version);
	pending = mig_pending_versions(c, values, nulls);
	mig_leave_internal(c);
	foreach(lc, pending)
		if (((Pending *) lfirst(lc))->version == version)
			found = (Pending *) lfirst(lc);
	return found;
}

/*
 * require_table_idle
 *		An invalid index is also what a build that another session runs now
 *		looks like: that build holds a SHARE UPDATE EXCLUSIVE lock on the
 *		table.  Whether one does is asked without waiting, and the lock let
 *		go at once (the worker's DROP INDEX CONCURRENTLY needs it).
 */
static void
require_table_idle(Pending *p, Oid relid)
{
	if (!ConditionalLockRelationOid(relid, ShareUpdateExclusiveLock))
		ereport(ERROR,
				(errcode(ERRCODE_LOCK_NOT_AVAILABLE),
				 errmsg("could not drop the invalid index left by an earlier attempt of migration \"%s\" version " INT64_FORMAT,
						p->component, p->version),
				 errdetail("Another session holds a lock on table \"%s\" that conflicts with building an index: it may be building that index now.",
						   get_rel_name(relid)),
				 errhint("Apply again when that session is done.")));
	UnlockRelationOid(relid, ShareUpdateExclusiveLock);
}

/*
 * mig_apply_notx
 *		Apply one pending non-transactional migration; call it in a
 *		transaction begun right after a commit.  Returns 1 when this call
 *		applied it, 0 when a concurrent caller did or when it was already in
 *		the history (then it is only marked).  The caller commits.
 */
int
mig_apply_notx(MigCall *c, const char *component, int64 version,
			   bool allow_out_of_order)
{
	Pending    *p;
	List	   *stmts;
	RawStmt    *rs;
	const char *sql;
	const char **statements;
	List	   *leftovers;
	ListCell   *lc;
	int			n = 0;
	int			failed = 0;
	MigBuilt	built;
	ErrorData  *edata;
	TimestampTz start;
	ErrorContextCallback errcb;

	mig_require_writer_transaction("apply migrations", "Applying",
								   "Apply migrations");
	mig_lock_component_notx(c, component);
	p = read_under_lock(c, component, version);
	if (p == NULL)
		return 0;
	if (!mig_check_version(p, allow_out_of_order))
	{
		Datum		mv[3];

		mig_enter_internal(c);
		mv[0] = CStringGetTextDatum(p->component);
		mv[1] = Int64GetDatum(p->version);
		mv[2] = CStringGetTextDatum(p->checksum);
		mig_run_plan(c, P_MARK_APPLIED, mv, NULL);
		mig_leave_internal(c);
		return 0;
	}
	mig_check_registrant(c, p);
	mig_enter_internal(c);
	mig_fetch_sql(c, p);
	mig_leave_internal(c);

	stmts = mig_parse_sql(p->component, p->version, p->sql, p->show_sql);
	mig_check_statements(p->component, p->version, p->sql, stmts);
	if (!mig_no_transaction(p->sql))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("migration \"%s\" version " INT64_FORMAT " is no longer non-transactional",
						p->component, p->version),
				 errdetail("It was registered again while it was being applied."),
				 errhint("Call the procedure again.")));
	sql = mig_skip_bom(p->sql);
	rs = linitial_node(RawStmt, stmts);
	p->stmt_no = 1;
	p->stmt_line = mig_line_of(sql, rs->stmt_location);

	/* what an earlier attempt left behind */
	leftovers = mig_notx_leftovers(c, rs->stmt, &built);
	if (leftovers != NIL)
		require_table_idle(p, IndexGetRelation(linitial_oid(leftovers), false));
	statements = palloc(sizeof(char *) * (list_length(leftovers) + 1));
	foreach(lc, leftovers)
	{
		Oid			index = lfirst_oid(lc);

		ereport(NOTICE,
				(errmsg("dropping invalid index \"%s\" left by an earlier attempt of migration \"%s\" version " INT64_FORMAT,
						get_rel_name(index), p->component, p->version)));
		statements[n++] =
			psprintf("DROP INDEX CONCURRENTLY %s",
					 quote_qualified_identifier(get_namespace_name(get_rel_namespace(index)),
												get_rel_name(index)));
	}
	if (built == MIG_BUILT_OTHER && !((IndexStmt *) rs->stmt)->if_not_exists)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_TABLE),
				 errmsg("index \"%s\" of migration \"%s\" version " INT64_FORMAT " exists and is another index",
						((IndexStmt *) rs->stmt)->idxname, p->component,
						p->version),
				 errdetail("An index of that name is on the migration's table, valid, but its method, uniqueness, columns or predicate differ from the statement's."),
				 errhint("Drop or rename that index, or give the migration's index another name in a new migration.")));
	if (built == MIG_BUILT_SAME && !((IndexStmt *) rs->stmt)->if_not_exists)
	{
		ereport(NOTICE,
				(errmsg("index \"%s\" of migration \"%s\" version " INT64_FORMAT " exists and is valid, recorded as applied",
						((IndexStmt *) rs->stmt)->idxname, p->component,
						p->version),
				 errdetail("An earlier attempt built it and ended before it was recorded.")));
		mig_record_applied(c, p, GetCurrentTimestamp(),
						   palloc0(sizeof(Interval)), "run");
		return 1;
	}
	statements[n++] = sql;

	/*
	 * Wait holding no snapshot.  The queries above left the procedure's
	 * portal a snapshot (SPI keeps one for a procedure between commits), and
	 * the look-ups a catalog snapshot; either would hold back this
	 * session's xmin.  Let both go: the queries after the wait take new
	 * ones.
	 */
	ForgetPortalSnapshots();
	InvalidateCatalogSnapshot();
	if (HaveRegisteredOrActiveSnapshot() ||
		TransactionIdIsValid(MyProc->xmin))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot run non-transactional migration \"%s\" version " INT64_FORMAT " while holding a snapshot",
						p->component, p->version),
				 errdetail("Its statement would wait for this session's own snapshot."),
				 errhint("Call apply_migrations_stepwise() on its own, not from a cursor loop or a function that keeps a snapshot.")));

	errcb.callback = notx_error_context;
	errcb.arg = p;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;
	start = GetCurrentTimestamp();
	edata = mig_worker_run(psprintf("schema_mgr %s " INT64_FORMAT,
									p->component, p->version),
						   n, statements, &failed);
	error_context_stack = errcb.previous;

	if (edata != NULL && failed < n - 1)
		ereport(ERROR,
				(errcode(edata->sqlerrcode),
				 errmsg("could not drop the invalid index left by an earlier attempt of migration \"%s\" version " INT64_FORMAT ": %s",
						p->component, p->version,
						sm_clip(edata->message, MIG_MESSAGE_BYTES)),
				 edata->detail ? errdetail_internal("%s", sm_clip(edata->detail, MIG_MESSAGE_BYTES)) : 0,
				 errhint("Drop the index by hand (DROP INDEX CONCURRENTLY) and apply again.")));
	if (edata != NULL)
	{
		/* the statement is the worker's query: show it as the migration's */
		if (edata->cursorpos > 0)
		{
			edata->internalquery = pstrdup(sql);
			edata->internalpos = edata->cursorpos;
			edata->cursorpos = 0;
		}
		mig_raise_migration_error(p, edata);
	}
	{
		Interval   *duration = palloc0(sizeof(Interval));

		duration->time = GetCurrentTimestamp() - start;
		p->stmt_no = -2;
		mig_record_applied(c, p, start, duration, "run");
	}
	return 1;
}
