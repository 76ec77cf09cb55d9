/*-------------------------------------------------------------------------
 *
 * restore.c
 *	  Disaster recovery over dblink: restore_events (rebuild an empty source
 *	  store from an online backup), sync_events (bring a destination store
 *	  up to date from a source) and compare_events (find the first id at
 *	  which two stores differ, by hashing id ranges on each side).
 *
 * dblink is used through its SQL functions via SPI, found in whatever
 * schema the dblink extension lives in at call time; schema_mgr does not
 * require it.  Every value handed to dblink is an SPI parameter; the only
 * text spliced into SQL (local, or sent to the remote) is quoted
 * identifiers, one quoted literal (the remote table's name) and integers.
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
 * Speed and memory: rows are copied in id ranges of
 * schema_mgr.restore_batch_size, one INSERT ... SELECT FROM dblink() each
 * (dblink reads in single-row mode into a tuplestore bounded by work_mem,
 * so the remote produces rows while we parse them and memory stays flat);
 * into an empty store, the indexes (primary key included) are dropped
 * first and rebuilt after the load, inside the same transaction; rows go
 * in through events_allow_direct_insert, so no notification is sent.
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
#include "portability/instr_time.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/regproc.h"
#include "utils/varlena.h"

#include "schema_mgr.h"

/* ids per dblink() query when copying rows */
static int	restore_batch_size = 20000;

/* a progress NOTICE at least every this many rows ... */
#define PROGRESS_ROWS		100000
/* ... or every this many seconds, whichever comes first */
#define PROGRESS_SECONDS	10.0
/* compare_events: buckets per bisection level */
#define COMPARE_FANOUT		256
/* rows hashed at each end of the range after a restore or before a sync */
#define SPOT_CHECK_ROWS		1000

/*
 * Canonical text of an event row, hashed identically on both sides: id, ts
 * in UTC with microseconds, and the jsonb output of event (jsonb output is
 * canonical).  Evaluated with search_path = pg_catalog, pg_temp on both
 * sides.
 */
#define ROW_HASH_EXPR \
	"md5(id::text || '|' || " \
	"to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '|' || " \
	"event::jsonb::text)"

typedef enum RemoteRole
{
	REMOTE_BACKUP,				/* restore_events */
	REMOTE_SOURCE,				/* sync_events */
	REMOTE_OTHER				/* compare_events */
} RemoteRole;

/* One remote connection and what is needed to report on it safely. */
typedef struct Remote
{
	RemoteRole	role;
	char	   *dblink;			/* quoted schema of dblink */
	char	   *connname;		/* dblink connection name */
	char	   *connstr;		/* conninfo or foreign server name */
	char	   *password;		/* to scrub from messages, or NULL */
	char	   *describe;		/* "host ... database ... user ..." */
	bool		hide_stmt;		/* the SQL text holds a password */
	bool		connected;
	char	   *table_arg;		/* remote table as given */
	char	   *table;			/* remote table, quoted and qualified */
} Remote;

/* Everything one restore/sync/compare call works with. */
typedef struct Job
{
	Remote		remote;
	Oid			store_relid;	/* as given, or InvalidOid */
	EventStore	store;
	bool		verify_all;		/* sync: compare every row first */
	/* results */
	int64		rows;
	int64		max_id;
	bool		equal;
	int64		first_difference;	/* 0 when none */
	int64		local_max;
	int64		remote_max;
} Job;

typedef void (*JobWork) (Job *job);

static int	connection_counter = 0;

PG_FUNCTION_INFO_V1(sm_restore_events_password);
PG_FUNCTION_INFO_V1(sm_restore_events);
PG_FUNCTION_INFO_V1(sm_sync_events);
PG_FUNCTION_INFO_V1(sm_compare_events);

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
 * Small helpers
 * ------------------------------------------------------------------------
 */

/* Name of the role of the remote database, for messages. */
static const char *
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
 * Quoted, qualified name of a remote table given as text ("events",
 * "backup.events", "\"My Table\"").  The remote name is resolved later, on
 * the remote side; here it is only split and requoted.
 */
