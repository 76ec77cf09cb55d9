/*-------------------------------------------------------------------------
 *
 * remote.c
 *	  Talking to another database through dblink, for restore_events,
 *	  sync_events and compare_events: connecting with a useful hint and
 *	  without the password in any message, dblink plumbing, checking the
 *	  remote events table, and running one call's job.  Their arguments
 *	  (connection strings, names) are read in remote_args.c.
 *
 * dblink is used through its SQL functions via SPI, found in whatever
 * schema the dblink extension lives in at call time; schema_mgr does not
 * require it.  Every value handed to dblink is an SPI parameter; the only
 * text spliced into SQL (local, or sent to the remote) is quoted
 * identifiers, one quoted literal (the remote table's name) and integers.
 *
 * The remote database is not trusted to be harmless: any role that may
 * create objects in a schema on the remote session's search_path could
 * plant operators, functions or types there that shadow the built-in ones
 * and would run as the connecting role.  So every query sent to the remote
 * names functions, operators and types with their pg_catalog schema, and
 * the remote transaction fixes search_path to pg_catalog, pg_temp before
 * anything but the name lookup of the table (which names nothing else) is
 * sent; row security is turned off, so a policy cannot run either (a
 * table that needs one for the connecting role is an error), and the table
 * must be a plain or partitioned table (not a view) whose id, ts and event
 * columns have built-in types.
 *
 * All the work of one call runs inside an internal subtransaction, so that
 * on any error (including a query cancel) the named dblink connection can
 * be closed before the error is re-thrown, and the error can be scrubbed of
 * anything that looks like the password.  Connection failures are reported
 * by schema_mgr itself, naming host, database and user but never the
 * password.
 *
 * Consistency on the remote side: every remote query of one call runs in
 * one REPEATABLE READ READ ONLY transaction, i.e. one snapshot.  In a
 * gapless store (schema_mgr's or slate's) ids are allocated under a lock
 * held until commit, so the ids visible in any snapshot are exactly a
 * prefix 1..R made of whole transactions: copying everything the snapshot
 * shows never splits a source transaction.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"

#include "remote.h"

static char *scrub(const char *str, const char *secret);
static char *chomp(char *str);
static void check_remote_table(Remote *r);
static Datum first_row_value(int col, bool *isnull);
static void remote_disconnect(Remote *r);
static const char *connect_hint(int sqlerrcode, const char *msg);
static void remote_connect_call(void *arg);
static void job_call(void *arg);

static int	connection_counter = 0;

/* ------------------------------------------------------------------------
 * Small helpers
 * ------------------------------------------------------------------------
 */

/* Name of the role of the remote database, for messages. */
const char *
remote_noun(RemoteRole role)
{
	switch (role)
	{
		case REMOTE_BACKUP:
			return "backup database";
		case REMOTE_SOURCE:
			return "source database";
		default:
			return "other database";
	}
}

/* Replace every occurrence of secret in str by asterisks; palloc'd. */
static char *
scrub(const char *str, const char *secret)
{
	StringInfoData buf;
	size_t		slen;
	const char *p;
	const char *hit;

	/*
	 * Too short a secret would mangle every message (and could not be told
	 * apart in it anyway); schema_mgr's own messages never contain it.
	 */
	if (str == NULL || secret == NULL || strlen(secret) < 4)
		return str ? pstrdup(str) : NULL;
	slen = strlen(secret);
	initStringInfo(&buf);
	p = str;
	while ((hit = strstr(p, secret)) != NULL)
	{
		appendBinaryStringInfo(&buf, p, hit - p);
		appendStringInfoString(&buf, "********");
		p = hit + slen;
	}
	appendStringInfoString(&buf, p);
	return buf.data;
}

/* Remove trailing newlines and whitespace, in place. */
static char *
chomp(char *str)
{
	int			len;

	if (str == NULL)
		return NULL;
	len = strlen(str);
	while (len > 0 && isspace((unsigned char) str[len - 1]))
		str[--len] = '\0';
	return str;
}

/* ------------------------------------------------------------------------
 * dblink plumbing
 * ------------------------------------------------------------------------
 */

/* Column col of the first row of the last SPI result. */
static Datum
first_row_value(int col, bool *isnull)
{
	return SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, col, isnull);
}

/* Run a statement on the remote side (no result rows). */
void
remote_exec(Remote *r, const char *sql)
{
	char	   *q = psprintf("SELECT %s.dblink_exec($1, $2)", r->dblink);
	const char *args[2] = {r->connname, sql};

	sm_spi_exec(q, 2, args, SPI_OK_SELECT);
}

