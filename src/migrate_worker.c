/*-------------------------------------------------------------------------
 *
 * migrate_worker.c
 *	  The background worker that runs a non-transactional migration's
 *	  statements at top level, and the caller's side of it: start it, wait
 *	  for its result, stop it when the caller is cancelled.
 *
 * A statement such as CREATE INDEX CONCURRENTLY must be the top-level
 * statement of its session, outside any transaction block; a migration is
 * applied from inside a procedure call.  So the statements go to a dynamic
 * background worker, connected to the caller's database as the role the
 * caller logged in as, with the caller's session user (SET SESSION
 * AUTHORIZATION, which a role that may not log in can be) and running as
 * the caller's current user, which runs each
 * as a top-level statement (its own transaction command and portal, as a
 * client's simple query runs).  A dynamic shared memory segment carries
 * the statements and the caller's settings that a statement uses
 * (passed_settings: search_path, lock_timeout, maintenance, vacuum and
 * statistics settings, standard_conforming_strings, tablespaces); a message queue in it carries the
 * worker's notices and its error back, as the frontend protocol carries
 * them to a client, and the caller re-raises the error.  A worker that
 * ends without an error and without having finished is an error too.
 *
 * The worker runs its statements without a security context: the context
 * belongs to a transaction, and these statements commit and start
 * transactions of their own.  None of them can change role or leave a
 * setting behind, which is what the context guards against in the caller.
 *
 * The caller holds no snapshot while it waits (CREATE INDEX CONCURRENTLY
 * waits for every older snapshot, the caller's included, to go); cancelling
 * the caller (statement_timeout, pg_cancel_backend) terminates the worker
 * and waits for it to exit before the error goes on.  A caller that exits
 * while it waits (pg_terminate_backend, a lost client) terminates the
 * worker on its way out (terminate_running_worker).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "libpq/pqformat.h"
#include "libpq/pqmq.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "parser/analyze.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/dsm.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/shm_mq.h"
#include "storage/shm_toc.h"
#include "tcop/dest.h"
#include "tcop/pquery.h"
#include "tcop/tcopprot.h"
#include "tcop/utility.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/portal.h"
#include "utils/snapmgr.h"

#include "schema_mgr.h"
#include "migrate.h"

PGDLLEXPORT void sm_migration_worker_main(Datum main_arg);

#define MIG_WORKER_MAGIC		0x534D4E54	/* 'SMNT' */
#define MIG_WORKER_QUEUE_SIZE	16384

#define KEY_SHARED		1
#define KEY_SETTINGS	2
#define KEY_STATEMENTS	3
#define KEY_QUEUE		4

/*
 * the caller's settings that the worker takes over: those a statement of
 * a non-transactional migration parses or runs with, ANALYZE's statistics
 * target included (a setting this server does not have,
 * vacuum_buffer_usage_limit before 16 or vacuum_truncate before 18, is
 * skipped)
 */
static const char *const passed_settings[] = {
	"search_path", "lock_timeout", "maintenance_work_mem",
	"max_parallel_maintenance_workers", "standard_conforming_strings",
	"default_tablespace", "temp_tablespaces", "client_min_messages",
	"maintenance_io_concurrency", "vacuum_cost_delay", "vacuum_cost_limit",
	"vacuum_freeze_min_age", "vacuum_freeze_table_age",
	"vacuum_multixact_freeze_min_age", "vacuum_multixact_freeze_table_age",
	"vacuum_failsafe_age", "vacuum_multixact_failsafe_age",
	"vacuum_buffer_usage_limit", "vacuum_truncate", "default_statistics_target"
};

typedef struct MigWorkerShared
{
	Oid			database;
	Oid			login_user;		/* the role the caller logged in as */
	Oid			session_user;	/* the caller's session user */
	Oid			current_user;	/* the caller's current user */
	int			n_settings;
	int			n_statements;
	char		application_name[NAMEDATALEN];
	/* written by the worker */
	volatile int statement;		/* 0-based, the one running */
	volatile bool finished;		/* all statements ran and committed */
} MigWorkerShared;

/* ----------------------------------------------------------------
 * The worker
 * ----------------------------------------------------------------
 */

/*
 * run_top_level
 *		Run one statement as a client's simple query runs it: a transaction
 *		command of its own, a portal run as the top-level statement.  The
 *		parse and plan live in cxt, which outlives the transactions that
 *		CREATE INDEX CONCURRENTLY and VACUUM commit and start inside.
 */