static char *
quote_remote_table(const char *name)
{
	List	   *names;
	ListCell   *lc;
	StringInfoData buf;

	names = stringToQualifiedNameList(name);
	if (list_length(names) > 2)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid remote table name \"%s\"", name),
				 errhint("Give a table name, optionally qualified by its schema.")));
	initStringInfo(&buf);
	foreach(lc, names)
	{
		if (buf.len > 0)
			appendStringInfoChar(&buf, '.');
		appendStringInfoString(&buf, quote_identifier(strVal(lfirst(lc))));
	}
	return buf.data;
}

/* ------------------------------------------------------------------------
 * SPI and dblink plumbing
 * ------------------------------------------------------------------------
 */

/* Run SQL with text parameters; errors out unless the result is as expected. */
static void
spi_exec(const char *sql, int nargs, const char **args, int expect)
{
	Oid			types[4];
	Datum		values[4];
	int			i;
	int			rc;

	Assert(nargs <= 4);
	for (i = 0; i < nargs; i++)
	{
		types[i] = TEXTOID;
		values[i] = CStringGetTextDatum(args[i]);
	}
	rc = SPI_execute_with_args(sql, nargs, types, values, NULL, false, 0);
	if (rc != expect)
		elog(ERROR, "SPI_execute_with_args failed for \"%s\": %s",
			 sql, SPI_result_code_string(rc));
}

/* int8 value of column col of row row of the last SPI result (0 if NULL). */
static int64
spi_int8(int row, int col, bool *isnull)
{
	bool		null;
	Datum		d;

	d = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col, &null);
	if (isnull)
		*isnull = null;
	return null ? 0 : DatumGetInt64(d);
}

/* text value (palloc'd in the current context) of the last SPI result */
static char *
spi_text(int row, int col)
{
	char	   *v = SPI_getvalue(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col);

	return v;
}

/* Run a statement on the remote side (no result rows). */
static void
remote_exec(Remote *r, const char *sql)
{
	char	   *q = psprintf("SELECT %s.dblink_exec($1, $2)", r->dblink);
	const char *args[2] = {r->connname, sql};

	spi_exec(q, 2, args, SPI_OK_SELECT);
}

/*
 * Run a query on the remote side; its rows become the SPI result.  coldefs
 * is the column definition list, e.g. "a bigint, b text".
 */
static void
remote_query(Remote *r, const char *sql, const char *coldefs)
{
	char	   *q = psprintf("SELECT * FROM %s.dblink($1, $2) AS t(%s)",
							 r->dblink, coldefs);
	const char *args[2] = {r->connname, sql};

	spi_exec(q, 2, args, SPI_OK_SELECT);
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
	spi_exec(q, 1, args, SPI_OK_SELECT);
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

	spi_exec(psprintf("SELECT %s.dblink_connect($1, $2)", r->dblink),
			 2, args, SPI_OK_SELECT);
}

/*
 * Open the named dblink connection.  A failure is reported by schema_mgr:
 * which remote it was (host, database, user; never the password), libpq's
 * reason scrubbed of the connection string, and a hint.
 */
static void
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
 * Set up the remote session: a fixed date style and search_path, one
 * REPEATABLE READ READ ONLY transaction (one snapshot for the whole call),
 * and the remote table resolved to a qualified name.
 */
static void
remote_setup(Remote *r)
{
	char	   *sql;
	char	   *quoted = quote_remote_table(r->table_arg);

	remote_exec(r, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");

	/* resolve the name with the remote's own search_path */
	sql = psprintf("SELECT n.nspname::text, c.relname::text "
				   "FROM pg_catalog.pg_class c "
				   "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
				   "WHERE c.oid = pg_catalog.to_regclass(%s)",
				   quote_literal_cstr(quoted));
	remote_query(r, sql, "nspname text, relname text");
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("table \"%s\" does not exist in the %s",
						r->table_arg, remote_noun(r->role)),
				 errdetail("Connected to %s.", r->describe),
				 errhint("Name the events table of the %s with the remote_table argument.",
						 remote_noun(r->role)),
				 errhidestmt(r->hide_stmt)));
	r->table = psprintf("%s.%s", quote_identifier(spi_text(0, 1)),
						quote_identifier(spi_text(0, 2)));

	remote_exec(r, "SET LOCAL search_path = pg_catalog, pg_temp");
	remote_exec(r, "SET LOCAL datestyle = ISO");
}

