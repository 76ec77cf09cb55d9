/*-------------------------------------------------------------------------
 *
 * migrate.c
 *	  Migrations and version tracking: register_migration,
 *	  apply_migrations, baseline, current_version and migration_status.
 *
 * Migrations live in the registry table "migration" (one row per component
 * and version); what was applied is recorded in "schema_version".  A
 * registry row is pending while its applied_checksum differs from its
 * checksum; only pending rows are in a partial index, so a no-op
 * apply_migrations() is one probe of an empty index.
 *
 * When something is pending, apply_migrations() takes one transaction-
 * scoped advisory lock per component with pending work (in name order, so
 * concurrent callers cannot deadlock, unless one already holds a component's
 * lock from an earlier call in its transaction), waiting at most
 * schema_mgr.lock_timeout (or lock_timeout, when shorter), then re-reads
 * the registry with a fresh snapshot and applies each migration in its own
 * subtransaction.  Migration SQL runs as the caller, with the caller's
 * search_path, statement by statement, so an error can say which statement
 * of which migration failed; SQL registered by a role that lacks the
 * caller's privileges is refused rather than run with them.  Bookkeeping
 * queries run as the extension's owner with a safe search_path, as a
 * security-restricted operation, so a role that may apply migrations
 * cannot rewrite the history by hand.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "commands/event_trigger.h"
#include "commands/extension.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "parser/parser.h"
#include "storage/lmgr.h"
#include "storage/proc.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "tcop/dest.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "schema_mgr.h"

PG_FUNCTION_INFO_V1(sm_register_migration);
PG_FUNCTION_INFO_V1(sm_apply_migrations);
PG_FUNCTION_INFO_V1(sm_baseline);
PG_FUNCTION_INFO_V1(sm_current_version);
PG_FUNCTION_INFO_V1(sm_migration_status);
PG_FUNCTION_INFO_V1(sm_guard_drop);

/* GUC: how long to wait for another session's lock on a component, in ms */
static int	sm_lock_timeout = 60000;

/* GUC: let DROP EXTENSION take a non-empty migration history with it */
static bool sm_allow_drop = false;

/*
 * Prepared plans, kept across calls.  The two "pending" probes order by the
 * partial index's columns so that the planner always reads the (small)
 * index instead of filtering the whole registry, even with stale
 * statistics.  %1$s is the quoted schema of the
 * extension; the plans are re-prepared when the extension moves to a
 * different schema (drop and re-create in the same session).
 */
typedef enum PlanId
{
	P_PENDING_ANY,
	P_PENDING_ONE,
	P_COMPONENT_EXISTS,
	P_PENDING_COMPONENTS,
	P_PENDING_ROWS,
	P_INSERT_HISTORY,
	P_MARK_APPLIED,
	P_REG_LOOKUP,
	P_REG_INSERT,
	P_REG_UPDATE,
	P_REG_DESCRIPTION,
	P_BASELINE_ROWS,
	P_CURRENT_VERSION,
	P_STATUS,
	P_LOCK_HOLDER,
	P_HISTORY_ROWS,
	NUM_PLANS
} PlanId;

typedef struct PlanDef
{
	const char *sql;
	int			nargs;
	Oid			argtypes[8];
} PlanDef;

