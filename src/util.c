/*-------------------------------------------------------------------------
 *
 * util.c
 *	  Helpers shared by more than one concern: where the extension lives,
 *	  a safe search_path for internal queries, running them through SPI,
 *	  catching an error in a subtransaction, refusing a transaction whose
 *	  snapshot would hide concurrent commits, schema_mgr's advisory lock
 *	  tags, how much of a user's text a message quotes, and an event's
 *	  JSON as jsonb.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/indexing.h"
#include "catalog/pg_type.h"
#include "catalog/pg_extension.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "mb/pg_wchar.h"
#include "utils/fmgroids.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

#include "schema_mgr.h"

/*
 * extension_row
 *		The schema and the owner of an extension, from its pg_extension row.
 *		Returns false when the extension is not installed in this database.
 *		(get_extension_schema() is not exported before PostgreSQL 16.)
 */
static bool
extension_row(const char *extname, Oid *nspoid, Oid *owner)
{
	Oid			extoid = get_extension_oid(extname, true);
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;

	*nspoid = InvalidOid;
	*owner = InvalidOid;
	if (!OidIsValid(extoid))
		return false;
	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_oid, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(extoid));
	scan = systable_beginscan(rel, ExtensionOidIndexId, true, NULL, 1, &key);
	tuple = systable_getnext(scan);
	if (HeapTupleIsValid(tuple))
	{
		*nspoid = ((Form_pg_extension) GETSTRUCT(tuple))->extnamespace;
		*owner = ((Form_pg_extension) GETSTRUCT(tuple))->extowner;
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return OidIsValid(*nspoid);
}

/*
 * sm_extension_schema_of
 *		Quoted name of the schema an extension (schema_mgr, dblink) is
 *		installed in, or NULL when it is not installed in this database.
 */
char *
sm_extension_schema_of(const char *extname)
{
	Oid			nspoid;
	Oid			owner;

	if (!extension_row(extname, &nspoid, &owner))
		return NULL;
	return pstrdup(quote_identifier(get_namespace_name(nspoid)));
}

/*
 * sm_extension_namespace
 *		The schema schema_mgr is installed in, InvalidOid when it is not (as
 *		while it is being dropped).  Needs no privilege on the schema.
 */
Oid
sm_extension_namespace(void)
{
	Oid			nspoid;
	Oid			owner;

	(void) extension_row("schema_mgr", &nspoid, &owner);
	return nspoid;
}

/*
 * sm_extension_schema
 *		Name of the schema schema_mgr is installed in, quoted for use in SQL.
 */
char *
sm_extension_schema(void)
{
	char	   *schema = sm_extension_schema_of("schema_mgr");

	if (schema == NULL)
		elog(ERROR, "could not find extension schema_mgr in pg_extension");
	return schema;
}

/*
 * sm_extension_owner
 *		The role that owns schema_mgr: internal bookkeeping queries run as
 *		this role, so the extension's tables need no grants.
 */
Oid
sm_extension_owner(void)
{
	Oid			nspoid;
	Oid			owner;

	if (!extension_row("schema_mgr", &nspoid, &owner))
		elog(ERROR, "could not find extension schema_mgr in pg_extension");
	return owner;
}

/*
 * sm_function_schema
 *		Quoted name of the schema of the function being called.  Cheaper than
 *		sm_extension_schema() and correct for every SQL-callable function of
 *		the extension, since they all live in the extension's schema.
 */
char *
sm_function_schema(FunctionCallInfo fcinfo)
{
	Oid			nspoid = get_func_namespace(fcinfo->flinfo->fn_oid);

	return pstrdup(quote_identifier(get_namespace_name(nspoid)));
}

/*
 * sm_push_search_path
 *		Run the following internal queries with search_path set to
 *		"pg_catalog, pg_temp", whatever the caller's setting is.  Returns the
 *		GUC nest level to hand to sm_pop_search_path().  On error the setting
 *		is undone by transaction or subtransaction abort.
 */