/*
 * Run a query on the remote side; its rows become the SPI result.  coldefs
 * is the column definition list, e.g. "a bigint, b text".
 */
void
remote_query(Remote *r, const char *sql, const char *coldefs)
{
	char	   *q = psprintf("SELECT * FROM %s.dblink($1, $2) AS t(%s)",
							 r->dblink, coldefs);
	const char *args[2] = {r->connname, sql};

	sm_spi_exec(q, 2, args, SPI_OK_SELECT);
}

/* Close our dblink connection if it is open (safe to call twice). */
static void
remote_disconnect(Remote *r)
{
	char	   *q;
	const char *args[1];

	if (r->connname == NULL || r->dblink == NULL)
		return;
	q = psprintf("SELECT %s.dblink_disconnect($1) "
				 "WHERE $1 = ANY (%s.dblink_get_connections())",
				 r->dblink, r->dblink);
	args[0] = r->connname;
	sm_spi_exec(q, 1, args, SPI_OK_SELECT);
	r->connected = false;
}

/*
 * A hint that says which part of the connection details is probably wrong,
 * from the error's code and libpq's message.
 */
static const char *
connect_hint(int sqlerrcode, const char *msg)
{
	/* dblink's rule for non-superusers (the code of both its checks) */
	if (sqlerrcode == ERRCODE_S_R_E_PROHIBITED_SQL_STATEMENT_ATTEMPTED)
		return "A non-superuser must authenticate to the remote server with a password, e.g. one kept in a user mapping of a foreign server.";
	if (msg == NULL)
		return NULL;
	if (strstr(msg, "password authentication failed") ||
		strstr(msg, "no password supplied") ||
		strstr(msg, "authentication failed"))
		return "Check the user name and the password.";
	if (strstr(msg, "role \"") && strstr(msg, "does not exist"))
		return "Check the user name.";
	if (strstr(msg, "database \"") && strstr(msg, "does not exist"))
		return "Check the database name.";
	if (strstr(msg, "could not translate host name") ||
		strstr(msg, "Connection refused") ||
		strstr(msg, "No such file or directory") ||
		strstr(msg, "could not connect") ||
		strstr(msg, "timeout expired") ||
		strstr(msg, "No route to host"))
		return "Check the host name and port, and that the server accepts TCP/IP connections.";
	if (strstr(msg, "connection info string") || strstr(msg, "URI") ||
		strstr(msg, "invalid connection option"))
		return "Give a libpq connection string (key=value pairs or a URI) or the name of a foreign server.";
	return "Check the connection details.";
}

/* dblink_connect, for sm_try_subxact */
static void
remote_connect_call(void *arg)
{
	Remote	   *r = (Remote *) arg;
	const char *args[2] = {r->connname, r->connstr};

	sm_spi_exec(psprintf("SELECT %s.dblink_connect($1, $2)", r->dblink),
					 2, args, SPI_OK_SELECT);
}

/*
 * Open the named dblink connection.  A failure is reported by schema_mgr:
 * which remote it was (host, database, user; never the password), libpq's
 * reason scrubbed of the connection string, and a hint.
 */
void
remote_connect(Remote *r)
{
	ErrorData  *edata;

	sm_connect_deadline_arm(r->connstr);
	edata = sm_try_subxact(remote_connect_call, r);
	if (sm_connect_deadline_disarm(edata != NULL) &&
		edata->sqlerrcode == ERRCODE_QUERY_CANCELED)
	{
		/* connect_timeout passed: said as libpq says it */
		edata->sqlerrcode = ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION;
		edata->detail = pstrdup("timeout expired");
	}
	if (edata != NULL)
	{
		char	   *reason;
		const char *hint;
		int			code;

		/* a cancel or a shutdown request is not a connection problem */
		if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED ||
			edata->sqlerrcode == ERRCODE_ADMIN_SHUTDOWN)
			ReThrowError(edata);

		/*
		 * libpq's reason is in the detail ("could not establish
		 * connection"), or the message itself for dblink's own checks.
		 * Parse errors of the connection string quote part of it: drop
		 * those.
		 */
		reason = edata->detail ? edata->detail : edata->message;
		reason = chomp(scrub(reason, r->password));
		hint = connect_hint(edata->sqlerrcode, reason);
		if (reason && (strstr(reason, "connection info string") ||
					   strstr(reason, "URI")))
			reason = pstrdup("The connection string is not valid.");
		code = edata->sqlerrcode;
		if (code != ERRCODE_S_R_E_PROHIBITED_SQL_STATEMENT_ATTEMPTED)
			code = ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION;

		ereport(ERROR,
				(errcode(code),
				 errmsg("could not connect to the %s (%s)",
						remote_noun(r->role), r->describe),
				 reason ? errdetail("%s", reason) : 0,
				 errhint("%s", hint),
				 errhidestmt(r->hide_stmt)));
	}
	r->connected = true;
}