static const PlanDef plan_defs[NUM_PLANS] = {
	[P_PENDING_ANY] = {
		"SELECT 1 FROM %1$s.migration "
		"WHERE applied_checksum IS DISTINCT FROM checksum "
		"AND version OPERATOR(pg_catalog.<=) $1 "
		"ORDER BY component, version LIMIT 1",
	1, {INT8OID}},
	[P_PENDING_ONE] = {
		"SELECT 1 FROM %1$s.migration "
		"WHERE applied_checksum IS DISTINCT FROM checksum "
		"AND component OPERATOR(pg_catalog.=) $1 "
		"AND version OPERATOR(pg_catalog.<=) $2 "
		"ORDER BY version LIMIT 1",
	2, {TEXTOID, INT8OID}},
	[P_COMPONENT_EXISTS] = {
		"SELECT 1 FROM %1$s.migration WHERE component OPERATOR(pg_catalog.=) $1 "
		"UNION ALL "
		"SELECT 1 FROM %1$s.schema_version WHERE component OPERATOR(pg_catalog.=) $1 "
		"LIMIT 1",
	1, {TEXTOID}},
	[P_PENDING_COMPONENTS] = {
		"SELECT DISTINCT component COLLATE \"C\" FROM %1$s.migration "
		"WHERE applied_checksum IS DISTINCT FROM checksum "
		"AND ($1 IS NULL OR component OPERATOR(pg_catalog.=) $1) "
		"AND version OPERATOR(pg_catalog.<=) $2 "
		"ORDER BY 1",
	2, {TEXTOID, INT8OID}},
	[P_PENDING_ROWS] = {
		"SELECT m.component, m.version, m.description, m.sql, m.checksum, "
		"       s.version IS NOT NULL, s.checksum, "
		"       (SELECT pg_catalog.max(h.version) FROM %1$s.schema_version h "
		"        WHERE h.component OPERATOR(pg_catalog.=) m.component), "
		"       m.registered_by::pg_catalog.text "
		"FROM %1$s.migration m "
		"LEFT JOIN %1$s.schema_version s "
		"  ON s.component OPERATOR(pg_catalog.=) m.component "
		" AND s.version OPERATOR(pg_catalog.=) m.version "
		"WHERE m.applied_checksum IS DISTINCT FROM m.checksum "
		"AND m.component OPERATOR(pg_catalog.=) ANY ($1) "
		"AND m.version OPERATOR(pg_catalog.<=) $2 "
		"ORDER BY m.component COLLATE \"C\", m.version",
	2, {TEXTARRAYOID, INT8OID}},
	[P_INSERT_HISTORY] = {
		"INSERT INTO %1$s.schema_version (component, version, description, "
		" applied_at, checksum, applied_by, execution_time, kind) "
		"VALUES ($1, $2, $3, $4, $5, $6::pg_catalog.name, $7, $8)",
	8, {TEXTOID, INT8OID, TEXTOID, TIMESTAMPTZOID, TEXTOID, TEXTOID,
		INTERVALOID, TEXTOID}},
	[P_MARK_APPLIED] = {
		"UPDATE %1$s.migration SET applied_checksum = $3 "
		"WHERE component OPERATOR(pg_catalog.=) $1 "
		"AND version OPERATOR(pg_catalog.=) $2",
	3, {TEXTOID, INT8OID, TEXTOID}},
	[P_REG_LOOKUP] = {
		"SELECT m.checksum, m.description, s.version IS NOT NULL, s.checksum, "
		"       (SELECT pg_catalog.max(b.version) FROM %1$s.schema_version b "
		"        WHERE b.component OPERATOR(pg_catalog.=) $1 "
		"        AND b.kind OPERATOR(pg_catalog.=) 'baseline') "
		"FROM (SELECT) AS dummy "
		"LEFT JOIN %1$s.migration m ON m.component OPERATOR(pg_catalog.=) $1 "
		"     AND m.version OPERATOR(pg_catalog.=) $2 "
		"LEFT JOIN %1$s.schema_version s ON s.component OPERATOR(pg_catalog.=) $1 "
		"     AND s.version OPERATOR(pg_catalog.=) $2",
	2, {TEXTOID, INT8OID}},
	[P_REG_INSERT] = {
		"INSERT INTO %1$s.migration (component, version, description, sql, "
		" registered_by, applied_checksum) "
		"VALUES ($1, $2, $3, $4, $5::pg_catalog.name, "
		" CASE WHEN $6 THEN %1$s.migration_checksum($4) END)",
	6, {TEXTOID, INT8OID, TEXTOID, TEXTOID, TEXTOID, BOOLOID}},
	[P_REG_UPDATE] = {
		"UPDATE %1$s.migration SET description = $3, sql = $4, "
		" registered_by = $5::pg_catalog.name, registered_at = pg_catalog.now(), "
		" applied_checksum = CASE WHEN $6 THEN %1$s.migration_checksum($4) END "
		"WHERE component OPERATOR(pg_catalog.=) $1 "
		"AND version OPERATOR(pg_catalog.=) $2",
	6, {TEXTOID, INT8OID, TEXTOID, TEXTOID, TEXTOID, BOOLOID}},
	[P_REG_DESCRIPTION] = {
		"UPDATE %1$s.migration SET description = $3 "
		"WHERE component OPERATOR(pg_catalog.=) $1 "
		"AND version OPERATOR(pg_catalog.=) $2",
	3, {TEXTOID, INT8OID, TEXTOID}},
	[P_BASELINE_ROWS] = {
		"SELECT version, description, checksum FROM %1$s.migration "
		"WHERE component OPERATOR(pg_catalog.=) $1 "
		"AND version OPERATOR(pg_catalog.<=) $2 ORDER BY version",
	2, {TEXTOID, INT8OID}},
	[P_CURRENT_VERSION] = {
		"SELECT pg_catalog.max(version) FROM %1$s.schema_version "
		"WHERE component OPERATOR(pg_catalog.=) $1",
	1, {TEXTOID}},
	[P_STATUS] = {
		"SELECT COALESCE(m.component, s.component), "
		"       COALESCE(m.version, s.version), "
		"       COALESCE(m.description, s.description), "
		"       CASE WHEN s.version IS NULL THEN "
		"              CASE WHEN m.version OPERATOR(pg_catalog.<) "
		"                   (SELECT pg_catalog.max(h.version) FROM %1$s.schema_version h "
		"                    WHERE h.component OPERATOR(pg_catalog.=) m.component) "
		"                   THEN 'out of order' ELSE 'pending' END "
		"            WHEN m.version IS NULL THEN "
		"              CASE WHEN s.kind OPERATOR(pg_catalog.=) 'baseline' "
		"                   THEN 'baselined' ELSE 'missing' END "
		"            WHEN s.checksum IS NOT NULL "
		"             AND s.checksum OPERATOR(pg_catalog.<>) m.checksum THEN 'changed' "
		"            WHEN s.kind OPERATOR(pg_catalog.=) 'baseline' THEN 'baselined' "
		"            ELSE 'applied' END, "
		"       COALESCE(s.checksum, m.checksum), s.applied_at, s.applied_by, "
		"       s.execution_time "
		"FROM %1$s.migration m "
		"FULL JOIN %1$s.schema_version s "
		"  ON s.component OPERATOR(pg_catalog.=) m.component "
		" AND s.version OPERATOR(pg_catalog.=) m.version "
		"WHERE $1 IS NULL OR COALESCE(m.component, s.component) OPERATOR(pg_catalog.=) $1 "
		"ORDER BY COALESCE(m.component, s.component) COLLATE \"C\", 2",
	1, {TEXTOID}},
	[P_LOCK_HOLDER] = {
		"SELECT l.pid, a.application_name "
		"FROM pg_catalog.pg_locks l "
		"LEFT JOIN pg_catalog.pg_stat_activity a ON a.pid OPERATOR(pg_catalog.=) l.pid "
		"WHERE l.locktype OPERATOR(pg_catalog.=) 'advisory' "
		"AND l.database OPERATOR(pg_catalog.=) $1 "
		"AND l.classid OPERATOR(pg_catalog.=) $2 "
		"AND l.objid OPERATOR(pg_catalog.=) $3 "
		"AND l.objsubid OPERATOR(pg_catalog.=) " CppAsString2(SM_LOCKTAG_FIELD4) " "
		"AND l.granted "
		"LIMIT 1",
	3, {OIDOID, OIDOID, OIDOID}},

	[P_HISTORY_ROWS] = {
		"SELECT pg_catalog.count(*) FROM %1$s.schema_version",
	0, {InvalidOid}},
};

static SPIPlanPtr plans[NUM_PLANS];
static char *plans_schema = NULL;

/*
 * State of one call: where the extension lives, who owns it, and what to
 * restore when internal work is done.
 */
typedef struct MigCall
{
	char	   *schema;			/* quoted schema of the extension */
	Oid			owner;			/* the extension's owner */
	char	   *caller;			/* current user at entry, for the history */
	Oid			caller_id;		/* ... and its oid */
	Oid			save_userid;
	int			save_sec_context;
	int			guc_level;
	bool		read_only;
} MigCall;

/* A pending migration, as read under the lock. */
typedef struct Pending
{
	char	   *component;
	int64		version;
	char	   *description;
	char	   *sql;
	char	   *checksum;
	bool		in_history;
	char	   *history_checksum;	/* NULL: none or a baseline marker */
	bool		has_max_applied;
	int64		max_applied;
	char	   *registered_by;	/* role that registered the SQL */
	bool		confined;		/* run it where SET ROLE is refused */
	int			stmt_no;		/* progress while running, for errors */
	int			stmt_line;
} Pending;

/* The migration whose SQL is running: a nested apply_migrations() is refused */
static Pending *running_migration = NULL;

/* For error context callbacks while parsing migration SQL. */
typedef struct ParseErrorArg
{
	const char *component;
	int64		version;
	const char *sql;
} ParseErrorArg;

static SPIPlanPtr get_plan(MigCall *c, PlanId id);
static int	run_plan(MigCall *c, PlanId id, Datum *values, const char *nulls);
static void call_init(MigCall *c, FunctionCallInfo fcinfo, bool read_only);
static void enter_internal(MigCall *c);
static void leave_internal(MigCall *c);
static char *arg_component(FunctionCallInfo fcinfo, int argno);
static int64 arg_version(FunctionCallInfo fcinfo, int argno, const char *what);
static bool component_exists(MigCall *c, const char *component);
static void lock_component(MigCall *c, const char *component);
static List *parse_migration_sql(const char *component, int64 version,
								 const char *sql);
static void check_statements(const char *component, int64 version,
							 const char *sql, List *stmts);
static int	line_of(const char *sql, int location);
static void check_registrant(MigCall *c, Pending *p);
static void run_migration(Pending *p);
static void record_applied(MigCall *c, Pending *p, TimestampTz start,
						   Interval *duration, const char *kind);