int
sm_push_search_path(void)
{
	int			nest_level = NewGUCNestLevel();

	(void) set_config_option("search_path", "pg_catalog, pg_temp",
							 PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	return nest_level;
}

void
sm_pop_search_path(int nest_level)
{
	AtEOXact_GUC(true, nest_level);
}

/*
 * sm_spi_exec
 *		Run an internal query with up to four text parameters through SPI
 *		(connected by the caller); errors out unless SPI answers expect.
 */
void
sm_spi_exec(const char *sql, int nargs, const char **args, int expect)
{
	Oid			types[4] = {0};
	Datum		values[4] = {0};
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

/*
 * sm_spi_int8
 *		int8 value of column col of row row of the last SPI result (0 when
 *		NULL, and *isnull set if isnull is given).
 */
int64
sm_spi_int8(uint64 row, int col, bool *isnull)
{
	bool		null;
	Datum		d;

	d = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col, &null);
	if (isnull)
		*isnull = null;
	return null ? 0 : DatumGetInt64(d);
}

/*
 * sm_spi_text
 *		Text value of column col of row row of the last SPI result, palloc'd
 *		in the current context, or NULL.
 */
char *
sm_spi_text(uint64 row, int col)
{
	return SPI_getvalue(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col);
}

/*
 * sm_try_subxact
 *		Run fn(arg) in a subtransaction, like a PL/pgSQL block with an
 *		EXCEPTION clause: returns NULL when fn returned and the
 *		subtransaction committed, or else a copy of the error (in the
 *		caller's memory context) after rolling the subtransaction back.
 */
ErrorData *
sm_try_subxact(void (*fn) (void *arg), void *arg)
{
	MemoryContext oldcontext = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	ErrorData  *volatile edata = NULL;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcontext);
	PG_TRY();
	{
		fn(arg);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcontext);
		CurrentResourceOwner = oldowner;
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(oldcontext);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcontext);
		CurrentResourceOwner = oldowner;
	}
	PG_END_TRY();
	return edata;
}

/*
 * sm_advisory_locktag
 *		Fill in the tag of a schema_mgr advisory lock: key1 shows in pg_locks
 *		as classid, key2 as objid, and objsubid is SM_LOCKTAG_FIELD4.
 *
 *		pg_advisory_lock() and friends only make tags whose last field is 1
 *		(one int8 key) or 2 (two int4 keys).  With 3, no SQL function can take
 *		a schema_mgr lock, so no role that merely may connect can hold one
 *		and stall appliers or writers.
 */
void
sm_advisory_locktag(LOCKTAG *tag, uint32 key1, uint32 key2)
{
	SET_LOCKTAG_ADVISORY(*tag, MyDatabaseId, key1, key2, SM_LOCKTAG_FIELD4);
}

/*
 * sm_advisory_lock_holder
 *		Who holds schema_mgr's advisory lock (key1, key2) in ExclusiveLock
 *		mode, for a message about a wait that timed out: its pid (0 when
 *		nobody does any more, or a prepared transaction does) and
 *		*appname, or, when prepared is not NULL, whether a prepared
 *		transaction holds it and its gid (found through the lock on its own
 *		xid, which it holds too).  The strings are allocated in the caller's
 *		memory context; the query runs with the current user's rights.
 */