static void
run_top_level(const char *sql, MemoryContext cxt)
{
	MemoryContext oldcontext;
	List	   *parsetrees;
	RawStmt    *parsetree;
	List	   *querytrees;
	List	   *plantrees;
	bool		snapshot_set = false;
	Portal		portal;
	DestReceiver *receiver;
	QueryCompletion qc;

	SetCurrentStatementStartTimestamp();
	debug_query_string = sql;
	pgstat_report_activity(STATE_RUNNING, sql);
	StartTransactionCommand();
	oldcontext = MemoryContextSwitchTo(cxt);

	parsetrees = pg_parse_query(sql);
	if (list_length(parsetrees) != 1)
		elog(ERROR, "a migration worker runs one statement at a time");
	parsetree = linitial_node(RawStmt, parsetrees);
	if (analyze_requires_snapshot(parsetree))
	{
		PushActiveSnapshot(GetTransactionSnapshot());
		snapshot_set = true;
	}
	querytrees = pg_analyze_and_rewrite_fixedparams(parsetree, sql, NULL, 0,
													NULL);
	plantrees = pg_plan_queries(querytrees, sql, CURSOR_OPT_PARALLEL_OK, NULL);
	if (snapshot_set)
		PopActiveSnapshot();

	portal = CreatePortal("", true, true);
	portal->visible = false;
	PortalDefineQuery(portal, NULL, sql, CreateCommandTag(parsetree->stmt),
					  plantrees, NULL);
	PortalStart(portal, NULL, 0, InvalidSnapshot);
	receiver = CreateDestReceiver(DestNone);
	MemoryContextSwitchTo(oldcontext);
	(void) sm_PortalRun(portal, FETCH_ALL, true, receiver, receiver, &qc);
	receiver->rDestroy(receiver);
	PortalDrop(portal, false);
	CommitTransactionCommand();

	MemoryContextReset(cxt);
	pgstat_report_activity(STATE_IDLE, NULL);
	debug_query_string = NULL;
}

void
sm_migration_worker_main(Datum main_arg)
{
	dsm_segment *seg;
	shm_toc    *toc;
	MigWorkerShared *shared;
	shm_mq	   *mq;
	shm_mq_handle *mqh;
	const char *p;
	MemoryContext cxt;
	int			i;

	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	CurrentResourceOwner = ResourceOwnerCreate(NULL, "schema_mgr migration worker");
	seg = dsm_attach(DatumGetUInt32(main_arg));
	if (seg == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("could not map the migration's dynamic shared memory segment")));
	dsm_pin_mapping(seg);
	toc = shm_toc_attach(MIG_WORKER_MAGIC, dsm_segment_address(seg));
	if (toc == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("bad magic number in the migration's dynamic shared memory segment")));
	shared = shm_toc_lookup(toc, KEY_SHARED, false);

	/* from here on, errors and notices go to the caller */
	mq = shm_toc_lookup(toc, KEY_QUEUE, false);
	shm_mq_set_sender(mq, MyProc);
	mqh = shm_mq_attach(mq, seg, NULL);
	pq_redirect_to_shm_mq(seg, mqh);

	BackgroundWorkerInitializeConnectionByOid(shared->database,
											  shared->login_user, 0);
	SetClientEncoding(GetDatabaseEncoding());

	/*
	 * The caller's session user, as SET SESSION AUTHORIZATION sets it (with
	 * its check), then its current user, its settings, and a name that
	 * says what this process is.
	 */
	StartTransactionCommand();
	if (shared->session_user != shared->login_user)
		(void) set_config_option("session_authorization",
								 GetUserNameFromId(shared->session_user, false),
								 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SET,
								 true, ERROR, false);
	SetUserIdAndSecContext(shared->current_user, 0);
	p = shm_toc_lookup(toc, KEY_SETTINGS, false);
	for (i = 0; i < shared->n_settings; i++)
	{
		const char *name = p;
		const char *value = p + strlen(p) + 1;

		(void) set_config_option(name, value, PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SET, true, ERROR, false);
		p = value + strlen(value) + 1;
	}
	(void) set_config_option("application_name", shared->application_name,
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SET, true,
							 ERROR, false);
	CommitTransactionCommand();

	cxt = AllocSetContextCreate(TopMemoryContext,
								"schema_mgr migration statement",
								ALLOCSET_DEFAULT_SIZES);
	p = shm_toc_lookup(toc, KEY_STATEMENTS, false);
	for (i = 0; i < shared->n_statements; i++)
	{
		shared->statement = i;
		run_top_level(p, cxt);
		p += strlen(p) + 1;
	}
	pg_memory_barrier();
	shared->finished = true;
	/* exiting detaches the queue: the caller's signal that this is all */
}