static void raise_migration_error(Pending *p, ErrorData *edata);
static Interval *duration_since(TimestampTz start);
static ErrorData *try_migration(MigCall *c, Pending *p, TimestampTz start,
								 Interval **duration);
static char *datum_text(HeapTuple tup, TupleDesc desc, int col);

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
							 &sm_allow_drop,
							 false,
							 PGC_USERSET, 0,
							 NULL, NULL, NULL);
}

/* ----------------------------------------------------------------
 * Internal queries
 * ----------------------------------------------------------------
 */
static SPIPlanPtr
get_plan(MigCall *c, PlanId id)
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
		const PlanDef *def = &plan_defs[id];
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

static int
run_plan(MigCall *c, PlanId id, Datum *values, const char *nulls)
{
	int			rc;

	rc = SPI_execute_plan(get_plan(c, id), values, nulls, c->read_only, 0);
	if (rc < 0)
		elog(ERROR, "internal query %d failed: %s", (int) id,
			 SPI_result_code_string(rc));
	return rc;
}

static void
call_init(MigCall *c, FunctionCallInfo fcinfo, bool read_only)
{
	c->schema = sm_function_schema(fcinfo);
	c->owner = sm_extension_owner();
	c->caller_id = GetUserId();
	c->caller = GetUserNameFromId(c->caller_id, false);
	c->read_only = read_only;
}

/*
 * Internal queries run as the extension's owner with a safe search_path,
 * as a security-restricted operation (like the queries of REFRESH
 * MATERIALIZED VIEW or autovacuum's ANALYZE): should anything reach code
 * the caller controls, it cannot change roles or leave session state
 * behind.  A transaction or subtransaction abort undoes all three.
 */
static void
enter_internal(MigCall *c)
{
	GetUserIdAndSecContext(&c->save_userid, &c->save_sec_context);
	SetUserIdAndSecContext(c->owner,
						   c->save_sec_context |
						   SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	c->guc_level = sm_push_search_path();
}

static void
leave_internal(MigCall *c)
{
	sm_pop_search_path(c->guc_level);
	SetUserIdAndSecContext(c->save_userid, c->save_sec_context);
}

static char *
datum_text(HeapTuple tup, TupleDesc desc, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

/* ----------------------------------------------------------------
 * Argument checks
 * ----------------------------------------------------------------
 */
static char *
arg_component(FunctionCallInfo fcinfo, int argno)
{
	char	   *component;
	const char *p;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("migration component must not be null")));
	component = text_to_cstring(PG_GETARG_TEXT_PP(argno));
	for (p = component; *p; p++)
		if (!isspace((unsigned char) *p))
			return component;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("migration component must not be empty"),
			 errdetail("A component names one migration chain, such as an application or an extension.")));
	return NULL;				/* keep compiler quiet */
}

static int64
arg_version(FunctionCallInfo fcinfo, int argno, const char *what)
{
	int64		version;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", what)));
	version = PG_GETARG_INT64(argno);
	if (version <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid %s: " INT64_FORMAT, what, version),
				 errdetail("Migration versions are positive integers.")));
	return version;
}

static bool
component_exists(MigCall *c, const char *component)
{
	Datum		values[1];

	values[0] = CStringGetTextDatum(component);
	run_plan(c, P_COMPONENT_EXISTS, values, NULL);
	return SPI_processed > 0;
}

static void
unknown_component(const char *component)
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
	(void) LockAcquire(w->tag, ExclusiveLock, false, false);
	AtEOXact_GUC(true, level);
}

/*
 * lock_component
 *		Take the component's transaction-scoped advisory lock, waiting at most
 *		schema_mgr.lock_timeout, or the session's lock_timeout when that is
 *		shorter (zero means no limit for either).  On timeout the error names
 *		the holder.
 */
static void
lock_component(MigCall *c, const char *component)
{
	LOCKTAG		tag;
	uint32		key2 = hash_bytes((const unsigned char *) component,
								  strlen(component));
	LockWait	wait;
	ErrorData  *edata;
	int			pid = 0;
	char	   *appname = NULL;
	Datum		values[3];
	int			timeout = sm_lock_timeout;
	const char *knob;

	sm_advisory_locktag(&tag, SM_LOCK_MIGRATIONS, key2);
	if (LockAcquire(&tag, ExclusiveLock, false, true) != LOCKACQUIRE_NOT_AVAIL)
		return;
	if (LockTimeout > 0 && (timeout <= 0 || LockTimeout < timeout))
		timeout = LockTimeout;
	if (timeout <= 0)
	{
		(void) LockAcquire(&tag, ExclusiveLock, false, false);
		return;
	}

	/*
	 * Wait with lock_timeout set to our timeout, in a subtransaction so that
	 * a timeout can be caught and reported better.  A lock acquired in the
	 * subtransaction passes to the parent when the subtransaction commits.
	 */
	wait.tag = &tag;
	wait.timeout = timeout;
	edata = sm_try_subxact(wait_for_lock, &wait);
	if (edata == NULL)
		return;
	if (edata->sqlerrcode != ERRCODE_LOCK_NOT_AVAILABLE)
		ReThrowError(edata);

	/* who holds it? */
	values[0] = ObjectIdGetDatum(MyDatabaseId);
	values[1] = ObjectIdGetDatum((Oid) SM_LOCK_MIGRATIONS);
	values[2] = ObjectIdGetDatum((Oid) key2);
	enter_internal(c);
	run_plan(c, P_LOCK_HOLDER, values, NULL);
	if (SPI_processed > 0)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0],
									  SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
			pid = DatumGetInt32(d);
		appname = datum_text(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	}
	leave_internal(c);

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

/* ----------------------------------------------------------------
 * Parsing and checking migration SQL
 * ----------------------------------------------------------------
 */

/* Show a syntax error's position inside the migration SQL. */
static void
parse_error_callback(void *arg)
{
	ParseErrorArg *a = (ParseErrorArg *) arg;
	int			pos = geterrposition();

	if (pos > 0)
	{
		errposition(0);
		internalerrposition(pos);
		internalerrquery(a->sql);
	}
	errcontext("migration \"%s\" version " INT64_FORMAT,
			   a->component, a->version);
}

/*
 * A UTF-8 byte order mark at the start is kept in the registry (and ignored
 * by the checksum) but is not SQL: parsing and running start after it.
 */
static const char *
skip_bom(const char *sql)
{
	if ((unsigned char) sql[0] == 0xEF && (unsigned char) sql[1] == 0xBB &&
		(unsigned char) sql[2] == 0xBF)
		return sql + 3;
	return sql;
}

static List *
parse_migration_sql(const char *component, int64 version, const char *sql)
{
	ErrorContextCallback errcb;
	ParseErrorArg arg;
	List	   *stmts;

	sql = skip_bom(sql);
	arg.component = component;
	arg.version = version;
	arg.sql = sql;
	errcb.callback = parse_error_callback;
	errcb.arg = &arg;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;
	stmts = raw_parser(sql, RAW_PARSE_DEFAULT);
	error_context_stack = errcb.previous;
	return stmts;
}

/*
 * skip_blank
 *		The first token at or after p, skipping whitespace and comments (a
 *		statement's location starts right after the previous semicolon).
 */