int
sm_advisory_lock_holder(uint32 key1, uint32 key2, char **appname,
						bool *prepared, char **gid)
{
	MemoryContext cxt = CurrentMemoryContext;
	int			pid = 0;
	int			ret;

	*appname = NULL;
	if (prepared)
	{
		*prepared = false;
		*gid = NULL;
	}
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	ret = SPI_execute_with_args("SELECT l.pid, a.application_name, l.pid IS NULL, p.gid"
								" FROM pg_catalog.pg_locks l"
								" LEFT JOIN pg_catalog.pg_stat_activity a"
								" ON a.pid OPERATOR(pg_catalog.=) l.pid"
								" LEFT JOIN pg_catalog.pg_locks x"
								" ON l.pid IS NULL"
								" AND x.locktype OPERATOR(pg_catalog.=) 'transactionid'"
								" AND x.virtualtransaction OPERATOR(pg_catalog.=) l.virtualtransaction"
								" LEFT JOIN pg_catalog.pg_prepared_xacts p"
								" ON p.transaction OPERATOR(pg_catalog.=) x.transactionid"
								" WHERE l.locktype OPERATOR(pg_catalog.=) 'advisory' AND l.granted"
								" AND l.mode OPERATOR(pg_catalog.=) 'ExclusiveLock'"
								" AND l.database OPERATOR(pg_catalog.=) $1"
								" AND l.classid OPERATOR(pg_catalog.=) $2"
								" AND l.objid OPERATOR(pg_catalog.=) $3"
								" AND l.objsubid OPERATOR(pg_catalog.=) $4 LIMIT 1",
								4, (Oid[]) {OIDOID, OIDOID, OIDOID, INT2OID},
								(Datum[]) {ObjectIdGetDatum(MyDatabaseId),
										   ObjectIdGetDatum((Oid) key1),
										   ObjectIdGetDatum((Oid) key2),
										   Int16GetDatum(SM_LOCKTAG_FIELD4)},
								NULL, true, 1);
	if (ret == SPI_OK_SELECT && SPI_processed > 0)
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		Datum		d = SPI_getbinval(tup, desc, 1, &isnull);
		char	   *s;

		if (!isnull)
			pid = DatumGetInt32(d);
		if ((s = SPI_getvalue(tup, desc, 2)) != NULL)
			*appname = MemoryContextStrdup(cxt, s);
		if (prepared)
		{
			*prepared = DatumGetBool(SPI_getbinval(tup, desc, 3, &isnull));
			if ((s = SPI_getvalue(tup, desc, 4)) != NULL)
				*gid = MemoryContextStrdup(cxt, s);
		}
	}
	SPI_finish();
	return pid;
}

/*
 * sm_clip
 *		s, or its first maxbytes bytes (whole characters) followed by "...".
 *		Messages quote a user's text (a migration's SQL, an event) through
 *		this, at most SM_EXCERPT_BYTES of it, and say where the rest is.
 */
char *
sm_clip(const char *s, int maxbytes)
{
	int			len;

	if (s == NULL)
		return NULL;
	len = strlen(s);
	if (len <= maxbytes)
		return pstrdup(s);
	len = pg_mbcliplen(s, len, maxbytes);
	return psprintf("%.*s...", len, s);
}

/*
 * sm_require_read_committed
 *		Refuse to go on in a transaction whose snapshot would hide what
 *		concurrent sessions committed while this one waited for a lock
 *		(a component's lock, an event store's): what is read under the lock
 *		must be current.  what: "cannot <what> in ..."; subject: "<subject>
 *		must see ..."; verb: "<verb> in a READ COMMITTED transaction."
 */
void
sm_require_read_committed(const char *what, const char *subject,
						  const char *verb)
{
	if (IsolationUsesXactSnapshot())
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot %s in a REPEATABLE READ or SERIALIZABLE transaction",
						what),
				 errdetail("%s must see what concurrent sessions committed while it waited for the lock.",
						   subject),
				 errhint("%s in a READ COMMITTED transaction.", verb)));
}

/*
 * sm_null_argument
 *		The error for a null argument of the function fcinfo calls, named
 *		what in the message.
 */
void
sm_null_argument(FunctionCallInfo fcinfo, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
			 errmsg("%s must not be null", what),
			 errdetail("%s was called with a null %s.",
					   get_func_name(fcinfo->flinfo->fn_oid), what),
			 errhint("Pass a value instead of NULL.")));
}

/*
 * sm_jsonb_in
 *		The jsonb of JSON text str from a user (an event), into *result.
 *		When str is not valid JSON, returns false with PostgreSQL's SQLSTATE
 *		and, as detail, its message and detail cut to SM_EXCERPT_BYTES:
 *		PostgreSQL's detail quotes the bad token whole, a megabyte of it if
 *		that is what was sent.  The caller throws at once an error of its
 *		own with them, naming the event (see sm_jsonb_in_safe in compat.h).
 */
bool
sm_jsonb_in(char *str, Datum *result, SmInvalidJson *invalid)
{
	ErrorData  *error = sm_jsonb_in_safe(str, result);

	if (error == NULL)
		return true;
	invalid->sqlerrcode = error->sqlerrcode;
	invalid->detail = sm_clip(error->detail
							  ? psprintf("%s: %s", error->message, error->detail)
							  : error->message,
							  SM_EXCERPT_BYTES);
	return false;
}
