/*-------------------------------------------------------------------------
 *
 * migrate.c
 *	  Migrations: configuration, the prepared internal queries and the
 *	  context they run in, argument checks and the per-component lock that
 *	  registering, applying and baselining share.
 *
 * Bookkeeping queries run as the extension's owner with a safe search_path,
 * as a security-restricted operation, so a role that may apply migrations
 * cannot rewrite the history by hand.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/twophase.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "storage/proc.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/tuplestore.h"

#include "schema_mgr.h"
#include "migrate.h"

/* GUC: how long to wait for another session's lock on a component, in ms */
static int	sm_lock_timeout = 60000;

bool		mig_allow_drop = false;

static SPIPlanPtr plans[NUM_PLANS];
static char *plans_schema = NULL;

/* ----------------------------------------------------------------
 * Configuration
 * ----------------------------------------------------------------
 */
void
migrate_init(void)
{
	DefineCustomIntVariable("schema_mgr.lock_timeout",
							"Longest wait for another session's lock on a migration component.",
							"After this time applying, registering or baselining fails, "
							"naming the session that holds the lock. Zero waits forever "
							"(or until lock_timeout, when that is set).",
							&sm_lock_timeout,
							60000, 0, INT_MAX,
							PGC_USERSET, GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomBoolVariable("schema_mgr.allow_drop",
							 "Allows DROP EXTENSION schema_mgr to drop a non-empty migration history.",
							 "Without it, dropping the extension (or its schema) is refused "
							 "while schema_version has rows.",
							 &mig_allow_drop,
							 false,
							 PGC_USERSET, 0,
							 NULL, NULL, NULL);
}

/* ----------------------------------------------------------------
 * Internal queries
 * ----------------------------------------------------------------
 */
static SPIPlanPtr
mig_get_plan(MigCall *c, PlanId id)
{
	if (plans_schema == NULL || strcmp(plans_schema, c->schema) != 0)
	{
		int			i;

		for (i = 0; i < NUM_PLANS; i++)
		{
			if (plans[i] != NULL)
				SPI_freeplan(plans[i]);
			plans[i] = NULL;
		}
		if (plans_schema != NULL)
			pfree(plans_schema);
		plans_schema = MemoryContextStrdup(TopMemoryContext, c->schema);
	}
	if (plans[id] == NULL)
	{
		const MigPlanDef *def = &mig_plan_defs[id];
		SPIPlanPtr	plan;

		plan = SPI_prepare(psprintf(def->sql, c->schema), def->nargs,
						   (Oid *) def->argtypes);
		if (plan == NULL)
			elog(ERROR, "could not prepare internal query %d: %s",
				 (int) id, SPI_result_code_string(SPI_result));
		if (SPI_keepplan(plan) != 0)
			elog(ERROR, "could not keep internal query %d", (int) id);
		plans[id] = plan;
	}
	return plans[id];
}

int
mig_run_plan(MigCall *c, PlanId id, Datum *values, const char *nulls)
{
	int			rc;

	rc = SPI_execute_plan(mig_get_plan(c, id), values, nulls, c->read_only, 0);
	if (rc < 0)
		elog(ERROR, "internal query %d failed: %s", (int) id,
			 SPI_result_code_string(rc));
	return rc;
}

/*
 * mig_insert_history
 *		Add a row to schema_version (the parameters of P_INSERT_HISTORY),
 *		and from 1.1 on its row to the history log.  Inside
 *		mig_enter_internal().
 */
void
mig_insert_history(MigCall *c, Datum *values, const char *nulls)
{
	mig_run_plan(c, c->owners ? P_INSERT_HISTORY_LOGGED : P_INSERT_HISTORY,
				 values, nulls);
}

/*
 * mig_log_history
 *		Add a row to the history log alone: a revert, or a repeatable
 *		migration's apply (action "revert" or "repeat").  Inside
 *		mig_enter_internal().
 */
void
mig_log_history(MigCall *c, Pending *p, const char *action, TimestampTz start,
				Interval *duration)
{
	Datum		values[9];
	char		nulls[10] = "         ";

	values[0] = CStringGetTextDatum(p->component);
	values[1] = Int64GetDatum(p->version);
	values[2] = p->name ? CStringGetTextDatum(p->name) : (Datum) 0;
	values[3] = CStringGetTextDatum(action);
	values[4] = CStringGetTextDatum(p->description);
	values[5] = CStringGetTextDatum(p->checksum);
	values[6] = TimestampTzGetDatum(start);
	values[7] = CStringGetTextDatum(c->caller);
	values[8] = IntervalPGetDatum(duration);
	if (p->name != NULL)
		nulls[1] = 'n';
	else
		nulls[2] = 'n';
	mig_run_plan(c, P_HISTORY_LOG, values, nulls);
}

/*
 * mig_first_pending
 *		The first pending migration of one component (or of all, components
 *		in index order) up to the target version: one probe of the partial
 *		index of pending rows.  Sets *first_component (unless NULL) and
 *		*first_version; returns false when nothing is pending, and raises an
 *		error for a component that does not exist.  Inside
 *		mig_enter_internal().
 */
bool
mig_first_pending(MigCall *c, const char *component, int64 target,
				  char **first_component, int64 *first_version)
{
	Datum		values[2];
	bool		found;

	if (component != NULL)
	{
		values[0] = CStringGetTextDatum(component);
		values[1] = Int64GetDatum(target);
		mig_run_plan(c, P_PENDING_ONE, values, NULL);
	}
	else
	{
		values[0] = Int64GetDatum(target);
		mig_run_plan(c, P_PENDING_ANY, values, NULL);
	}
	found = SPI_processed > 0;
	if (found && first_component != NULL)
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;

		*first_component = mig_datum_text(tup, desc, 1);
		*first_version = DatumGetInt64(SPI_getbinval(tup, desc, 2, &isnull));
	}
	SPI_freetuptable(SPI_tuptable);
	if (!found && component != NULL && !mig_component_exists(c, component))
		mig_unknown_component(component);
	return found;
}