/* ------------------------------------------------------------------------
 * Range hashes
 * ------------------------------------------------------------------------
 */

/* SQL for the hashes of buckets of width w over ids lo..hi of table. */
static char *
bucket_hash_sql(const char *table, int64 lo, int64 hi, int64 w)
{
	return psprintf("SELECT (id - " INT64_FORMAT ") / " INT64_FORMAT " AS b, "
					"md5(string_agg(" ROW_HASH_EXPR ", '' ORDER BY id)) AS h "
					"FROM %s WHERE id BETWEEN " INT64_FORMAT " AND " INT64_FORMAT " "
					"GROUP BY 1 ORDER BY 1",
					lo, w, table, lo, hi);
}

typedef struct BucketHashes
{
	int			n;
	int64	   *bucket;
	char	  **hash;
} BucketHashes;

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
		bh->bucket[i] = spi_int8(i, 1, NULL);
		bh->hash[i] = spi_text(i, 2);
	}
}

static void
local_buckets(Job *job, int64 lo, int64 hi, int64 w, BucketHashes *bh)
{
	spi_exec(bucket_hash_sql(job->store.qualified_name, lo, hi, w),
			 0, NULL, SPI_OK_SELECT);
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

	spi_exec(psprintf("SELECT %s.dblink_send_query($1, $2)", r->dblink),
			 2, args, SPI_OK_SELECT);
}

static void
remote_buckets_get(Job *job, BucketHashes *bh)
{
	Remote	   *r = &job->remote;
	const char *args[1] = {r->connname};
	char	   *q = psprintf("SELECT * FROM %s.dblink_get_result($1) AS t(b bigint, h text)",
							 r->dblink);

	spi_exec(q, 1, args, SPI_OK_SELECT);
	collect_buckets(bh);
	/* one more call collects the end of the results, freeing the connection */
	spi_exec(q, 1, args, SPI_OK_SELECT);
}

/*
 * First id in lo..hi at which the local store and the remote table differ
 * (a row present on one side only, or different), or 0 when they agree.
 * Bisects: hashes of up to COMPARE_FANOUT buckets per level on each side,
 * then descends into the first bucket that differs.
 */
static int64
first_difference(Job *job, int64 lo, int64 hi)
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
static bool
ranges_equal(Job *job, int64 lo, int64 hi)
{
	return first_difference(job, lo, hi) == 0;
}

/* ------------------------------------------------------------------------
 * Loading rows
 * ------------------------------------------------------------------------
 */

typedef struct SavedIndex
{
	char	   *drop;			/* DROP INDEX / ALTER TABLE ... DROP CONSTRAINT */
	char	   *create;			/* CREATE INDEX / ALTER TABLE ... ADD CONSTRAINT */
} SavedIndex;

/*
 * Drop the store's indexes, the primary key included, and return how to
 * recreate them: building an index once after loading an empty table is
 * much faster than maintaining it row by row (on 1M events, dropping the
 * primary key too took the load from about 10 s to 8 s, for 0.6 s to
 * rebuild it).  The primary key is rebuilt first, so a duplicate
 * id still fails the restore.  Only done by the table's owner, and only
 * when no index carries state that recreating it would lose (replica
 * identity, CLUSTER mark) and no foreign key references the table;
 * otherwise the indexes stay and are maintained as rows arrive.  An index
 * whose definition pg_get_indexdef does not fully give back (a tablespace
 * of its own, a comment, a column statistics target) also stays.  The
 * rebuilt indexes go to the database's default tablespace, as before:
 * run_job sets default_tablespace to ''.
 */
