/*-------------------------------------------------------------------------
 *
 * remote.c
 *	  Talking to another database through dblink, for restore_events,
 *	  sync_events and compare_events: connection strings (building,
 *	  quoting, finding and scrubbing the password), connecting with a
 *	  useful hint, dblink plumbing, checking the remote events table, and
 *	  running one call's job.
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
#include "foreign/foreign.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/varlena.h"

#include "remote.h"

static void append_conninfo(StringInfo buf, const char *key, const char *value);
static char *conninfo_value(const char *conninfo, const char *key);
static char *scrub(const char *str, const char *secret);
static char *chomp(char *str);
static bool connection_has_password(const char *connection);
static char *text_arg(FunctionCallInfo fcinfo, int argno, const char *name);
static List *split_remote_table(const char *name);
static char *join_remote_table(const char *name, bool quote);
static void check_remote_table(Remote *r);
static Datum first_row_value(int col, bool *isnull);
static void remote_disconnect(Remote *r);
static const char *connect_hint(const char *msg);
static void remote_connect_call(void *arg);
static void job_call(void *arg);
static void remote_from_connection(Remote *r, const char *connection);
static Oid	store_arg(FunctionCallInfo fcinfo, int argno);
static char *table_arg(FunctionCallInfo fcinfo, int argno);

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

/*
 * Append key='value' to a libpq connection string, quoting the value by
 * libpq's rules (single quotes; backslash before ' and \).
 */
static void
append_conninfo(StringInfo buf, const char *key, const char *value)
{
	const char *p;

	if (buf->len > 0)
		appendStringInfoChar(buf, ' ');
	appendStringInfo(buf, "%s='", key);
	for (p = value; *p; p++)
	{
		if (*p == '\'' || *p == '\\')
			appendStringInfoChar(buf, '\\');
		appendStringInfoChar(buf, *p);
	}
	appendStringInfoChar(buf, '\'');
}

/*
 * The value of key in a key=value connection string, or NULL.  For a
 * postgres:// URI only "password" is found: the userinfo after the colon,
 * or a password=... query parameter (not percent-decoded).  Used for
 * messages and to scrub them, so it errs on the side of finding something.
 */