/* what a call that finds nothing pending says */
void
mig_notice_nothing_pending(const char *component)
{
	if (component != NULL)
		ereport(NOTICE,
				(errmsg("no pending migrations for component \"%s\", nothing to apply",
						component)));
	else
		ereport(NOTICE,
				(errmsg("no pending migrations, nothing to apply")));
}

void
mig_call_init(MigCall *c, FunctionCallInfo fcinfo, bool read_only)
{
	c->schema = sm_function_schema(fcinfo);
	c->owner = sm_extension_owner();
	c->caller_id = GetUserId();
	c->caller = GetUserNameFromId(c->caller_id, false);
	c->read_only = read_only;

	/*
	 * A 1.0 installation runs this library until ALTER EXTENSION UPDATE:
	 * then components have no owners yet and registrants are names only.
	 */
	c->owners = OidIsValid(get_relname_relid("component",
											  get_func_namespace(fcinfo->flinfo->fn_oid)));
}

/*
 * Internal queries run as the extension's owner with a safe search_path,
 * as a security-restricted operation (like the queries of REFRESH
 * MATERIALIZED VIEW or autovacuum's ANALYZE): should anything reach code
 * the caller controls, it cannot change roles or leave session state
 * behind.  A transaction or subtransaction abort undoes all three.
 */