static List *
drop_indexes(Job *job)
{
	List	   *saved = NIL;
	Oid			types[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(job->store.relid)};
	uint64		i;
	ListCell   *lc;
	int			rc;
	bool		isnull;

#if PG_VERSION_NUM >= 160000
	if (!object_ownercheck(RelationRelationId, job->store.relid, GetUserId()))
#else
	if (!pg_class_ownercheck(job->store.relid, GetUserId()))
#endif
		return NIL;

	rc = SPI_execute_with_args(
							   "SELECT NOT EXISTS (SELECT 1 FROM pg_index "
							   "                   WHERE indrelid = $1 "
							   "                   AND (indisreplident OR indisclustered)) "
							   "   AND NOT EXISTS (SELECT 1 FROM pg_constraint "
							   "                   WHERE confrelid = $1)",
							   1, types, values, NULL, false, 0);
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not inspect the indexes of the store");
	if (!DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)))
		return NIL;

	/* the primary key first (recreated first), then the others by name */
	rc = SPI_execute_with_args(
							   "SELECT format('ALTER TABLE %s DROP CONSTRAINT %I', $1::regclass, k.conname), "
							   "       format('ALTER TABLE %s ADD CONSTRAINT %I %s', $1::regclass, k.conname, "
							   "              pg_get_constraintdef(k.oid)) "
							   "FROM pg_constraint k "
							   "WHERE k.conrelid = $1 AND k.contype = 'p' "
							   "AND NOT EXISTS (SELECT 1 FROM pg_description d "
							   "                WHERE (d.classoid = 'pg_constraint'::regclass "
							   "                       AND d.objoid = k.oid) "
							   "                   OR (d.classoid = 'pg_class'::regclass "
							   "                       AND d.objoid = k.conindid)) "
							   "AND NOT EXISTS (SELECT 1 FROM pg_attribute a "
							   "                WHERE a.attrelid = k.conindid AND a.attstattarget > 0) "
							   "UNION ALL "
							   "SELECT * FROM (SELECT format('DROP INDEX %I.%I', n.nspname, c.relname), "
							   "       pg_get_indexdef(i.indexrelid) "
							   "FROM pg_index i "
							   "JOIN pg_class c ON c.oid = i.indexrelid "
							   "JOIN pg_namespace n ON n.oid = c.relnamespace "
							   "WHERE i.indrelid = $1 "
							   "AND NOT EXISTS (SELECT 1 FROM pg_constraint k "
							   "                WHERE k.conindid = i.indexrelid) "
							   "AND c.reltablespace = 0 "
							   "AND NOT EXISTS (SELECT 1 FROM pg_description d "
							   "                WHERE d.classoid = 'pg_class'::regclass "
							   "                  AND d.objoid = i.indexrelid) "
							   "AND NOT EXISTS (SELECT 1 FROM pg_attribute a "
							   "                WHERE a.attrelid = i.indexrelid AND a.attstattarget > 0) "
							   "ORDER BY c.relname) s",
							   1, types, values, NULL, false, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not list the indexes of the store");
	for (i = 0; i < SPI_processed; i++)
	{
		SavedIndex *si = palloc(sizeof(SavedIndex));

		si->drop = spi_text(i, 1);
		si->create = spi_text(i, 2);
		saved = lappend(saved, si);
	}
	foreach(lc, saved)
	{
		SavedIndex *si = lfirst(lc);

		spi_exec(si->drop, 0, NULL, SPI_OK_UTILITY);
	}
	return saved;
}