static const char *
skip_blank(const char *p)
{
	for (;;)
	{
		while (*p && isspace((unsigned char) *p))
			p++;
		if (p[0] == '-' && p[1] == '-')
		{
			while (*p && *p != '\n')
				p++;
		}
		else if (p[0] == '/' && p[1] == '*')
		{
			int			depth = 1;

			p += 2;
			while (*p && depth > 0)
			{
				if (p[0] == '/' && p[1] == '*')
					depth++, p++;
				else if (p[0] == '*' && p[1] == '/')
					depth--, p++;
				p++;
			}
		}
		else
			return p;
	}
}

/* 1-based line of a statement's first token */
static int
line_of(const char *sql, int location)
{
	const char *p = skip_blank(sql + location);
	const char *q;
	int			line = 1;

	for (q = sql; q < p; q++)
		if (*q == '\n')
			line++;
	return line;
}

/* for a statement that cannot run inside a transaction block */
#define OUTSIDE_TRANSACTION_HINT \
	"Migrations run inside a transaction. Run this statement separately, outside the migration chain."

/*
 * transaction_block_statement
 *		What to call a statement that cannot run inside a transaction block
 *		(or through SPI), or NULL when the statement is fine.
 */
static const char *
transaction_block_statement(Node *stmt, const char **hint)
{
	*hint = OUTSIDE_TRANSACTION_HINT;

	switch (nodeTag(stmt))
	{
		case T_IndexStmt:
			if (((IndexStmt *) stmt)->concurrent)
			{
				*hint = "Remove CONCURRENTLY to build the index inside the migration (it locks the table against writes while it builds), or create the index outside the migration chain.";
				return "CREATE INDEX CONCURRENTLY";
			}
			break;
		case T_DropStmt:
			if (((DropStmt *) stmt)->concurrent)
			{
				*hint = "Remove CONCURRENTLY to drop the index inside the migration, or drop it outside the migration chain.";
				return "DROP INDEX CONCURRENTLY";
			}
			break;
		case T_ReindexStmt:
			{
				ReindexStmt *r = (ReindexStmt *) stmt;
				ListCell   *lc;

				foreach(lc, r->params)
				{
					DefElem    *opt = (DefElem *) lfirst(lc);

					if (strcmp(opt->defname, "concurrently") == 0 &&
						defGetBoolean(opt))
					{
						*hint = "Remove CONCURRENTLY to reindex inside the migration, or reindex outside the migration chain.";
						return "REINDEX CONCURRENTLY";
					}
				}
				if (r->kind == REINDEX_OBJECT_SYSTEM ||
					r->kind == REINDEX_OBJECT_DATABASE)
					return "REINDEX SYSTEM or DATABASE";
			}
			break;
		case T_VacuumStmt:
			if (((VacuumStmt *) stmt)->is_vacuumcmd)
				return "VACUUM";
			break;
		case T_SmClusterStmt:
			if (((SmClusterStmt *) stmt)->relation == NULL)
				return "CLUSTER without a table name";
			break;
		case T_AlterTableStmt:
			{
				ListCell   *lc;

				foreach(lc, ((AlterTableStmt *) stmt)->cmds)
				{
					AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);

					if (cmd->subtype == AT_DetachPartition &&
						((PartitionCmd *) cmd->def)->concurrent)
					{
						*hint = "Remove CONCURRENTLY to detach the partition inside the migration, or detach it outside the migration chain.";
						return "DETACH PARTITION CONCURRENTLY";
					}
				}
			}
			break;
		case T_AlterDatabaseStmt:
			{
				ListCell   *lc;

				foreach(lc, ((AlterDatabaseStmt *) stmt)->options)
					if (strcmp(lfirst_node(DefElem, lc)->defname, "tablespace") == 0)
						return "ALTER DATABASE SET TABLESPACE";
			}
			break;
		case T_CreatedbStmt:
			return "CREATE DATABASE";
		case T_DropdbStmt:
			return "DROP DATABASE";
		case T_CreateTableSpaceStmt:
			return "CREATE TABLESPACE";
		case T_DropTableSpaceStmt:
			return "DROP TABLESPACE";
		case T_AlterSystemStmt:
			return "ALTER SYSTEM";
		case T_CreateSubscriptionStmt:
			return "CREATE SUBSCRIPTION";
		case T_DropSubscriptionStmt:
			return "DROP SUBSCRIPTION";
		case T_DiscardStmt:
			if (((DiscardStmt *) stmt)->target == DISCARD_ALL)
				return "DISCARD ALL";
			break;
		case T_TransactionStmt:
			*hint = "Each migration already runs in its own subtransaction; remove the transaction control statements.";
			return "transaction control statement";
		case T_CopyStmt:
			if (((CopyStmt *) stmt)->filename == NULL)
			{
				*hint = "Migrations cannot exchange data with the client. Use INSERT, or COPY from a file on the server.";
				return "COPY FROM STDIN or TO STDOUT";
			}
			break;
		default:
			break;
	}
	return NULL;
}

/*
 * check_statements
 *		Refuse migration SQL that is empty or contains a statement that cannot
 *		run inside a transaction block.
 */
static void
check_statements(const char *component, int64 version, const char *sql,
				 List *stmts)
{
	ListCell   *lc;
	int			n = 0;

	sql = skip_bom(sql);

	if (stmts == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("migration \"%s\" version " INT64_FORMAT " contains no SQL statement",
						component, version),
				 errdetail("The SQL is empty or contains only comments.")));

	foreach(lc, stmts)
	{
		RawStmt    *rs = lfirst_node(RawStmt, lc);
		const char *hint;
		const char *what;

		n++;
		what = transaction_block_statement(rs->stmt, &hint);
		if (what != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
					 errmsg("%s cannot run inside a migration", what),
					 errdetail("Statement %d (line %d) of migration \"%s\" version " INT64_FORMAT " cannot run inside a transaction block.",
							   n, line_of(sql, rs->stmt_location),
							   component, version),
					 errhint("%s", hint)));
	}
}

/* ----------------------------------------------------------------
 * register_migration(component text, version bigint, description text,
 *					  sql text) returns text
 *
 * Returns 'registered', 'unchanged', 'updated' (description only),
 * 'replaced' (pending migration with new SQL) or 'baselined' (registered
 * under a baseline, so marked as applied without running).
 * ----------------------------------------------------------------
 */