/* ----------------------------------------------------------------
 * The caller's side
 * ----------------------------------------------------------------
 */

/* the worker this backend waits for, in TopMemoryContext; else NULL */
static BackgroundWorkerHandle *running_worker = NULL;
static bool exit_callback_registered = false;

/*
 * terminate_running_worker
 *		before_shmem_exit callback: a caller that exits (FATAL) while its
 *		worker runs takes the worker with it; an ERROR is handled in
 *		mig_worker_run, which also waits for the worker to go.
 */
static void
terminate_running_worker(int code, Datum arg)
{
	if (running_worker != NULL)
		TerminateBackgroundWorker(running_worker);
	running_worker = NULL;
}

/* Wait for the worker to exit; not interruptible, it has been told to go. */
static void
wait_worker_gone(BackgroundWorkerHandle *handle)
{
	HOLD_INTERRUPTS();
	for (;;)
	{
		pid_t		pid;
		BgwHandleStatus status = GetBackgroundWorkerPid(handle, &pid);

		if (status == BGWH_STOPPED || status == BGWH_POSTMASTER_DIED)
			break;
		(void) WaitLatch(MyLatch,
						 WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 100L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
	RESUME_INTERRUPTS();
}

/*
 * receive_results
 *		Read the worker's messages until it detaches: notices are raised
 *		here as they come, each parsed in a context of its own that is reset
 *		after it; the first error is kept (with the statement it came from)
 *		and returned.  An error that says the worker was terminated (57P01
 *		and its kin) would read as this session's own shutdown to a client
 *		or a pooler: it comes back as 57014, the code it had in the detail.
 */
static ErrorData *
receive_results(shm_mq_handle *mqh, MigWorkerShared *shared, int *failed)
{
	ErrorData  *result = NULL;
	MemoryContext callercxt = CurrentMemoryContext;
	MemoryContext msgcxt = AllocSetContextCreate(CurrentMemoryContext,
												 "schema_mgr worker message",
												 ALLOCSET_SMALL_SIZES);

	for (;;)
	{
		Size		nbytes;
		void	   *data;
		StringInfoData msg;
		char		msgtype;
		ErrorData	edata;

		MemoryContextReset(msgcxt);
		MemoryContextSwitchTo(msgcxt);
		if (shm_mq_receive(mqh, &nbytes, &data, false) != SHM_MQ_SUCCESS)
			break;
		initStringInfo(&msg);
		appendBinaryStringInfo(&msg, data, (int) nbytes);
		msgtype = pq_getmsgbyte(&msg);
		if (msgtype != 'E' && msgtype != 'N')
			continue;
		if (msgtype == 'E' && result == NULL)
			MemoryContextSwitchTo(callercxt);
		memset(&edata, 0, sizeof(edata));
		pq_parse_errornotice(&msg, &edata);
		if (msgtype == 'N')
		{
			if (edata.elevel >= ERROR)
				edata.elevel = NOTICE;
			ThrowErrorData(&edata);
		}
		else if (result == NULL)
		{
			result = palloc(sizeof(ErrorData));
			memcpy(result, &edata, sizeof(ErrorData));
			if (ERRCODE_TO_CATEGORY(result->sqlerrcode) ==
				ERRCODE_OPERATOR_INTERVENTION &&
				result->sqlerrcode != ERRCODE_QUERY_CANCELED)
			{
				result->detail = psprintf("The migration's background worker ended with SQLSTATE %s.",
										  unpack_sql_state(result->sqlerrcode));
				result->sqlerrcode = ERRCODE_QUERY_CANCELED;
			}
			*failed = shared->statement;
		}
	}
	MemoryContextSwitchTo(callercxt);
	MemoryContextDelete(msgcxt);
	return result;
}

/*
 * mig_worker_run
 *		Run n statements, one after the other, each as a top-level statement
 *		of a worker's session, and wait for the worker to end.  Returns NULL
 *		when they all ran, or the first error, with *failed set to the
 *		(0-based) statement that raised it.  Call with no snapshot held.
 */
ErrorData *
mig_worker_run(const char *application_name, int n, const char **statements,
			   int *failed)
{
	shm_toc_estimator e;
	StringInfoData settings;
	Size		statements_len = 0;
	Size		size;
	dsm_segment *seg;
	shm_toc    *toc;
	MigWorkerShared *shared;
	char	   *p;
	shm_mq	   *mq;
	shm_mq_handle *mqh;
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;
	ErrorData  *volatile edata = NULL;
	MemoryContext oldcontext;
	bool		registered;
	bool		finished;
	int			n_settings = 0;
	int			i;

	initStringInfo(&settings);
	for (i = 0; i < lengthof(passed_settings); i++)
	{
		const char *value = GetConfigOptionByName(passed_settings[i], NULL,
												  true);

		if (value == NULL)
			continue;
		appendStringInfoString(&settings, passed_settings[i]);
		appendStringInfoChar(&settings, '\0');
		appendStringInfoString(&settings, value);
		appendStringInfoChar(&settings, '\0');
		n_settings++;
	}
	for (i = 0; i < n; i++)
		statements_len += strlen(statements[i]) + 1;

	shm_toc_initialize_estimator(&e);
	shm_toc_estimate_chunk(&e, sizeof(MigWorkerShared));
	shm_toc_estimate_chunk(&e, settings.len);
	shm_toc_estimate_chunk(&e, statements_len);
	shm_toc_estimate_chunk(&e, MIG_WORKER_QUEUE_SIZE);
	shm_toc_estimate_keys(&e, 4);
	size = shm_toc_estimate(&e);

	seg = dsm_create(size, 0);
	toc = shm_toc_create(MIG_WORKER_MAGIC, dsm_segment_address(seg), size);

	shared = shm_toc_allocate(toc, sizeof(MigWorkerShared));
	memset(shared, 0, sizeof(MigWorkerShared));
	shared->database = MyDatabaseId;
	shared->login_user = GetAuthenticatedUserId();
	shared->session_user = GetSessionUserId();
	shared->current_user = GetUserId();
	shared->n_settings = n_settings;
	shared->n_statements = n;
	strlcpy(shared->application_name, application_name, NAMEDATALEN);
	shm_toc_insert(toc, KEY_SHARED, shared);

	p = shm_toc_allocate(toc, settings.len);
	memcpy(p, settings.data, settings.len);
	shm_toc_insert(toc, KEY_SETTINGS, p);

	p = shm_toc_allocate(toc, statements_len);
	shm_toc_insert(toc, KEY_STATEMENTS, p);
	for (i = 0; i < n; i++)
	{
		strcpy(p, statements[i]);
		p += strlen(statements[i]) + 1;
	}

	mq = shm_mq_create(shm_toc_allocate(toc, MIG_WORKER_QUEUE_SIZE),
					   MIG_WORKER_QUEUE_SIZE);
	shm_toc_insert(toc, KEY_QUEUE, mq);
	shm_mq_set_receiver(mq, MyProc);
	mqh = shm_mq_attach(mq, seg, NULL);

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS |
		BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_ConsistentState;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, sizeof(worker.bgw_library_name),
			 "schema_mgr");
	snprintf(worker.bgw_function_name, sizeof(worker.bgw_function_name),
			 "sm_migration_worker_main");
	snprintf(worker.bgw_name, sizeof(worker.bgw_name),
			 "schema_mgr migration worker for PID %d", MyProcPid);
	snprintf(worker.bgw_type, sizeof(worker.bgw_type),
			 "schema_mgr migration");
	worker.bgw_main_arg = UInt32GetDatum(dsm_segment_handle(seg));
	worker.bgw_notify_pid = MyProcPid;
	if (!exit_callback_registered)
	{
		before_shmem_exit(terminate_running_worker, (Datum) 0);
		exit_callback_registered = true;
	}
	oldcontext = MemoryContextSwitchTo(TopMemoryContext);
	registered = RegisterDynamicBackgroundWorker(&worker, &handle);
	MemoryContextSwitchTo(oldcontext);
	if (!registered)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("could not start a background worker for the migration"),
				 errdetail("Every background worker slot (max_worker_processes = %d) is taken.",
						   max_worker_processes),
				 errhint("Try again later, or raise max_worker_processes.")));
	running_worker = handle;
	shm_mq_set_handle(mqh, handle);

	PG_TRY();
	{
		edata = receive_results(mqh, shared, failed);
		wait_worker_gone(handle);
	}
	PG_CATCH();
	{
		/* cancelled: the worker goes too, before the error goes on */
		TerminateBackgroundWorker(handle);
		wait_worker_gone(handle);
		running_worker = NULL;
		pfree(handle);
		PG_RE_THROW();
	}
	PG_END_TRY();
	running_worker = NULL;
	pfree(handle);

	pg_memory_barrier();
	finished = shared->finished;
	dsm_detach(seg);
	if (edata == NULL && !finished)
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("the background worker of the migration ended without a result"),
				 errdetail("The server log says why it ended."),
				 errhint("Apply again: the migration is still pending.")));
	return edata;
}
