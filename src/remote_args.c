/*-------------------------------------------------------------------------
 *
 * remote_args.c
 *	  The arguments of restore_events, sync_events and compare_events:
 *	  connection strings (building and quoting them, finding the password
 *	  in them), the store and the remote table's name, keeping a statement
 *	  that holds a password out of every message, and the result row.
 *
 * Nothing here talks to the other database; remote.c does.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "foreign/foreign.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/varlena.h"

#include "remote.h"

static void append_conninfo(StringInfo buf, const char *key, const char *value);
static char *conninfo_value(const char *conninfo, const char *key);
static bool connection_has_password(const char *connection);
static char *text_arg(FunctionCallInfo fcinfo, int argno, const char *name);
static List *split_remote_table(const char *name);
static void remote_from_connection(Remote *r, const char *connection);
static Oid	store_arg(FunctionCallInfo fcinfo, int argno);
static char *table_arg(FunctionCallInfo fcinfo, int argno);

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
		sm_null_argument(fcinfo, name);
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
char *
remote_table_name(const char *name, bool quote)
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