Datum
sm_register_migration(PG_FUNCTION_ARGS)
{
	char	   *component = arg_component(fcinfo, 0);
	int64		version = arg_version(fcinfo, 1, "migration version");
	char	   *description;
	char	   *sql;
	char	   *checksum;
	MigCall		c;
	Datum		values[6];
	char	   *reg_checksum = NULL;
	char	   *reg_description = NULL;
	bool		in_history = false;
	char	   *history_checksum = NULL;
	bool		has_baseline = false;
	int64		baseline_version = 0;
	bool		mark_applied;
	const char *result;

	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("migration description must not be null")));
	if (PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("migration SQL must not be null")));
	description = text_to_cstring(PG_GETARG_TEXT_PP(2));
	sql = text_to_cstring(PG_GETARG_TEXT_PP(3));

	/* syntax and statement checks, before anything is stored */
	check_statements(component, version, sql,
					 parse_migration_sql(component, version, sql));
	checksum = sm_sql_checksum(sql, strlen(sql));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	call_init(&c, fcinfo, false);

	/* serialise with appliers of the same component */
	lock_component(&c, component);

	enter_internal(&c);
	values[0] = CStringGetTextDatum(component);
	values[1] = Int64GetDatum(version);
	run_plan(&c, P_REG_LOOKUP, values, NULL);
	if (SPI_processed == 1)
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		Datum		d;

		reg_checksum = datum_text(tup, desc, 1);
		reg_description = datum_text(tup, desc, 2);
		in_history = DatumGetBool(SPI_getbinval(tup, desc, 3, &isnull));
		history_checksum = datum_text(tup, desc, 4);
		d = SPI_getbinval(tup, desc, 5, &isnull);
		has_baseline = !isnull;
		if (!isnull)
			baseline_version = DatumGetInt64(d);
	}

	if (in_history && history_checksum != NULL &&
		strcmp(history_checksum, checksum) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("migration \"%s\" version " INT64_FORMAT " has already been applied with different SQL",
						component, version),
				 errdetail("The applied SQL has checksum %s; the new SQL has checksum %s.",
						   history_checksum, checksum),
				 errhint("Never change an applied migration: register the change as a new migration with a higher version.")));

	/* covered by a baseline: mark as applied without running it */
	mark_applied = in_history;
	if (!in_history && has_baseline && version <= baseline_version)
	{
		Datum		hv[8];
		Interval   *zero = palloc0(sizeof(Interval));

		hv[0] = CStringGetTextDatum(component);
		hv[1] = Int64GetDatum(version);
		hv[2] = CStringGetTextDatum(description);
		hv[3] = TimestampTzGetDatum(GetCurrentTimestamp());
		hv[4] = CStringGetTextDatum(checksum);
		hv[5] = CStringGetTextDatum(c.caller);
		hv[6] = IntervalPGetDatum(zero);
		hv[7] = CStringGetTextDatum("baseline");
		run_plan(&c, P_INSERT_HISTORY, hv, NULL);
		mark_applied = true;
	}

	values[2] = CStringGetTextDatum(description);
	values[3] = CStringGetTextDatum(sql);
	values[4] = CStringGetTextDatum(c.caller);
	values[5] = BoolGetDatum(mark_applied);
	if (reg_checksum == NULL)
	{
		run_plan(&c, P_REG_INSERT, values, NULL);
		result = (mark_applied && history_checksum == NULL) ? "baselined" : "registered";
	}
	else if (strcmp(reg_checksum, checksum) != 0)
	{
		run_plan(&c, P_REG_UPDATE, values, NULL);
		result = "replaced";
	}
	else if (strcmp(reg_description, description) != 0)
	{
		run_plan(&c, P_REG_DESCRIPTION, values, NULL);
		result = "updated";
	}
	else
		result = "unchanged";
	leave_internal(&c);

	SPI_finish();
	PG_RETURN_TEXT_P(cstring_to_text(result));
}

/* ----------------------------------------------------------------
 * apply_migrations(component text, target_version bigint,
 *					allow_out_of_order boolean, dry_run boolean)
 * ----------------------------------------------------------------
 */

/*
 * check_registrant
 *		Refuse to run SQL registered by a role that does not have the
 *		privileges of the caller: a role allowed to register migrations must
 *		not get its SQL run with the rights of whoever applies them next (a
 *		superuser, typically).
 *
 *		SET ROLE and RESET ROLE reach every role the session user is a member
 *		of, so when the registrant lacks the session user's privileges (a
 *		superuser session that did SET ROLE to apply an application's
 *		migrations), the SQL runs "confined": in a local user id context,
 *		where changing role is refused.
 */
static void
check_registrant(MigCall *c, Pending *p)
{
	Oid			registrant = get_role_oid(p->registered_by, true);

	if (OidIsValid(registrant) && has_privs_of_role(registrant, c->caller_id))
	{
		p->confined = !has_privs_of_role(registrant, GetSessionUserId());
		return;
	}
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("migration \"%s\" version " INT64_FORMAT " was registered by role \"%s\", which does not have the privileges of role \"%s\"",
					p->component, p->version, p->registered_by, c->caller),
			 errdetail("Applying it would run SQL written by role \"%s\" with the privileges of role \"%s\".",
					   p->registered_by, c->caller),
			 errhint("Review its SQL, then apply it as role \"%s\" (SET ROLE).",
					 p->registered_by)));
}

/*
 * Run a migration's SQL statement by statement, as the caller.  Lines are
 * counted as the statements go by, so that a migration of many statements
 * (a data load) takes time linear in its length.
 */
static void
run_migration(Pending *p)
{
	List	   *stmts = parse_migration_sql(p->component, p->version, p->sql);
	const char *sql = skip_bom(p->sql);
	const char *counted = sql;
	int			line = 1;
	ListCell   *lc;
	SPIExecuteOptions options = {0};

	/*
	 * Rows a statement returns (a SELECT, INSERT ... RETURNING in a data
	 * migration) are thrown away as they come instead of being kept in an SPI
	 * tuple table, so memory does not grow with them.
	 */
	options.dest = None_Receiver;
	p->stmt_no = 0;
	foreach(lc, stmts)
	{
		RawStmt    *rs = lfirst_node(RawStmt, lc);
		const char *start = sql + rs->stmt_location;
		const char *first = skip_blank(start);
		int			len = rs->stmt_len > 0 ? rs->stmt_len : (int) strlen(start);
		char	   *text = pnstrdup(first, len - (first - start));
		int			rc;

		for (; counted < first; counted++)
			if (*counted == '\n')
				line++;
		p->stmt_no++;
		p->stmt_line = line;
		rc = SPI_execute_extended(text, &options);
		if (rc < 0)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("could not run statement: %s",
							SPI_result_code_string(rc))));
		pfree(text);
	}
}

static Interval *
duration_since(TimestampTz start)
{
	Interval   *iv = palloc0(sizeof(Interval));

	iv->time = GetCurrentTimestamp() - start;
	return iv;
}

static void
record_applied(MigCall *c, Pending *p, TimestampTz start, Interval *duration,
			   const char *kind)
{
	Datum		values[8];

	enter_internal(c);
	values[0] = CStringGetTextDatum(p->component);
	values[1] = Int64GetDatum(p->version);
	values[2] = CStringGetTextDatum(p->description);
	values[3] = TimestampTzGetDatum(start);
	values[4] = CStringGetTextDatum(p->checksum);
	values[5] = CStringGetTextDatum(c->caller);
	values[6] = IntervalPGetDatum(duration);
	values[7] = CStringGetTextDatum(kind);
	run_plan(c, P_INSERT_HISTORY, values, NULL);
	values[2] = values[4];
	run_plan(c, P_MARK_APPLIED, values, NULL);
	leave_internal(c);
}