/*
 * Set up the remote session: one REPEATABLE READ READ ONLY transaction
 * (one snapshot for the whole call) with a fixed search_path, date style,
 * no row security and no idle-in-transaction timeout, and the remote table
 * resolved to a qualified name and checked.
 */
void
remote_setup(Remote *r)
{
	bool		isnull;

	remote_exec(r, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");

	/*
	 * The table name is resolved as the remote resolves it, with the remote
	 * session's own search_path: the one query sent before that path is
	 * fixed.  It names only a pg_catalog function and type and holds no
	 * operator, so nothing on that path can stand in for any part of it.
	 */
	remote_query(r, psprintf("SELECT pg_catalog.to_regclass(%s)::pg_catalog.oid",
							 quote_literal_cstr(remote_table_name(r->table_arg, true))),
				 "relid oid");
	r->relid = DatumGetObjectId(first_row_value(1, &isnull));
	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("table \"%s\" does not exist in the %s",
						remote_table_name(r->table_arg, false),
						remote_noun(r->role)),
				 errdetail("Connected to %s.", r->describe),
				 errhint("Name the events table of the %s with the remote_table argument.",
						 remote_noun(r->role)),
				 errhidestmt(r->hide_stmt)));

	remote_exec(r, "SET LOCAL search_path = pg_catalog, pg_temp");
	remote_exec(r, "SET LOCAL datestyle = ISO");
	remote_exec(r, "SET LOCAL row_security = off");

	/*
	 * The transaction waits, idle, while this side works (a restore
	 * rebuilds the store's indexes before its last remote query): a
	 * timeout the remote sets for idle transactions must not end it.
	 */
	remote_exec(r, "SET LOCAL idle_in_transaction_session_timeout = 0");
	check_remote_table(r);
}

/* The type of a column of the remote table, or NULL: SQL for a subquery. */
#define REMOTE_COLUMN_TYPE(col) \
	"(SELECT a.atttypid FROM pg_catalog.pg_attribute a " \
	"WHERE a.attrelid OPERATOR(pg_catalog.=) c.oid " \
	"AND a.attname OPERATOR(pg_catalog.=) '" col "' " \
	"AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped)"

/*
 * Whether the remote relation r->relid is an events table: a plain or
 * partitioned table (a view could run anything) with an integer id, a ts
 * timestamp with time zone and an event jsonb, json or text column.  Sets
 * r->table (quoted and qualified) and r->id_unique (a unique index on id
 * alone, so that ids need not be counted for duplicates).
 */
static void
check_remote_table(Remote *r)
{
	char		relkind;
	Oid			id_type,
				ts_type,
				event_type;
	bool		isnull;
	const char *problem = NULL;

	remote_query(r, psprintf("SELECT n.nspname::pg_catalog.text, c.relname::pg_catalog.text, "
							 "c.relkind::pg_catalog.text, "
							 REMOTE_COLUMN_TYPE("id") ", "
							 REMOTE_COLUMN_TYPE("ts") ", "
							 REMOTE_COLUMN_TYPE("event") ", "
							 "EXISTS (SELECT 1 FROM pg_catalog.pg_index i "
							 "JOIN pg_catalog.pg_attribute a "
							 "ON a.attrelid OPERATOR(pg_catalog.=) i.indrelid "
							 "AND a.attnum OPERATOR(pg_catalog.=) i.indkey[0] "
							 "WHERE i.indrelid OPERATOR(pg_catalog.=) c.oid "
							 "AND i.indisunique AND i.indisvalid "
							 "AND i.indnatts OPERATOR(pg_catalog.=) 1 "
							 "AND i.indpred IS NULL AND i.indexprs IS NULL "
							 "AND a.attname OPERATOR(pg_catalog.=) 'id') "
							 "FROM pg_catalog.pg_class c "
							 "JOIN pg_catalog.pg_namespace n "
							 "ON n.oid OPERATOR(pg_catalog.=) c.relnamespace "
							 "WHERE c.oid OPERATOR(pg_catalog.=) '%u'::pg_catalog.oid",
							 r->relid),
				 "nspname text, relname text, relkind text, id_type oid, "
				 "ts_type oid, event_type oid, id_unique boolean");
	if (SPI_processed != 1)
		elog(ERROR, "the remote table with OID %u has disappeared", r->relid);
	r->table = psprintf("%s.%s", quote_identifier(sm_spi_text(0, 1)),
						quote_identifier(sm_spi_text(0, 2)));
	relkind = sm_spi_text(0, 3)[0];
	/* a missing column's type is NULL, i.e. InvalidOid */
	id_type = DatumGetObjectId(first_row_value(4, &isnull));
	ts_type = DatumGetObjectId(first_row_value(5, &isnull));
	event_type = DatumGetObjectId(first_row_value(6, &isnull));
	r->id_unique = DatumGetBool(first_row_value(7, &isnull));

	if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE)
		problem = "It is not a table.";
	else if (id_type != INT8OID && id_type != INT4OID && id_type != INT2OID)
		problem = "It has no column \"id\" of type bigint.";
	else if (ts_type != TIMESTAMPTZOID)
		problem = "It has no column \"ts\" of type timestamp with time zone.";
	else if (event_type != JSONBOID && event_type != JSONOID && event_type != TEXTOID)
		problem = "It has no column \"event\" of type jsonb.";
	if (problem != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("relation %s in the %s is not an events table",
						r->table, remote_noun(r->role)),
				 errdetail("%s An events table has the columns id bigint, ts timestamp with time zone and event jsonb.",
						   problem),
				 errhint("Name the events table of the %s with the remote_table argument.",
						 remote_noun(r->role)),
				 errhidestmt(r->hide_stmt)));
}