void
mig_enter_internal(MigCall *c)
{
	GetUserIdAndSecContext(&c->save_userid, &c->save_sec_context);
	SetUserIdAndSecContext(c->owner,
						   c->save_sec_context |
						   SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	c->guc_level = sm_push_search_path();
}

void
mig_leave_internal(MigCall *c)
{
	sm_pop_search_path(c->guc_level);
	SetUserIdAndSecContext(c->save_userid, c->save_sec_context);
}

char *
mig_datum_text(HeapTuple tup, TupleDesc desc, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

/* ----------------------------------------------------------------
 * Argument checks
 * ----------------------------------------------------------------
 */
/* whether component has a registered or applied migration */
static bool
component_registered(FunctionCallInfo fcinfo, const char *component)
{
	MigCall		c;
	bool		found;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	mig_call_init(&c, fcinfo, true);
	mig_enter_internal(&c);
	found = mig_component_exists(&c, component);
	mig_leave_internal(&c);
	SPI_finish();
	return found;
}

char *
mig_arg_component(FunctionCallInfo fcinfo, int argno)
{
	char	   *component;
	const char *p;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("migration component must not be null"),
				 errdetail("%s names the migration chain it works on by its component.",
						   get_func_name(fcinfo->flinfo->fn_oid)),
				 errhint("Pass the component's name, as given to register_migration.")));
	component = text_to_cstring(PG_GETARG_TEXT_PP(argno));

	/*
	 * Messages name the component whole, so a name must be short enough to
	 * be shown; a longer one that 1.0 let someone register can still be
	 * named.
	 */
	if (strlen(component) > MIG_COMPONENT_BYTES &&
		!component_registered(fcinfo, component))
		ereport(ERROR,
				(errcode(ERRCODE_NAME_TOO_LONG),
				 errmsg("migration component name is too long"),
				 errdetail("Component names are at most %d bytes; this one has %zu.",
						   MIG_COMPONENT_BYTES, strlen(component)),
				 errhint("Name the chain with fewer characters.")));
	for (p = component; *p; p++)
		if (!isspace((unsigned char) *p))
			return component;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("migration component must not be empty"),
			 errdetail("A component names one migration chain, such as an application or an extension.")));
	return NULL;				/* keep compiler quiet */
}

/* a text argument that must not be null; what names it in the error */
char *
mig_arg_text(FunctionCallInfo fcinfo, int argno, const char *what)
{
	if (PG_ARGISNULL(argno))
		sm_null_argument(fcinfo, what);
	return text_to_cstring(PG_GETARG_TEXT_PP(argno));
}

int64
mig_arg_version(FunctionCallInfo fcinfo, int argno, const char *what)
{
	int64		version;

	if (PG_ARGISNULL(argno))
		sm_null_argument(fcinfo, what);
	version = PG_GETARG_INT64(argno);
	if (version <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid %s: " INT64_FORMAT, what, version),
				 errdetail("Migration versions are positive integers.")));
	return version;
}

bool
mig_component_exists(MigCall *c, const char *component)
{
	Datum		values[1];

	values[0] = CStringGetTextDatum(component);
	mig_run_plan(c, c->owners ? P_COMPONENT_EXISTS_ALL : P_COMPONENT_EXISTS,
				 values, NULL);
	return SPI_processed > 0;
}

/*
 * mig_component_param
 *		An optional component argument (NULL: all components) as a query
 *		parameter; a component that is named must exist.  Call inside
 *		mig_enter_internal().
 */
void
mig_component_param(MigCall *c, const char *component, Datum *value,
					char *null)
{
	if (component != NULL && !mig_component_exists(c, component))
		mig_unknown_component(component);
	*value = component ? CStringGetTextDatum(component) : (Datum) 0;
	*null = component ? ' ' : 'n';
}

void
mig_unknown_component(const char *component)
{
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("migration component \"%s\" does not exist", component),
			 errdetail("No migration of this component has been registered or applied."),
			 errhint("Register its migrations first.")));
}

/* ----------------------------------------------------------------
 * Locking
 * ----------------------------------------------------------------
 */

/* Wait for a lock, at most timeout ms (for sm_try_subxact). */
typedef struct LockWait
{
	LOCKTAG    *tag;
	LOCKMODE	mode;
	int			timeout;
} LockWait;