/* Re-raise a migration's error with its SQLSTATE and where it happened. */
static void
raise_migration_error(Pending *p, ErrorData *edata)
{
	const char *hint = edata->hint;

	/* what to do about errors the checks up front cannot foresee */
	if (hint == NULL && edata->sqlerrcode == ERRCODE_ACTIVE_SQL_TRANSACTION)
		hint = _(OUTSIDE_TRANSACTION_HINT);
	else if (hint == NULL && p->confined &&
			 edata->sqlerrcode == ERRCODE_INSUFFICIENT_PRIVILEGE)
		hint = psprintf(_("Its SQL was registered by role \"%s\" and cannot use the privileges of the session's role \"%s\", not even through SET ROLE."),
						p->registered_by,
						GetUserNameFromId(GetSessionUserId(), false));

	ereport(ERROR,
			(errcode(edata->sqlerrcode),
			 errmsg("migration \"%s\" version " INT64_FORMAT " (\"%s\") failed: %s",
					p->component, p->version, p->description,
					edata->message),
			 edata->detail ? errdetail_internal("%s", edata->detail) : 0,
			 hint ? errhint("%s", hint) : 0,
			 edata->schema_name ? err_generic_string(PG_DIAG_SCHEMA_NAME, edata->schema_name) : 0,
			 edata->table_name ? err_generic_string(PG_DIAG_TABLE_NAME, edata->table_name) : 0,
			 edata->column_name ? err_generic_string(PG_DIAG_COLUMN_NAME, edata->column_name) : 0,
			 edata->constraint_name ? err_generic_string(PG_DIAG_CONSTRAINT_NAME, edata->constraint_name) : 0,
			 edata->internalquery ? internalerrquery(edata->internalquery) : 0,
			 edata->internalquery ? internalerrposition(edata->internalpos) : 0,
			 edata->context ? errcontext("%s", edata->context) : 0,
			 errcontext("statement %d at line %d of migration \"%s\" version " INT64_FORMAT,
						p->stmt_no, p->stmt_line, p->component, p->version)));
}

/*
 * try_migration
 *		Run one migration and record it, in a subtransaction.  Returns NULL
 *		on success (with *duration set), or the error, with the
 *		subtransaction rolled back.
 */
typedef struct MigrationRun
{
	MigCall    *c;
	Pending    *p;
	TimestampTz start;
	Interval   *duration;
} MigrationRun;

static void
run_and_record(void *arg)
{
	MigrationRun *r = (MigrationRun *) arg;
	Oid			save_userid;
	int			save_sec_context;

	/* the subtransaction's abort restores the context on error */
	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	if (r->p->confined)
		SetUserIdAndSecContext(save_userid,
							   save_sec_context | SECURITY_LOCAL_USERID_CHANGE);
	run_migration(r->p);
	SetUserIdAndSecContext(save_userid, save_sec_context);
	r->duration = duration_since(r->start);
	record_applied(r->c, r->p, r->start, r->duration, "run");
}

static ErrorData *
try_migration(MigCall *c, Pending *p, TimestampTz start, Interval **duration)
{
	MigrationRun r = {c, p, start, NULL};
	ErrorData  *edata;

	running_migration = p;
	edata = sm_try_subxact(run_and_record, &r);
	running_migration = NULL;
	if (edata == NULL)
		*duration = r.duration;
	return edata;
}