static void
recreate_indexes(List *saved)
{
	ListCell   *lc;

	foreach(lc, saved)
	{
		SavedIndex *si = lfirst(lc);

		CHECK_FOR_INTERRUPTS();
		spi_exec(si->create, 0, NULL, SPI_OK_UTILITY);
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
static int64
copy_rows(Job *job, int64 from_id, int64 to_id, const char *verb)
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
							 "WHERE id BETWEEN " INT64_FORMAT " AND " INT64_FORMAT
							 " ORDER BY id",
							 r->table, lo, hi);
		values[1] = CStringGetTextDatum(batch_sql);
		rc = SPI_execute_plan(plan, values, NULL, false, 0);
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

/* count, min and max of the local store's ids above from_id */
static void
local_stats(Job *job, int64 from_id, int64 *count, int64 *min, int64 *max)
{
	spi_exec(psprintf("SELECT count(*), min(id), max(id) FROM %s "
					  "WHERE id > " INT64_FORMAT,
					  job->store.qualified_name, from_id),
			 0, NULL, SPI_OK_SELECT);
	*count = spi_int8(0, 1, NULL);
	*min = spi_int8(0, 2, NULL);
	*max = spi_int8(0, 3, NULL);
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
				distinct;
	bool		isnull,
				unique;
	List	   *indexes;
	int64		lcount,
				lmin,
				lmax;
	instr_time	t0,
				t1,
				t2,
				t3;

	/* the target: an empty source store, which nobody else may write now */
	events_lookup_store(job->store_relid, true, &job->store);
	events_lock_store(job->store.relid);
	spi_exec(psprintf("SELECT EXISTS (SELECT 1 FROM %s)", job->store.qualified_name),
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
	remote_query(r, psprintf("SELECT count(*), count(id), min(id)::bigint, max(id)::bigint, "
							 "EXISTS (SELECT 1 FROM pg_index i "
							 "        JOIN pg_attribute a ON a.attrelid = i.indrelid "
							 "          AND a.attnum = i.indkey[0] "
							 "        WHERE i.indrelid = %s::regclass "
							 "          AND i.indisunique AND i.indisvalid "
							 "          AND i.indnatts = 1 AND i.indpred IS NULL "
							 "          AND i.indexprs IS NULL AND a.attname = 'id') "
							 "FROM %s",
							 quote_literal_cstr(r->table), r->table),
				 "count bigint, nonnull bigint, min bigint, max bigint, is_unique boolean");
	count = spi_int8(0, 1, NULL);
	nonnull = spi_int8(0, 2, NULL);
	minid = spi_int8(0, 3, NULL);
	maxid = spi_int8(0, 4, NULL);
	unique = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 5, &isnull));

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
	if (minid != 1 || maxid != count)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("the backup's event ids are not 1 to " INT64_FORMAT, count),
				 errdetail("Table %s in the backup database has " INT64_FORMAT " events with ids from " INT64_FORMAT " to " INT64_FORMAT ".",
						   r->table, count, minid, maxid),
				 errhint("Restore from a backup whose events are numbered 1 to N without gaps."),
				 errhidestmt(r->hide_stmt)));
	if (!unique)
	{
		/* no unique index on id: duplicates are possible, count them */
		remote_query(r, psprintf("SELECT count(DISTINCT id) FROM %s", r->table),
					 "n bigint");
		distinct = spi_int8(0, 1, NULL);
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
	indexes = drop_indexes(job);
	job->rows = copy_rows(job, 0, maxid, "restored");
	events_end_direct_insert(job->store.relid);
	INSTR_TIME_SET_CURRENT(t1);
	recreate_indexes(indexes);
	INSTR_TIME_SET_CURRENT(t2);

	/* post-conditions: the store holds exactly 1..N, as the backup */
	local_stats(job, 0, &lcount, &lmin, &lmax);
	if (job->rows != count || lcount != count || lmin != 1 || lmax != count)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("restored events do not match the backup"),
				 errdetail("Expected ids 1 to " INT64_FORMAT "; copied " INT64_FORMAT " rows, the store has " INT64_FORMAT " rows with ids from " INT64_FORMAT " to " INT64_FORMAT ".",
						   count, job->rows, lcount, lmin, lmax),
				 errhint("Nothing was restored."),
				 errhidestmt(r->hide_stmt)));
	/* spot check: the first and last rows hash the same on both sides */
	if (!ranges_equal(job, 1, Min(count, SPOT_CHECK_ROWS)) ||
		!ranges_equal(job, Max(1, count - SPOT_CHECK_ROWS + 1), count))
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