static void
wait_for_lock(void *arg)
{
	LockWait   *w = (LockWait *) arg;
	int			level = NewGUCNestLevel();
	char		buf[32];

	snprintf(buf, sizeof(buf), "%d", w->timeout);
	(void) set_config_option("lock_timeout", buf, PGC_USERSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	(void) LockAcquire(w->tag, w->mode, false, false);
	AtEOXact_GUC(true, level);
}

/*
 * lock_holder
 *		The process that holds the component's advisory lock of classid
 *		(in ExclusiveLock mode), or 0; *appname its application_name.
 *		Looked up as an internal query, like the others of a migration call.
 */
static int
lock_holder(MigCall *c, uint32 classid, uint32 key2, char **appname)
{
	int			pid;

	mig_enter_internal(c);
	pid = sm_advisory_lock_holder(classid, key2, appname, NULL, NULL);
	mig_leave_internal(c);
	return pid;
}

/*
 * lock_key
 *		Take the component's transaction-scoped advisory lock of classid in
 *		mode, waiting at most schema_mgr.lock_timeout, or the session's
 *		lock_timeout when that is shorter (zero means no limit for either).
 *		On timeout the error names the holder.
 */
static void
lock_key(MigCall *c, const char *component, uint32 classid, LOCKMODE mode)
{
	LOCKTAG		tag;
	uint32		key2 = hash_bytes((const unsigned char *) component,
								  strlen(component));
	LockWait	wait;
	ErrorData  *edata;
	int			pid;
	char	   *appname;
	int			timeout = sm_lock_timeout;
	const char *knob;

	sm_advisory_locktag(&tag, classid, key2);
	if (LockAcquire(&tag, mode, false, true) != LOCKACQUIRE_NOT_AVAIL)
		return;
	if (LockTimeout > 0 && (timeout <= 0 || LockTimeout < timeout))
		timeout = LockTimeout;
	if (timeout <= 0)
	{
		(void) LockAcquire(&tag, mode, false, false);
		return;
	}

	/*
	 * Wait with lock_timeout set to our timeout, in a subtransaction so that
	 * a timeout can be caught and reported better.  A lock acquired in the
	 * subtransaction passes to the parent when the subtransaction commits.
	 */
	wait.tag = &tag;
	wait.mode = mode;
	wait.timeout = timeout;
	edata = sm_try_subxact(wait_for_lock, &wait);
	if (edata == NULL)
		return;
	if (edata->sqlerrcode != ERRCODE_LOCK_NOT_AVAILABLE)
		ReThrowError(edata);

	pid = lock_holder(c, classid, key2, &appname);
	knob = timeout == sm_lock_timeout ? "schema_mgr.lock_timeout" : "lock_timeout";
	if (pid != 0)
		ereport(ERROR,
				(errcode(ERRCODE_LOCK_NOT_AVAILABLE),
				 errmsg("could not lock migration component \"%s\"", component),
				 errdetail("The lock is held by process %d (application_name \"%s\"); waited %d ms.",
						   pid, appname ? appname : "", timeout),
				 errhint("Another session is applying or registering migrations of this component. Retry later, or raise %s.", knob)));
	else
		ereport(ERROR,
				(errcode(ERRCODE_LOCK_NOT_AVAILABLE),
				 errmsg("could not lock migration component \"%s\"", component),
				 errdetail("Waited %d ms; the session that held the lock has since released it.",
						   timeout),
				 errhint("Retry, or raise %s.", knob)));
}

/*
 * refuse_while_notx_runs
 *		While a non-transactional migration of the component runs, its
 *		statement (CREATE INDEX CONCURRENTLY) waits for every transaction
 *		with an older snapshot; a session waiting for the component's lock
 *		with a snapshot would wait for it in turn, a deadlock that no
 *		detector sees.  So whoever else takes the component's lock first
 *		takes the "non-transactional migration running" key in share mode,
 *		without waiting: when the runner holds it (or waits for it), the
 *		call fails at once.  The share lock is kept until the transaction
 *		ends, so a runner that comes later waits for this transaction before
 *		it starts its worker.
 */
static void
refuse_while_notx_runs(MigCall *c, const char *component)
{
	LOCKTAG		tag;
	uint32		key2 = hash_bytes((const unsigned char *) component,
								  strlen(component));
	int			pid;
	char	   *appname;

	sm_advisory_locktag(&tag, SM_LOCK_NOTX, key2);
	if (LockAcquire(&tag, ShareLock, false, true) != LOCKACQUIRE_NOT_AVAIL)
		return;
	pid = lock_holder(c, SM_LOCK_NOTX, key2, &appname);
	if (pid != 0)
		ereport(ERROR,
				(errcode(ERRCODE_LOCK_NOT_AVAILABLE),
				 errmsg("could not lock migration component \"%s\": a non-transactional migration of it is running",
						component),
				 errdetail("Process %d (application_name \"%s\") runs it; its statement waits for every transaction older than itself, so this one must not wait for it.",
						   pid, appname ? appname : ""),
				 errhint("Retry when it is done.")));
	else
		ereport(ERROR,
				(errcode(ERRCODE_LOCK_NOT_AVAILABLE),
				 errmsg("could not lock migration component \"%s\": a non-transactional migration of it is about to run",
						component),
				 errdetail("Its statement waits for every transaction older than itself, so this one must not wait for it."),
				 errhint("Retry when it is done.")));
}

/*
 * mig_lock_component
 *		Take the component's transaction-scoped advisory lock (see lock_key),
 *		refusing at once while a non-transactional migration of the
 *		component runs (see refuse_while_notx_runs).
 */
void
mig_lock_component(MigCall *c, const char *component)
{
	refuse_while_notx_runs(c, component);
	lock_key(c, component, SM_LOCK_MIGRATIONS, ExclusiveLock);
}

/*
 * mig_lock_component_notx
 *		mig_lock_component for the step that runs a non-transactional
 *		migration, in a transaction that holds no snapshot: first the
 *		"non-transactional migration running" key, exclusively (waiting for
 *		the transactions that hold it in share mode, and for another
 *		runner), then the component's lock without the probe (a share
 *		request would queue behind the next runner's exclusive one).  Both are kept until the step
 *		commits, after its worker is done.
 */
void
mig_lock_component_notx(MigCall *c, const char *component)
{
	lock_key(c, component, SM_LOCK_NOTX, ExclusiveLock);
	lock_key(c, component, SM_LOCK_MIGRATIONS, ExclusiveLock);
}

/*
 * Lock one of total components (the nth); running out of lock table space
 * says how to batch.  The error is re-raised at once, so catching it needs
 * no subtransaction.
 */
static void
lock_one_of(MigCall *c, const char *component, int nth, int total)
{
	MemoryContext oldcontext = CurrentMemoryContext;

	PG_TRY();
	{
		mig_lock_component(c, component);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(oldcontext);
		edata = CopyErrorData();
		if (edata->sqlerrcode != ERRCODE_OUT_OF_MEMORY)
			PG_RE_THROW();
		FlushErrorState();
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("could not lock migration component \"%s\": %s",
						component, edata->message),
				 errdetail("It was component %d of %d, each locked until the transaction ends; the lock table has room for about %d locks in all (max_locks_per_transaction = %d).",
						   nth, total, mig_lock_capacity(), max_locks_per_xact),
				 errhint("Apply or repair fewer components per call (name the component), or raise max_locks_per_transaction.")));
	}
	PG_END_TRY();
}