Datum
sm_apply_migrations(PG_FUNCTION_ARGS)
{
	char	   *component = NULL;
	int64		target = PG_INT64_MAX;
	bool		allow_out_of_order = !PG_ARGISNULL(2) && PG_GETARG_BOOL(2);
	bool		dry_run = !PG_ARGISNULL(3) && PG_GETARG_BOOL(3);
	ReturnSetInfo *rsinfo;
	MigCall		c;
	Datum		values[2];
	char		nulls[2] = {' ', ' '};
	List	   *components = NIL;
	List	   *pending = NIL;
	ListCell   *lc;
	MemoryContext oldcontext;
	ResourceOwner oldowner;
	int			n_done = 0;
	int			n_marked = 0;
	bool		dry_failed = false;
	int			i;

	if (running_migration != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot apply migrations from inside a migration"),
				 errdetail("Migration \"%s\" version " INT64_FORMAT " is running and would be applied again.",
						   running_migration->component,
						   running_migration->version),
				 errhint("Remove the call from the migration's SQL.")));
	if (!PG_ARGISNULL(0))
		component = arg_component(fcinfo, 0);
	if (!PG_ARGISNULL(1))
		target = arg_version(fcinfo, 1, "target version");

	InitMaterializedSRF(fcinfo, 0);
	rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	call_init(&c, fcinfo, false);

	/* the fast path: nothing pending, one probe of an empty index */
	enter_internal(&c);
	if (component != NULL)
	{
		values[0] = CStringGetTextDatum(component);
		values[1] = Int64GetDatum(target);
		run_plan(&c, P_PENDING_ONE, values, NULL);
	}
	else
	{
		values[0] = Int64GetDatum(target);
		run_plan(&c, P_PENDING_ANY, values, NULL);
	}
	if (SPI_processed == 0)
	{
		if (component != NULL && !component_exists(&c, component))
			unknown_component(component);
		leave_internal(&c);
		SPI_finish();
		if (component != NULL)
			ereport(NOTICE,
					(errmsg("no pending migrations for component \"%s\", nothing to apply",
							component)));
		else
			ereport(NOTICE,
					(errmsg("no pending migrations, nothing to apply")));
		return (Datum) 0;
	}

	/*
	 * Something is pending.  Applying needs to see what concurrent appliers
	 * committed while we waited for the lock, which a transaction snapshot
	 * would hide.
	 */
	if (IsolationUsesXactSnapshot())
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot apply migrations in a REPEATABLE READ or SERIALIZABLE transaction"),
				 errdetail("Applying must see what concurrent sessions applied while it waited for the lock."),
				 errhint("Apply migrations in a READ COMMITTED transaction.")));

	values[0] = component ? CStringGetTextDatum(component) : (Datum) 0;
	nulls[0] = component ? ' ' : 'n';
	values[1] = Int64GetDatum(target);
	run_plan(&c, P_PENDING_COMPONENTS, values, nulls);
	for (i = 0; i < (int) SPI_processed; i++)
		components = lappend(components,
							 datum_text(SPI_tuptable->vals[i],
										SPI_tuptable->tupdesc, 1));
	leave_internal(&c);

	/* lock in name order, so concurrent callers cannot deadlock */
	foreach(lc, components)
		lock_component(&c, (char *) lfirst(lc));

	/* re-read with a fresh snapshot, now that nobody else can apply */
	enter_internal(&c);
	{
		Datum	   *elems = palloc(sizeof(Datum) * list_length(components));

		i = 0;
		foreach(lc, components)
			elems[i++] = CStringGetTextDatum((char *) lfirst(lc));
		values[0] = PointerGetDatum(construct_array(elems, i, TEXTOID, -1,
													false, TYPALIGN_INT));
		nulls[0] = ' ';
	}
	run_plan(&c, P_PENDING_ROWS, values, nulls);
	for (i = 0; i < (int) SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		Pending    *p = palloc0(sizeof(Pending));
		bool		isnull;
		Datum		d;

		p->component = datum_text(tup, desc, 1);
		p->version = DatumGetInt64(SPI_getbinval(tup, desc, 2, &isnull));
		p->description = datum_text(tup, desc, 3);
		p->sql = datum_text(tup, desc, 4);
		p->checksum = datum_text(tup, desc, 5);
		p->in_history = DatumGetBool(SPI_getbinval(tup, desc, 6, &isnull));
		p->history_checksum = datum_text(tup, desc, 7);
		d = SPI_getbinval(tup, desc, 8, &isnull);
		p->has_max_applied = !isnull;
		if (!isnull)
			p->max_applied = DatumGetInt64(d);
		p->registered_by = datum_text(tup, desc, 9);
		pending = lappend(pending, p);
	}

	/*
	 * Check everything before running anything: changed since applied, out
	 * of order, statements that cannot run in a transaction block.
	 * Registry rows whose version is already in the history with the same
	 * checksum (or under a baseline marker) are only marked as applied.
	 */
	foreach(lc, pending)
	{
		Pending    *p = (Pending *) lfirst(lc);

		if (p->in_history)
		{
			if (p->history_checksum != NULL &&
				strcmp(p->history_checksum, p->checksum) != 0)
				ereport(ERROR,
						(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						 errmsg("migration \"%s\" version " INT64_FORMAT " has changed since it was applied",
								p->component, p->version),
						 errdetail("It was applied with checksum %s; the registered SQL now has checksum %s.",
								   p->history_checksum, p->checksum),
						 errhint("Restore the original SQL of this migration and register the change as a new migration with a higher version.")));
			continue;
		}
		if (p->has_max_applied && p->version < p->max_applied &&
			!allow_out_of_order)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("migration \"%s\" version " INT64_FORMAT " is older than the current version " INT64_FORMAT,
							p->component, p->version, p->max_applied),
					 errdetail("Applying it now would apply migrations out of order."),
					 errhint("Pass allow_out_of_order => true to apply it anyway, or register it again under a version above " INT64_FORMAT ".",
							 p->max_applied)));
		check_registrant(&c, p);
		check_statements(p->component, p->version, p->sql,
						 parse_migration_sql(p->component, p->version, p->sql));
	}
	leave_internal(&c);

	oldcontext = CurrentMemoryContext;
	oldowner = CurrentResourceOwner;

	/*
	 * A dry run does everything from here on, registry marks included,
	 * inside a subtransaction it rolls back.
	 */
	if (dry_run)
	{
		BeginInternalSubTransaction(NULL);
		MemoryContextSwitchTo(oldcontext);
	}

	enter_internal(&c);
	foreach(lc, pending)
	{
		Pending    *p = (Pending *) lfirst(lc);
		Datum		mv[3];

		if (!p->in_history)
			continue;
		n_marked++;
		mv[0] = CStringGetTextDatum(p->component);
		mv[1] = Int64GetDatum(p->version);
		mv[2] = CStringGetTextDatum(p->checksum);
		run_plan(&c, P_MARK_APPLIED, mv, NULL);
	}
	leave_internal(&c);

	foreach(lc, pending)
	{
		Pending    *p = (Pending *) lfirst(lc);
		TimestampTz start;
		Interval   *duration = NULL;
		ErrorData  *edata = NULL;
		Datum		row[7];
		bool		rownulls[7] = {false, false, false, false, false, false, true};

		if (p->in_history)
			continue;

		row[0] = CStringGetTextDatum(p->component);
		row[1] = Int64GetDatum(p->version);
		row[2] = CStringGetTextDatum(p->description);
		row[4] = CStringGetTextDatum(p->checksum);

		/*
		 * After a dry run's first failure, report the rest without running
		 * them: a real run stops there and rolls everything back.
		 */
		if (dry_failed)
		{
			rownulls[3] = true;
			row[5] = CStringGetTextDatum("not run");
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, row,
								 rownulls);
			continue;
		}

		start = GetCurrentTimestamp();
		edata = try_migration(&c, p, start, &duration);

		/* a cancel or timeout ends a dry run too: it is no outcome */
		if (edata != NULL &&
			(!dry_run || edata->sqlerrcode == ERRCODE_QUERY_CANCELED))
			raise_migration_error(p, edata);

		row[3] = IntervalPGetDatum(duration ? duration : duration_since(start));
		if (edata == NULL)
			row[5] = CStringGetTextDatum(dry_run ? "would apply" : "applied");
		else
		{
			row[5] = CStringGetTextDatum("would fail");
			row[6] = CStringGetTextDatum(psprintf("statement %d at line %d: %s",
												  p->stmt_no, p->stmt_line,
												  edata->message));
			rownulls[6] = false;
			dry_failed = true;
		}
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, row, rownulls);
		n_done++;
	}

	if (dry_run)
	{
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcontext);
		CurrentResourceOwner = oldowner;
	}

	SPI_finish();

	if (n_done == 0 && n_marked > 0)
		ereport(NOTICE,
				(errmsg("no pending migrations, nothing to apply"),
				 dry_run ?
				 errdetail_plural("%d registered migration is already in the history and would only be marked as applied.",
								  "%d registered migrations are already in the history and would only be marked as applied.",
								  n_marked, n_marked) :
				 errdetail_plural("%d registered migration was already in the history and was only marked as applied.",
								  "%d registered migrations were already in the history and were only marked as applied.",
								  n_marked, n_marked)));
	else if (n_done == 0)
		ereport(NOTICE,
				(errmsg("no pending migrations, nothing to apply"),
				 errdetail("Another session applied them while this one waited.")));
	else if (dry_run)
		ereport(NOTICE,
				(errmsg("dry run: everything was rolled back")));
	return (Datum) 0;
}

/* ----------------------------------------------------------------
 * baseline(component text, version bigint)
 *		returns table (version bigint, description text)
 *
 * Adopt a schema created by other means: mark every registered migration
 * of the component up to version as applied without running it, and
 * record version itself as the baseline even when it is not registered
 * (migrations registered later at or below it are marked as baselined when
 * they are registered).  Only for a component with no history yet.
 * ----------------------------------------------------------------
 */