static char *
conninfo_value(const char *conninfo, const char *key)
{
	const char *p = conninfo;
	size_t		keylen = strlen(key);

	if (strncmp(p, "postgresql://", 13) == 0 || strncmp(p, "postgres://", 11) == 0)
	{
		const char *start = strstr(p, "://") + 3;
		const char *end = start + strcspn(start, "/");	/* as libpq */
		const char *at;
		const char *colon;
		const char *param;

		if (strcmp(key, "password") != 0)
			return NULL;
		/* userinfo: user:password@ before the host part */
		at = memchr(start, '@', end - start);
		colon = at ? memchr(start, ':', at - start) : NULL;
		if (colon != NULL && colon + 1 < at)
			return pnstrdup(colon + 1, at - colon - 1);
		/* query parameters: ?a=b&password=... */
		param = strchr(start, '?');
		while (param != NULL)
		{
			param++;
			if (strncmp(param, "password=", 9) == 0 && param[9] != '\0' &&
				param[9] != '&')
				return pnstrdup(param + 9, strcspn(param + 9, "&"));
			param = strchr(param, '&');
		}
		return NULL;
	}

	while (*p)
	{
		const char *kstart;
		size_t		klen;
		StringInfoData val;

		while (*p && isspace((unsigned char) *p))
			p++;
		if (*p == '\0')
			break;
		kstart = p;
		while (*p && *p != '=' && !isspace((unsigned char) *p))
			p++;
		klen = p - kstart;
		while (*p && isspace((unsigned char) *p))
			p++;
		if (*p != '=')
			return NULL;
		p++;
		while (*p && isspace((unsigned char) *p))
			p++;
		initStringInfo(&val);
		if (*p == '\'')
		{
			p++;
			while (*p && *p != '\'')
			{
				if (*p == '\\' && p[1])
					p++;
				appendStringInfoChar(&val, *p++);
			}
			if (*p)
				p++;
		}
		else
		{
			while (*p && !isspace((unsigned char) *p))
			{
				if (*p == '\\' && p[1])
					p++;
				appendStringInfoChar(&val, *p++);
			}
		}
		if (klen == keylen && strncmp(kstart, key, klen) == 0 && val.len > 0)
			return val.data;
		pfree(val.data);
	}
	return NULL;
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

/*
 * Whether a connection argument may carry a password (a password keyword,
 * URI userinfo or URI parameter): then no message of the call may log the
 * statement.  Errs on the side of yes.
 */
static bool
connection_has_password(const char *connection)
{
	const char *p;

	if (conninfo_value(connection, "password") != NULL)
		return true;
	for (p = connection; *p; p++)
		if (pg_strncasecmp(p, "password", 8) == 0)
			return true;
	return false;
}

/* Check a text argument: not NULL, not empty. */
static char *
text_arg(FunctionCallInfo fcinfo, int argno, const char *name)
{
	char	   *value;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", name)));
	value = text_to_cstring(PG_GETARG_TEXT_PP(argno));
	if (value[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be empty", name)));
	return value;
}

/*
 * A remote table given as text ("events", "backup.events", "\"My Table\""),
 * split into its names as SQL would (each truncated to NAMEDATALEN - 1
 * bytes).  The remote name is resolved later, on the remote side.  The
 * message does not repeat the argument, which may be anything.
 */
static List *
split_remote_table(const char *name)
{
	char	   *raw = pstrdup(name);
	List	   *names;

	if (!SplitIdentifierString(raw, '.', &names) || list_length(names) > 2)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("remote_table is not a valid table name"),
				 errdetail("remote_table must name a table, optionally qualified by its schema, such as events or backup.events."),
				 errhint("Double-quote a name that holds characters other than letters, digits and underscores, as in '\"My Schema\".events'.")));
	return names;
}

/*
 * The names of a remote table joined by dots, each quoted when quote is
 * set (for SQL text) or as they are (for messages).
 */
static char *
join_remote_table(const char *name, bool quote)
{
	List	   *names = split_remote_table(name);
	ListCell   *lc;
	StringInfoData buf;

	initStringInfo(&buf);
	foreach(lc, names)
	{
		if (buf.len > 0)
			appendStringInfoChar(&buf, '.');
		appendStringInfoString(&buf, quote ? quote_identifier((char *) lfirst(lc))
							   : (char *) lfirst(lc));
	}
	return buf.data;
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
 * from libpq's message.
 */
static const char *
connect_hint(const char *msg)
{
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
	if (strstr(msg, "password is required"))
		return "A non-superuser must authenticate to the remote server with a password, e.g. one kept in a user mapping of a foreign server.";
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
	ErrorData  *edata = sm_try_subxact(remote_connect_call, r);

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
		hint = connect_hint(reason);
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
 * (one snapshot for the whole call) with a fixed search_path, date style
 * and no row security, and the remote table resolved to a qualified name
 * and checked.
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
							 quote_literal_cstr(join_remote_table(r->table_arg, true))),
				 "relid oid");
	r->relid = DatumGetObjectId(first_row_value(1, &isnull));
	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("table \"%s\" does not exist in the %s",
						join_remote_table(r->table_arg, false),
						remote_noun(r->role)),
				 errdetail("Connected to %s.", r->describe),
				 errhint("Name the events table of the %s with the remote_table argument.",
						 remote_noun(r->role)),
				 errhidestmt(r->hide_stmt)));

	remote_exec(r, "SET LOCAL search_path = pg_catalog, pg_temp");
	remote_exec(r, "SET LOCAL datestyle = ISO");
	remote_exec(r, "SET LOCAL row_security = off");
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

/* Fill in the remote from a connection string or foreign server name. */
static void
remote_from_connection(Remote *r, const char *connection)
{
	StringInfoData buf;
	const char *keys[4] = {"host", "port", "dbname", "user"};
	const char *names[4] = {"host", "port", "database", "user"};
	int			i;

	r->connstr = pstrdup(connection);
	r->password = conninfo_value(connection, "password");
	r->hide_stmt = connection_has_password(connection);
	if (strchr(connection, '=') == NULL && strstr(connection, "://") == NULL)
	{
		if (GetForeignServerByName(connection, true) != NULL)
			r->describe = psprintf("foreign server \"%s\"", connection);
		else
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("foreign server \"%s\" does not exist", connection),
					 errdetail("The connection argument is neither a libpq connection string nor the name of a foreign server."),
					 errhint("Give a connection string such as 'host=backup.example.com dbname=events', or create a foreign server with CREATE SERVER ... FOREIGN DATA WRAPPER dblink_fdw.")));
		return;
	}
	if (strstr(connection, "://") != NULL)
	{
		r->describe = pstrdup("connection URI");
		return;
	}
	/*
	 * Defaults the caller's own keywords override (libpq keeps the last
	 * value of a keyword): name ourselves on the remote side, and give up
	 * connecting after a while, as the slate form does; on PostgreSQL 15
	 * dblink connects without servicing interrupts, so a silent host would
	 * otherwise hold the call, uncancellable, for minutes.
	 */
	r->connstr = psprintf("connect_timeout='15' fallback_application_name='schema_mgr' %s",
						  connection);
	initStringInfo(&buf);
	for (i = 0; i < 4; i++)
	{
		char	   *v = conninfo_value(connection, keys[i]);

		if (v == NULL)
			continue;
		if (buf.len > 0)
			appendStringInfoString(&buf, ", ");
		appendStringInfo(&buf, "%s \"%s\"", names[i], v);
	}
	r->describe = buf.len > 0 ? buf.data : pstrdup("default connection parameters");
}