/*
 * mig_lock_listed_components
 *		Lock the components named in the first column of the last internal
 *		query's result, in that (name) order so that concurrent callers
 *		cannot deadlock, and return them as a text[] for the next query;
 *		*n is how many.  Call inside mig_enter_internal(); returns outside.
 */
Datum
mig_lock_listed_components(MigCall *c, int *n)
{
	List	   *components = NIL;
	ListCell   *lc;
	Datum	   *elems;
	uint64		i;
	int			nth = 0;

	/* one lock per component, all held to the end: say so before failing */
	if (SPI_processed > (uint64) mig_lock_capacity())
		ereport(WARNING,
				(errmsg("locking " UINT64_FORMAT " migration components in one transaction may run out of lock table space",
						SPI_processed),
				 errdetail("Each component is locked until the transaction ends, and the lock table has room for about %d locks in all (max_locks_per_transaction = %d).",
						   mig_lock_capacity(), max_locks_per_xact),
				 errhint("Should it fail with \"out of shared memory\", apply or repair fewer components per call (name the component).")));

	for (i = 0; i < SPI_processed; i++)
		components = lappend(components,
							 mig_datum_text(SPI_tuptable->vals[i],
											SPI_tuptable->tupdesc, 1));
	mig_leave_internal(c);

	foreach(lc, components)
		lock_one_of(c, (char *) lfirst(lc), ++nth, list_length(components));

	*n = 0;
	elems = palloc(sizeof(Datum) * (list_length(components) + 1));
	foreach(lc, components)
		elems[(*n)++] = CStringGetTextDatum((char *) lfirst(lc));
	return PointerGetDatum(construct_array(elems, *n, TEXTOID, -1, false,
										   TYPALIGN_INT));
}