/* ------------------------------------------------------------------------
 * Running a job: SPI, a safe search_path, a subtransaction to clean up the
 * dblink connection on any error and to scrub the error of the password.
 * ------------------------------------------------------------------------
 */
typedef struct JobCall
{
	Job		   *job;
	JobWork		work;
} JobCall;

static void
job_call(void *arg)
{
	JobCall    *call = (JobCall *) arg;

	call->work(call->job);
}

/*
 * Run a query that reads the local store (its rows become the SPI result):
 * in the job's snapshot when it has one, read only, else in a snapshot of
 * its own that sees everything committed so far, as restore and sync need
 * once they hold the store's locks.
 */
void
job_read_store(Job *job, const char *sql)
{
	SPIPlanPtr	plan;
	int			rc;

	if (job->local_snapshot == NULL)
	{
		sm_spi_exec(sql, 0, NULL, SPI_OK_SELECT);
		return;
	}
	plan = SPI_prepare(sql, 0, NULL);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed for \"%s\": %s",
			 sql, SPI_result_code_string(SPI_result));
	rc = SPI_execute_snapshot(plan, NULL, NULL, job->local_snapshot,
							  InvalidSnapshot, true, false, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_snapshot failed for \"%s\": %s",
			 sql, SPI_result_code_string(rc));
	SPI_freeplan(plan);
}

void
remote_run_job(Job *job, JobWork work)
{
	Remote	   *r = &job->remote;
	int			nest_level;
	JobCall		call;
	ErrorData  *edata;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	nest_level = sm_push_search_path();
	/* indexes rebuilt after a load go back to the default tablespace */
	(void) set_config_option("default_tablespace", "",
							 PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);

	r->dblink = sm_extension_schema_of("dblink");
	if (r->dblink == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("extension \"dblink\" is not installed"),
				 errdetail("schema_mgr reaches the other database through dblink."),
				 errhint("Run CREATE EXTENSION dblink in this database."),
				 errhidestmt(r->hide_stmt)));
	r->connname = psprintf("schema_mgr_%d_%d", MyProcPid, ++connection_counter);

	call.job = job;
	call.work = work;
	edata = sm_try_subxact(job_call, &call);
	if (edata != NULL)
	{
		/* a row of the remote that this side cannot take: say which */
		if (job->loading_hi > 0 &&
			ERRCODE_TO_CATEGORY(edata->sqlerrcode) == ERRCODE_DATA_EXCEPTION)
			edata = restore_explain_load_error(job, edata);

		/*
		 * Never leave the named connection (and its remote transaction)
		 * open: not even when a second cancel arrives meanwhile.
		 */
		HOLD_INTERRUPTS();
		remote_disconnect(r);
		RESUME_INTERRUPTS();

		edata->message = scrub(edata->message, r->password);
		edata->detail = scrub(edata->detail, r->password);
		edata->detail_log = scrub(edata->detail_log, r->password);
		edata->hint = scrub(edata->hint, r->password);
		edata->context = scrub(edata->context, r->password);
		edata->internalquery = scrub(edata->internalquery, r->password);
		if (r->hide_stmt)
			edata->hide_stmt = true;
		ReThrowError(edata);
	}

	remote_disconnect(r);
	sm_pop_search_path(nest_level);
	SPI_finish();
}
