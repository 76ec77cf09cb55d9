/*-------------------------------------------------------------------------
 *
 * util.c
 *	  Helpers shared by more than one concern: where the extension lives,
 *	  a safe search_path for internal queries, and schema_mgr's advisory
 *	  lock tags.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/pg_extension.h"
#include "commands/extension.h"
#include "utils/fmgroids.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"

#include "schema_mgr.h"

/*
 * sm_extension_schema
 *		Name of the schema schema_mgr is installed in, quoted for use in SQL.
 */
char *
sm_extension_schema(void)
{
	Oid			extoid = get_extension_oid("schema_mgr", false);
	Oid			nspoid = InvalidOid;
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;

	/* get_extension_schema() is not exported before PostgreSQL 16 */
	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_oid, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(extoid));
	scan = systable_beginscan(rel, ExtensionOidIndexId, true, NULL, 1, &key);
	tuple = systable_getnext(scan);
	if (HeapTupleIsValid(tuple))
		nspoid = ((Form_pg_extension) GETSTRUCT(tuple))->extnamespace;
	systable_endscan(scan);
	table_close(rel, AccessShareLock);

	if (!OidIsValid(nspoid))
		elog(ERROR, "could not find the schema of extension schema_mgr");
	return pstrdup(quote_identifier(get_namespace_name(nspoid)));
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
 * sm_advisory_locktag
 *		Fill in the tag of a schema_mgr advisory lock.  Same layout as
 *		pg_advisory_xact_lock(int4, int4), so pg_locks shows key1 as classid
 *		and key2 as objid.
 */
void
sm_advisory_locktag(LOCKTAG *tag, uint32 key1, uint32 key2)
{
	SET_LOCKTAG_ADVISORY(*tag, MyDatabaseId, key1, key2, 2);
}

/* ------------------------------------------------------------------------
 * Generic helpers added for restore.c
 * ------------------------------------------------------------------------
 */

/*
 * sm_extension_schema_of
 *		Quoted name of the schema another extension (e.g. dblink) is
 *		installed in, or NULL when it is not installed in this database.
 */
char *
sm_extension_schema_of(const char *extname)
{
	Oid			extoid = get_extension_oid(extname, true);
	Oid			nspoid = InvalidOid;
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;

	if (!OidIsValid(extoid))
		return NULL;
	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_oid, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(extoid));
	scan = systable_beginscan(rel, ExtensionOidIndexId, true, NULL, 1, &key);
	tuple = systable_getnext(scan);
	if (HeapTupleIsValid(tuple))
		nspoid = ((Form_pg_extension) GETSTRUCT(tuple))->extnamespace;
	systable_endscan(scan);
	table_close(rel, AccessShareLock);

	if (!OidIsValid(nspoid))
		return NULL;
	return pstrdup(quote_identifier(get_namespace_name(nspoid)));
}