/*
 * The store argument: InvalidOid when not given (NULL), which means the
 * only store of its kind.  0 (regclass '-') names no table and is refused,
 * not taken for "not given".
 */
static Oid
store_arg(FunctionCallInfo fcinfo, int argno)
{
	Oid			relid;

	if (PG_ARGISNULL(argno))
		return InvalidOid;
	relid = PG_GETARG_OID(argno);
	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("store must name an event store"),
				 errdetail("The store argument is 0, which names no table."),
				 errhint("Leave store out, or pass NULL, to use the only store of this database.")));
	return relid;
}

static char *
table_arg(FunctionCallInfo fcinfo, int argno)
{
	char	   *name;

	if (PG_NARGS() <= argno || PG_ARGISNULL(argno))
		return pstrdup("events");
	name = text_arg(fcinfo, argno, "remote_table");
	(void) split_remote_table(name);	/* report a bad name early */
	return name;
}

Datum
remote_two_int8_result(FunctionCallInfo fcinfo, int64 a, int64 b)
{
	TupleDesc	tupdesc;
	Datum		values[2];
	bool		nulls[2] = {false, false};

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	tupdesc = BlessTupleDesc(tupdesc);
	values[0] = Int64GetDatum(a);
	values[1] = Int64GetDatum(b);
	return HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls));
}

/*
 * Run the body of an SQL-callable function.  When hide is set, no error of
 * the call logs the statement, which holds a password: not only those of
 * remote_run_job, but argument errors raised before it too.
 */
Datum
remote_call_hiding_statement(FunctionCallInfo fcinfo, EntryBody body, bool hide)
{
	MemoryContext oldcontext = CurrentMemoryContext;
	Datum		result = (Datum) 0;

	if (!hide)
		return body(fcinfo);
	PG_TRY();
	{
		result = body(fcinfo);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(oldcontext);
		edata = CopyErrorData();
		FlushErrorState();
		edata->hide_stmt = true;
		ReThrowError(edata);
	}
	PG_END_TRY();
	return result;
}

/* Whether the first argument, a connection string, may hold a password. */
bool
remote_connection_arg_has_password(FunctionCallInfo fcinfo)
{
	return !PG_ARGISNULL(0) &&
		connection_has_password(text_to_cstring(PG_GETARG_TEXT_PP(0)));
}

/*
 * The job of a call whose arguments start (connection, store, remote_table):
 * connection is a libpq connection string or a foreign server name.
 */
void
remote_job_from_connection_args(FunctionCallInfo fcinfo, Job *job, RemoteRole role,
								const char *argname)
{
	memset(job, 0, sizeof(*job));
	job->remote.role = role;
	remote_from_connection(&job->remote, text_arg(fcinfo, 0, argname));
	job->store_relid = store_arg(fcinfo, 1);
	job->remote.table_arg = table_arg(fcinfo, 2);
}

/*
 * The job of the slate-compatible restore_events(fromHost, fromDatabase,
 * fromDatabaseUser, fromDatabasePassword, store, fromPort, remote_table):
 * the connection string is built here, password included, so every message
 * of the call must hide the statement.
 */
void
remote_job_from_password_args(FunctionCallInfo fcinfo, Job *job)
{
	StringInfoData conn;
	char	   *host,
			   *db,
			   *user,
			   *password;

	memset(job, 0, sizeof(*job));
	job->remote.role = REMOTE_BACKUP;
	job->remote.hide_stmt = true;
	/* scrub the password from argument errors too */
	password = PG_ARGISNULL(3) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(3));
	job->remote.password = password;
	host = text_arg(fcinfo, 0, "fromHost");
	db = text_arg(fcinfo, 1, "fromDatabase");
	user = text_arg(fcinfo, 2, "fromDatabaseUser");
	if (password == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("fromDatabasePassword must not be null"),
				 errhint("To connect without a password in the SQL text, call restore_events with a connection string or a foreign server name."),
				 errhidestmt(true)));
	job->store_relid = store_arg(fcinfo, 4);
	job->remote.table_arg = table_arg(fcinfo, 6);

	initStringInfo(&conn);
	append_conninfo(&conn, "host", host);
	if (!PG_ARGISNULL(5))
		append_conninfo(&conn, "port", psprintf("%d", PG_GETARG_INT32(5)));
	append_conninfo(&conn, "dbname", db);
	append_conninfo(&conn, "user", user);
	if (password[0] != '\0')
		append_conninfo(&conn, "password", password);
	/* slate's default; a black-holed host cannot be cancelled otherwise */
	append_conninfo(&conn, "connect_timeout", "15");
	append_conninfo(&conn, "fallback_application_name", "schema_mgr");
	job->remote.connstr = conn.data;
	job->remote.describe = PG_ARGISNULL(5)
		? psprintf("host \"%s\", database \"%s\", user \"%s\"", host, db, user)
		: psprintf("host \"%s\", port %d, database \"%s\", user \"%s\"",
				   host, PG_GETARG_INT32(5), db, user);
}