/*
 * mig_put_rows
 *		Return every row of the last internal query's result from a
 *		set-returning function, column for column (its first columns, when
 *		the function returns fewer).
 */
void
mig_put_rows(ReturnSetInfo *rsinfo)
{
	TupleDesc	desc = SPI_tuptable->tupdesc;
	int			natts = Min(desc->natts, rsinfo->setDesc->natts);
	Datum	   *row = palloc(sizeof(Datum) * desc->natts);
	bool	   *rownulls = palloc(sizeof(bool) * desc->natts);
	uint64		i;
	int			col;

	for (i = 0; i < SPI_processed; i++)
	{
		for (col = 0; col < natts; col++)
			row[col] = SPI_getbinval(SPI_tuptable->vals[i], desc, col + 1,
									 &rownulls[col]);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, row,
							 rownulls);
	}
}

/*
 * mig_lock_capacity
 *		About how many locks the shared lock table holds, for all sessions
 *		together: what one transaction can hold at most.
 */
int
mig_lock_capacity(void)
{
	return max_locks_per_xact * (MaxBackends + max_prepared_xacts);
}

/*
 * mig_require_writer_transaction
 *		What applying, reverting, baselining and repairing need of the
 *		caller's transaction, checked before anything runs: READ COMMITTED
 *		(what is read under the component's lock must be current), and not
 *		read-only (a standby's included): SQL that a read-only transaction
 *		allows would run and fail only when it is recorded, and the
 *		statement of a non-transactional migration runs in a worker whose
 *		transactions are not the caller's, so it would change the database
 *		first.  what: "cannot <what> in ..."; subject: "<subject> must see
 *		..."; verb: "<verb> in a READ COMMITTED transaction.", "<verb> on the
 *		primary server."
 */
void
mig_require_writer_transaction(const char *what, const char *subject,
							   const char *verb)
{
	sm_require_read_committed(what, subject, verb);
	if (XactReadOnly)
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("cannot %s in a read-only transaction", what),
				 RecoveryInProgress() ?
				 errdetail("This server is a standby.") :
				 errdetail("schema_mgr records what it does in its tables, which a read-only transaction cannot write."),
				 RecoveryInProgress() ?
				 errhint("%s on the primary server.", verb) :
				 errhint("%s in a read-write transaction (SET default_transaction_read_only = off).", verb)));
}