Datum
sm_baseline(PG_FUNCTION_ARGS)
{
	char	   *component = arg_component(fcinfo, 0);
	int64		version = arg_version(fcinfo, 1, "baseline version");
	ReturnSetInfo *rsinfo;
	MigCall		c;
	Datum		values[8];
	bool		isnull;
	bool		found = false;
	int			i;
	List	   *rows = NIL;
	ListCell   *lc;
	Interval   *zero = palloc0(sizeof(Interval));
	TimestampTz now = GetCurrentTimestamp();

	InitMaterializedSRF(fcinfo, 0);
	rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* as for applying: the check below must see concurrent commits */
	if (IsolationUsesXactSnapshot())
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot baseline a migration component in a REPEATABLE READ or SERIALIZABLE transaction"),
				 errdetail("A baseline must see what concurrent sessions applied while it waited for the lock."),
				 errhint("Baseline in a READ COMMITTED transaction.")));

	call_init(&c, fcinfo, false);
	lock_component(&c, component);

	enter_internal(&c);
	values[0] = CStringGetTextDatum(component);
	run_plan(&c, P_CURRENT_VERSION, values, NULL);
	(void) SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1,
						 &isnull);
	if (!isnull)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("migration component \"%s\" already has applied migrations",
						component),
				 errdetail("A baseline adopts a schema that was created without schema_mgr."),
				 errhint("Apply its pending migrations instead.")));

	values[1] = Int64GetDatum(version);
	run_plan(&c, P_BASELINE_ROWS, values, NULL);
	for (i = 0; i < (int) SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		Pending    *p = palloc0(sizeof(Pending));

		p->component = component;
		p->version = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
		p->description = datum_text(tup, desc, 2);
		p->checksum = datum_text(tup, desc, 3);
		rows = lappend(rows, p);
	}
	leave_internal(&c);

	foreach(lc, rows)
	{
		Pending    *p = (Pending *) lfirst(lc);
		Datum		v[2];
		bool		n[2] = {false, false};

		record_applied(&c, p, now, zero, "baseline");
		v[0] = Int64GetDatum(p->version);
		v[1] = CStringGetTextDatum(p->description);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, v, n);
		if (p->version == version)
			found = true;
	}
	if (!found)
	{
		Datum		v[2];
		bool		n[2] = {false, false};

		enter_internal(&c);
		values[0] = CStringGetTextDatum(component);
		values[1] = Int64GetDatum(version);
		values[2] = CStringGetTextDatum("<< baseline >>");
		values[3] = TimestampTzGetDatum(now);
		values[5] = CStringGetTextDatum(c.caller);
		values[6] = IntervalPGetDatum(zero);
		values[7] = CStringGetTextDatum("baseline");
		run_plan(&c, P_INSERT_HISTORY, values, "    n   ");
		leave_internal(&c);
		v[0] = Int64GetDatum(version);
		v[1] = values[2];
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, v, n);
	}

	SPI_finish();
	return (Datum) 0;
}

/* ----------------------------------------------------------------
 * current_version(component text) returns bigint
 *
 * NULL when nothing of the component is applied, whether or not it has
 * registered migrations: an application can ask before registering.
 * ----------------------------------------------------------------
 */
Datum
sm_current_version(PG_FUNCTION_ARGS)
{
	char	   *component = arg_component(fcinfo, 0);
	MigCall		c;
	Datum		values[1];
	Datum		d;
	bool		isnull;
	int64		result = 0;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	call_init(&c, fcinfo, true);
	enter_internal(&c);
	values[0] = CStringGetTextDatum(component);
	run_plan(&c, P_CURRENT_VERSION, values, NULL);
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1,
					  &isnull);
	if (!isnull)
		result = DatumGetInt64(d);
	leave_internal(&c);
	SPI_finish();

	if (isnull)
		PG_RETURN_NULL();
	PG_RETURN_INT64(result);
}

/* ----------------------------------------------------------------
 * migration_status(component text) returns table
 * ----------------------------------------------------------------
 */
Datum
sm_migration_status(PG_FUNCTION_ARGS)
{
	char	   *component = NULL;
	ReturnSetInfo *rsinfo;
	MigCall		c;
	Datum		values[1];
	char		nulls[1] = {' '};
	uint64		i;

	if (!PG_ARGISNULL(0))
		component = arg_component(fcinfo, 0);

	InitMaterializedSRF(fcinfo, 0);
	rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	call_init(&c, fcinfo, true);
	enter_internal(&c);
	if (component != NULL && !component_exists(&c, component))
		unknown_component(component);
	values[0] = component ? CStringGetTextDatum(component) : (Datum) 0;
	nulls[0] = component ? ' ' : 'n';
	run_plan(&c, P_STATUS, values, nulls);
	for (i = 0; i < SPI_processed; i++)
	{
		Datum		row[8];
		bool		rownulls[8];
		int			col;

		for (col = 0; col < 8; col++)
			row[col] = SPI_getbinval(SPI_tuptable->vals[i],
									 SPI_tuptable->tupdesc, col + 1,
									 &rownulls[col]);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, row, rownulls);
	}
	leave_internal(&c);
	SPI_finish();
	return (Datum) 0;
}

/* ----------------------------------------------------------------
 * guard_drop() returns event_trigger
 *
 * On ddl_command_start of DROP EXTENSION, DROP SCHEMA and DROP OWNED:
 * refuse to drop schema_mgr (directly, with its schema, or with everything
 * its owner owns) while the migration history has rows, unless
 * schema_mgr.allow_drop is on.  The history is user data:
 * losing it makes every migration pending again.
 * ----------------------------------------------------------------
 */
Datum
sm_guard_drop(PG_FUNCTION_ARGS)
{
	EventTriggerData *trigdata;
	Node	   *parsetree;
	ListCell   *lc;
	bool		hit = false;
	MigCall		c;
	int64		rows;
	bool		isnull;

	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		elog(ERROR, "not fired by event trigger manager");
	trigdata = (EventTriggerData *) fcinfo->context;
	parsetree = trigdata->parsetree;
	if (sm_allow_drop ||
		!OidIsValid(get_extension_oid("schema_mgr", true)))
		PG_RETURN_VOID();

	c.schema = sm_function_schema(fcinfo);
	c.owner = sm_extension_owner();
	if (IsA(parsetree, DropStmt))
	{
		DropStmt   *stmt = (DropStmt *) parsetree;

		if (stmt->removeType != OBJECT_EXTENSION &&
			stmt->removeType != OBJECT_SCHEMA)
			PG_RETURN_VOID();
		foreach(lc, stmt->objects)
		{
			Node	   *obj = (Node *) lfirst(lc);

			if (!IsA(obj, String))
				continue;
			if (stmt->removeType == OBJECT_EXTENSION
				? strcmp(strVal(obj), "schema_mgr") == 0
				: strcmp(quote_identifier(strVal(obj)), c.schema) == 0)
				hit = true;
		}
	}
	else if (IsA(parsetree, DropOwnedStmt))
	{
		/* DROP OWNED BY the extension's owner drops the extension too */
		foreach(lc, ((DropOwnedStmt *) parsetree)->roles)
			if (get_rolespec_oid(lfirst_node(RoleSpec, lc), true) == c.owner)
				hit = true;
	}
	if (!hit)
		PG_RETURN_VOID();

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	c.caller = NULL;
	c.read_only = true;
	enter_internal(&c);
	run_plan(&c, P_HISTORY_ROWS, NULL, NULL);
	rows = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
									   SPI_tuptable->tupdesc, 1, &isnull));
	leave_internal(&c);
	SPI_finish();

	if (rows > 0)
		ereport(ERROR,
				(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
				 errmsg_plural("cannot drop extension schema_mgr while its migration history has " INT64_FORMAT " row",
							   "cannot drop extension schema_mgr while its migration history has " INT64_FORMAT " rows",
							   rows, rows),
				 errdetail("Dropping the extension would drop schema_version and the migration registry with it."),
				 errhint("Keep a copy first (pg_dump keeps both tables), then SET schema_mgr.allow_drop = on and drop again.")));
	PG_RETURN_VOID();
}