/* ------------------------------------------------------------------------
 * sync_events
 * ------------------------------------------------------------------------
 */

/* The only destination store of this database (an error unless exactly one). */
static Oid
only_destination_store(void)
{
	bool		isnull;
	char	   *sql = psprintf("SELECT relid::oid FROM %s.event_store "
							   "WHERE kind = 'destination'",
							   sm_extension_schema());

	spi_exec(sql, 0, NULL, SPI_OK_SELECT);
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
				rcount;
	List	   *indexes = NIL;

	if (!OidIsValid(job->store_relid))
		job->store_relid = only_destination_store();
	events_lookup_store(job->store_relid, false, &job->store);
	if (job->store.is_source)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("event store \"%s\" is not a destination store", job->store.qualified_name),
				 errdetail("A source store assigns its own ids; copies of another store's events go into a destination store."),
				 errhint("Create one with create_event_store('destination').")));
	events_lock_store(job->store.relid);

	/* the destination must itself be 1..M */
	local_stats(job, 0, &lcount, &lmin, &lmax);
	if (lcount != lmax || (lcount > 0 && lmin != 1))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("event store \"%s\" does not hold consecutive ids from 1",
						job->store.qualified_name),
				 errdetail("It has " INT64_FORMAT " rows with ids from " INT64_FORMAT " to " INT64_FORMAT ".",
						   lcount, lmin, lmax)));

	remote_connect(r);
	remote_setup(r);
	remote_query(r, psprintf("SELECT coalesce(max(id), 0)::bigint, count(*) FROM %s", r->table),
				 "max bigint, count bigint");
	rmax = spi_int8(0, 1, NULL);
	rcount = spi_int8(0, 2, NULL);
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
	if (lmax > 0)
	{
		int64		diff;

		if (job->verify_all)
			diff = first_difference(job, 1, lmax);
		else
		{
			diff = first_difference(job, Max(1, lmax - SPOT_CHECK_ROWS + 1), lmax);
			if (diff == 0)
				diff = first_difference(job, 1, Min(lmax, SPOT_CHECK_ROWS));
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
		if (lmax == 0)
			indexes = drop_indexes(job);
		job->rows = copy_rows(job, lmax, rmax, "copied");
		events_end_direct_insert(job->store.relid);
		recreate_indexes(indexes);
		local_stats(job, lmax, &c, &mn, &mx);
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
	local_stats(job, 0, &lcount, &lmin, &lmax);
	remote_connect(r);
	remote_setup(r);
	remote_query(r, psprintf("SELECT coalesce(max(id), 0)::bigint FROM %s", r->table),
				 "max bigint");
	job->local_max = lmax;
	job->remote_max = spi_int8(0, 1, NULL);
	job->first_difference = first_difference(job, 1, Max(lmax, job->remote_max));
	job->equal = (job->first_difference == 0);
	remote_exec(r, "COMMIT");
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

static void
run_job(Job *job, JobWork work)
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

static Oid
store_arg(FunctionCallInfo fcinfo, int argno)
{
	return PG_ARGISNULL(argno) ? InvalidOid : PG_GETARG_OID(argno);
}

static char *
table_arg(FunctionCallInfo fcinfo, int argno)
{
	char	   *name;

	if (PG_NARGS() <= argno || PG_ARGISNULL(argno))
		return pstrdup("events");
	name = text_arg(fcinfo, argno, "remote_table");
	(void) quote_remote_table(name);	/* report a bad name early */
	return name;
}

static Datum
two_int8_result(FunctionCallInfo fcinfo, int64 a, int64 b)
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
 * run_job, but argument errors raised before it too.
 */
typedef Datum (*EntryBody) (FunctionCallInfo fcinfo);

static Datum
call_hiding_statement(FunctionCallInfo fcinfo, EntryBody body, bool hide)
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
static bool
connection_arg_has_password(FunctionCallInfo fcinfo)
{
	return !PG_ARGISNULL(0) &&
		connection_has_password(text_to_cstring(PG_GETARG_TEXT_PP(0)));
}

/*
 * The job of a call whose arguments start (connection, store, remote_table):
 * connection is a libpq connection string or a foreign server name.
 */
static void
job_from_connection_args(FunctionCallInfo fcinfo, Job *job, RemoteRole role,
						 const char *argname)
{
	memset(job, 0, sizeof(*job));
	job->remote.role = role;
	remote_from_connection(&job->remote, text_arg(fcinfo, 0, argname));
	job->store_relid = store_arg(fcinfo, 1);
	job->remote.table_arg = table_arg(fcinfo, 2);
}

/*
 * restore_events(fromHost, fromDatabase, fromDatabaseUser,
 *				  fromDatabasePassword, store, fromPort, remote_table)
 *		The slate-compatible form.  The password is in the SQL text by
 *		design, so every message of this call hides the statement.
 */
static Datum restore_events_password(FunctionCallInfo fcinfo);

Datum
sm_restore_events_password(PG_FUNCTION_ARGS)
{
	return call_hiding_statement(fcinfo, restore_events_password, true);
}

static Datum
restore_events_password(FunctionCallInfo fcinfo)
{
	Job			job;
	StringInfoData conn;
	char	   *host,
			   *db,
			   *user,
			   *password;

	memset(&job, 0, sizeof(job));
	job.remote.role = REMOTE_BACKUP;
	job.remote.hide_stmt = true;
	/* scrub the password from argument errors too */
	password = PG_ARGISNULL(3) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(3));
	job.remote.password = password;
	host = text_arg(fcinfo, 0, "fromHost");
	db = text_arg(fcinfo, 1, "fromDatabase");
	user = text_arg(fcinfo, 2, "fromDatabaseUser");
	if (password == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("fromDatabasePassword must not be null"),
				 errhint("To connect without a password in the SQL text, call restore_events with a connection string or a foreign server name."),
				 errhidestmt(true)));
	job.store_relid = store_arg(fcinfo, 4);
	job.remote.table_arg = table_arg(fcinfo, 6);

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
	job.remote.connstr = conn.data;
	job.remote.describe = PG_ARGISNULL(5)
		? psprintf("host \"%s\", database \"%s\", user \"%s\"", host, db, user)
		: psprintf("host \"%s\", port %d, database \"%s\", user \"%s\"",
				   host, PG_GETARG_INT32(5), db, user);

	run_job(&job, restore_work);
	PG_RETURN_DATUM(two_int8_result(fcinfo, job.rows, job.max_id + 1));
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

	job_from_connection_args(fcinfo, &job, REMOTE_BACKUP, "connection");
	run_job(&job, restore_work);
	PG_RETURN_DATUM(two_int8_result(fcinfo, job.rows, job.max_id + 1));
}

Datum
sm_restore_events(PG_FUNCTION_ARGS)
{
	return call_hiding_statement(fcinfo, restore_events_connection,
								 connection_arg_has_password(fcinfo));
}

/*
 * sync_events(source, store, remote_table, verify_all)
 *		Copy the source's events above the destination's highest id.
 */
static Datum
sync_events(FunctionCallInfo fcinfo)
{
	Job			job;

	job_from_connection_args(fcinfo, &job, REMOTE_SOURCE, "source");
	job.verify_all = !PG_ARGISNULL(3) && PG_GETARG_BOOL(3);
	run_job(&job, sync_work);
	PG_RETURN_DATUM(two_int8_result(fcinfo, job.rows, job.max_id));
}

Datum
sm_sync_events(PG_FUNCTION_ARGS)
{
	return call_hiding_statement(fcinfo, sync_events,
								 connection_arg_has_password(fcinfo));
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

	job_from_connection_args(fcinfo, &job, REMOTE_OTHER, "other");
	run_job(&job, compare_work);

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
	return call_hiding_statement(fcinfo, compare_events,
								 connection_arg_has_password(fcinfo));
}
