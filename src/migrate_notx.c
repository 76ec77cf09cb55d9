/*-------------------------------------------------------------------------
 *
 * migrate_notx.c
 *	  Non-transactional migrations: the marker that makes one, the
 *	  statements it may hold, and what a failed attempt leaves behind.
 *
 * A migration whose first line is "-- schema_mgr:no-transaction" runs its
 * statement at top level, outside any transaction block, so that CREATE
 * INDEX CONCURRENTLY and its kin can run (migrate_notx_apply.c runs it,
 * migrate_worker.c is the process it runs in).  The marker is part of the
 * SQL, so the checksum, approvals and the "applied with different SQL"
 * check cover the mode.  Such a migration holds exactly one statement of
 * a short list, each of which can be retried after a failure halfway:
 *
 *	  CREATE INDEX CONCURRENTLY (with an index name), DROP INDEX
 *	  CONCURRENTLY IF EXISTS, REINDEX CONCURRENTLY of an index or a table, VACUUM and
 *	  ANALYZE.
 *
 * A failed or interrupted CREATE INDEX CONCURRENTLY leaves its index
 * behind, INVALID, and REINDEX CONCURRENTLY its "_ccnew" (or "_ccold")
 * index: migration_status shows the migration as 'pending (invalid
 * index)', and the next apply drops those indexes before it runs the
 * statement again (mig_notx_leftovers finds them, from the migration's own
 * statement).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/index.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_index.h"
#include "commands/defrem.h"
#include "utils/syscache.h"
#include "executor/spi.h"
#include "nodes/parsenodes.h"
#include "parser/parser.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/tuplestore.h"

#include "schema_mgr.h"
#include "migrate.h"

/* ----------------------------------------------------------------
 * The marker
 * ----------------------------------------------------------------
 */

/*
 * marker_state
 *		Whether text (after a UTF-8 byte order mark) starts with the marker
 *		line: the marker, then nothing but spaces, tabs or a carriage return
 *		up to the newline or the end.  When text is only the start of the SQL
 *		(truncated) and ends inside that line, the answer is MIG_MARK_UNKNOWN.
 */
MigMark
mig_marker_state(const char *text, bool truncated)
{
	const char *p = mig_skip_bom(text);
	size_t		len = strlen(MIG_NOTX_MARKER);

	if (strncmp(p, MIG_NOTX_MARKER, len) != 0)
		return (truncated && strlen(p) < len &&
				strncmp(p, MIG_NOTX_MARKER, strlen(p)) == 0) ?
			MIG_MARK_UNKNOWN : MIG_MARK_NO;
	for (p += len; *p == ' ' || *p == '\t' || *p == '\r'; p++)
		;
	if (*p == '\n')
		return MIG_MARK_YES;
	if (*p == '\0')
		return truncated ? MIG_MARK_UNKNOWN : MIG_MARK_YES;
	return MIG_MARK_NO;
}

bool
mig_no_transaction(const char *sql)
{
	return mig_marker_state(sql, false) == MIG_MARK_YES;
}

/*
 * A marker that is almost right (another case, blank lines or spaces
 * before it, no space after "--", text after it) would leave the migration
 * transactional without a word: refused when it is registered.
 */
static void
check_misspelled_marker(const char *component, int64 version, const char *sql)
{
	const char *p = mig_skip_bom(sql);
	const char *word = "schema_mgr:no-transaction";

	while (isspace((unsigned char) *p))
		p++;
	if (p[0] != '-' || p[1] != '-')
		return;
	for (p += 2; *p == ' ' || *p == '\t'; p++)
		;
	if (pg_strncasecmp(p, word, strlen(word)) != 0)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_SYNTAX_ERROR),
			 errmsg("malformed no-transaction marker in migration \"%s\" version " INT64_FORMAT,
					component, version),
			 errdetail("The first line of a non-transactional migration must be exactly \"%s\".",
					   MIG_NOTX_MARKER),
			 errhint("Write the marker on the first line as shown, or remove it to run the migration in a transaction.")));
}

/* ----------------------------------------------------------------
 * What a non-transactional migration may hold
 * ----------------------------------------------------------------
 */

/*
 * mig_check_notx_statements
 *		Check the statements of migration SQL: a misspelled marker is
 *		refused; a marked migration holds exactly one statement that
 *		mig_classify_statement() says a non-transactional migration may
 *		hold.  Returns whether the SQL is marked
 *		(the caller then skips the checks of ordinary migrations).
 */
bool
mig_check_notx_statements(const char *component, int64 version,
						  const char *sql, List *stmts)
{
	RawStmt    *rs;
	MigStatementClass c;

	if (!mig_no_transaction(sql))
	{
		check_misspelled_marker(component, version, sql);
		return false;
	}
	sql = mig_skip_bom(sql);
	if (list_length(stmts) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("non-transactional migration \"%s\" version " INT64_FORMAT " must hold exactly one statement",
						component, version),
				 stmts == NIL ?
				 errdetail("It holds none.") :
				 errdetail("Its statement 2 starts at line %d.",
						   mig_line_of(sql, lsecond_node(RawStmt, stmts)->stmt_location)),
				 errhint("Put each statement that must run outside a transaction into a migration of its own, and the others into ordinary migrations.")));
	rs = linitial_node(RawStmt, stmts);
	mig_classify_statement(rs->stmt, &c);
	if (!c.no_transaction)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("statement cannot be part of a non-transactional migration"),
				 errdetail("Line %d of migration \"%s\" version " INT64_FORMAT " is not CREATE INDEX CONCURRENTLY, DROP INDEX CONCURRENTLY, REINDEX CONCURRENTLY of an index or table, VACUUM or ANALYZE.",
						   mig_line_of(sql, rs->stmt_location), component, version),
				 errhint("Remove the \"%s\" line to run the migration in a transaction.",
						 MIG_NOTX_MARKER)));
	if (IsA(rs->stmt, DropStmt) && !((DropStmt *) rs->stmt)->missing_ok)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("DROP INDEX CONCURRENTLY in a migration must say IF EXISTS"),
				 errdetail("Line %d of migration \"%s\" version " INT64_FORMAT " drops an index without IF EXISTS; an attempt that ends after the drop and before the migration is recorded could not be retried.",
						   mig_line_of(sql, rs->stmt_location), component, version),
				 errhint("Write DROP INDEX CONCURRENTLY IF EXISTS name.")));
	if (IsA(rs->stmt, IndexStmt) && ((IndexStmt *) rs->stmt)->idxname == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("CREATE INDEX CONCURRENTLY in a migration must name its index"),
				 errdetail("Line %d of migration \"%s\" version " INT64_FORMAT " builds an index without a name; a failed build leaves an invalid index that the next attempt must find by name.",
						   mig_line_of(sql, rs->stmt_location), component, version),
				 errhint("Write CREATE INDEX CONCURRENTLY name ON ...")));
	return true;
}

/* ----------------------------------------------------------------
 * What a failed attempt leaves behind
 * ----------------------------------------------------------------
 */

static bool index_matches(IndexStmt *is, Oid relid, Oid indexid);

/*
 * cic_index
 *		The index a CREATE INDEX CONCURRENTLY statement builds, when it
 *		exists: its oid, with *valid set; else InvalidOid.  The table is
 *		looked up as the statement will look it up (the current
 *		search_path), and the index in the table's schema, where CREATE
 *		INDEX puts it; an index of that name on another table is not it.
 */
/*
 * relation_oid
 *		The relation rv names, or InvalidOid, looked up without a permission
 *		check: migration_status() is for anyone, and a schema the caller may
 *		not use must not make it fail (a name without a schema is looked up
 *		in the schemas of the search_path that the caller may use).
 */
static Oid
relation_oid(RangeVar *rv)
{
	Oid			nsp;

	if (rv->schemaname == NULL)
		return RelnameGetRelid(rv->relname);
	nsp = get_namespace_oid(rv->schemaname, true);
	return OidIsValid(nsp) ? get_relname_relid(rv->relname, nsp) : InvalidOid;
}

static Oid
cic_index(IndexStmt *is, bool *valid, bool *matches)
{
	Oid			relid = relation_oid(is->relation);
	Oid			indexid;

	*valid = false;
	*matches = false;
	if (!OidIsValid(relid))
		return InvalidOid;
	indexid = get_relname_relid(is->idxname, get_rel_namespace(relid));
	if (!OidIsValid(indexid) || get_rel_relkind(indexid) != RELKIND_INDEX ||
		IndexGetRelation(indexid, false) != relid)
		return InvalidOid;
	*valid = get_index_isvalid(indexid);
	*matches = *valid && index_matches(is, relid, indexid);
	return indexid;
}

/*
 * index_matches
 *		Whether the valid index indexid on relid is the one the statement
 *		builds, as far as the catalogs tell without evaluating it: the same
 *		access method, uniqueness and columns in the same order (an
 *		expression where the statement has one), the same INCLUDE columns,
 *		and a predicate when the statement has one.
 */
static bool
index_matches(IndexStmt *is, Oid relid, Oid indexid)
{
	HeapTuple	tup;
	Form_pg_index index;
	Oid			am;
	bool		result;
	int			i = 0;
	ListCell   *lc;

	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(indexid));
	if (!HeapTupleIsValid(tup))
		return false;
	am = ((Form_pg_class) GETSTRUCT(tup))->relam;
	ReleaseSysCache(tup);
	tup = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(indexid));
	if (!HeapTupleIsValid(tup))
		return false;
	index = (Form_pg_index) GETSTRUCT(tup);
	result = index->indisunique == is->unique &&
		index->indnkeyatts == list_length(is->indexParams) &&
		index->indnatts == list_length(is->indexParams) +
		list_length(is->indexIncludingParams) &&
		am == get_am_oid(is->accessMethod, true) &&
		heap_attisnull(tup, Anum_pg_index_indpred, NULL) ==
		(is->whereClause == NULL);
	if (result)
	{
		foreach(lc, list_concat_copy(is->indexParams, is->indexIncludingParams))
		{
			IndexElem  *elem = lfirst_node(IndexElem, lc);
			AttrNumber	attnum = elem->name ?
				get_attnum(relid, elem->name) : InvalidAttrNumber;

			if (index->indkey.values[i++] != attnum)
				result = false;
		}
	}
	ReleaseSysCache(tup);
	return result;
}

/*
 * reindex_leftover
 *		Whether name is what REINDEX CONCURRENTLY names the copy it builds
 *		("_ccnew") or the original it swaps out ("_ccold"), with a number
 *		when the name is taken, of the index named of (NULL: of any index).
 */
static bool
reindex_leftover(const char *name, const char *of)
{
	const char *p = name + strlen(name);
	size_t		base;

	while (p > name && isdigit((unsigned char) p[-1]))
		p--;
	if (p - name < 7 || (strncmp(p - 6, "_ccnew", 6) != 0 &&
						 strncmp(p - 6, "_ccold", 6) != 0))
		return false;
	if (of == NULL)
		return true;
	base = (p - 6) - name;

	/*
	 * The copy of index "of" is named of + "_ccnew" (a number appended when
	 * that is taken), "of" cut short when the name would pass NAMEDATALEN:
	 * the part before the suffix is "of", or its start when the name has
	 * the longest length a name can have.
	 */
	return base > 0 && strncmp(of, name, base) == 0 &&
		(of[base] == '\0' || strlen(name) == NAMEDATALEN - 1);
}

/*
 * mig_notx_leftovers
 *		What an earlier attempt of a non-transactional migration's statement
 *		left behind, to drop before it runs again: invalid indexes, by oid.
 *		CREATE INDEX CONCURRENTLY leaves its own index; REINDEX CONCURRENTLY
 *		leaves "_ccnew" and "_ccold" indexes on the table, of the index it
 *		rebuilds (or of any index of the table it rebuilds).  *built: whether
 *		the index of a CREATE INDEX CONCURRENTLY exists and is valid, and
 *		whether it is the one the statement builds (index_matches).  Nothing
 *		is locked: the statement that runs next must not wait for this
 *		transaction.
 */
List *
mig_notx_leftovers(MigCall *c, Node *stmt, MigBuilt *built)
{
	List	   *result = NIL;
	Oid			relid = InvalidOid;
	const char *of = NULL;
	Datum		values[1];
	uint64		i;
	MigStatementClass cls;

	*built = MIG_BUILT_NONE;
	if (IsA(stmt, IndexStmt) && ((IndexStmt *) stmt)->concurrent)
	{
		bool		valid;
		bool		matches;
		Oid			indexid = cic_index((IndexStmt *) stmt, &valid, &matches);

		if (OidIsValid(indexid) && !valid)
			result = list_make1_oid(indexid);
		if (OidIsValid(indexid) && valid)
			*built = matches ? MIG_BUILT_SAME : MIG_BUILT_OTHER;
		return result;
	}
	if (!IsA(stmt, ReindexStmt))
		return NIL;
	mig_classify_statement(stmt, &cls);
	if (!cls.no_transaction)
		return NIL;
	relid = relation_oid(((ReindexStmt *) stmt)->relation);
	if (OidIsValid(relid) && get_rel_relkind(relid) == RELKIND_INDEX)
	{
		of = get_rel_name(relid);
		relid = IndexGetRelation(relid, true);
	}
	if (!OidIsValid(relid))
		return NIL;

	mig_enter_internal(c);
	values[0] = ObjectIdGetDatum(relid);
	mig_run_plan(c, P_INVALID_INDEXES, values, NULL);
	for (i = 0; i < SPI_processed; i++)
	{
		char	   *name = mig_datum_text(SPI_tuptable->vals[i],
										  SPI_tuptable->tupdesc, 2);
		bool		isnull;

		if (reindex_leftover(name, of))
			result = lappend_oid(result,
								 DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
																SPI_tuptable->tupdesc,
																1, &isnull)));
	}
	SPI_freetuptable(SPI_tuptable);
	mig_leave_internal(c);
	return result;
}

/*
 * mig_notx_statement
 *		The one statement of a marked migration's SQL, for
 *		migration_status(), or NULL when it does not parse with the caller's
 *		settings (standard_conforming_strings): the error would quote SQL
 *		that the caller may not read.
 */
Node *
mig_notx_statement(const char *sql)
{
	List	   *stmts;
	ErrorData  *edata = mig_try_parse(mig_skip_bom(sql), &stmts);

	if (edata != NULL || list_length(stmts) != 1)
		return NULL;
	return linitial_node(RawStmt, stmts)->stmt;
}

/* ----------------------------------------------------------------
 * migration_status: what it says of pending non-transactional migrations
 * ----------------------------------------------------------------
 */
typedef struct NotxState
{
	char	   *component;
	int64		version;
	const char *status;
} NotxState;

/*
 * mig_notx_states
 *		The status of each pending non-transactional migration (of one
 *		component, or of all: component is the query parameter):
 *		'pending (no transaction)', or 'pending (invalid index)' when an
 *		earlier attempt left its index invalid.  Inside mig_enter_internal();
 *		the index is looked up outside it, with the caller's search_path
 *		and without permission checks (relation_oid).
 */
List *
mig_notx_states(MigCall *c, Datum component, char null)
{
	List	   *rows = NIL;
	List	   *sqls = NIL;
	ListCell   *lc;
	ListCell   *lc2;
	uint64		i;

	mig_run_plan(c, P_NOTX_CANDIDATES, &component, &null);
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		NotxState  *s = palloc(sizeof(NotxState));
		bool		isnull;
		char	   *sql = mig_datum_text(tup, desc, 3);

		if (!mig_no_transaction(sql))
			continue;
		s->component = mig_datum_text(tup, desc, 1);
		s->version = DatumGetInt64(SPI_getbinval(tup, desc, 2, &isnull));
		s->status = "pending (no transaction)";
		rows = lappend(rows, s);
		sqls = lappend(sqls, sql);
	}
	SPI_freetuptable(SPI_tuptable);

	mig_leave_internal(c);
	forboth(lc, rows, lc2, sqls)
	{
		NotxState  *s = (NotxState *) lfirst(lc);
		Node	   *stmt = mig_notx_statement((char *) lfirst(lc2));
		MigBuilt	built;

		if (stmt != NULL && mig_notx_leftovers(c, stmt, &built) != NIL)
			s->status = "pending (invalid index)";
	}
	mig_enter_internal(c);
	return rows;
}

/*
 * mig_put_status_rows
 *		mig_put_rows for migration_status: a pending row of a
 *		non-transactional migration gets the status mig_notx_states found.
 */
void
mig_put_status_rows(ReturnSetInfo *rsinfo, List *states)
{
	TupleDesc	desc = SPI_tuptable->tupdesc;
	Datum	   *row = palloc(sizeof(Datum) * desc->natts);
	bool	   *rownulls = palloc(sizeof(bool) * desc->natts);
	uint64		i;
	int			col;

	for (i = 0; i < SPI_processed; i++)
	{
		ListCell   *lc;

		for (col = 0; col < desc->natts; col++)
			row[col] = SPI_getbinval(SPI_tuptable->vals[i], desc, col + 1,
									 &rownulls[col]);
		foreach(lc, states)
		{
			NotxState  *s = (NotxState *) lfirst(lc);

			if (!rownulls[1] && !rownulls[3] &&
				s->version == DatumGetInt64(row[1]) &&
				strcmp(s->component, TextDatumGetCString(row[0])) == 0 &&
				strcmp(TextDatumGetCString(row[3]), "pending") == 0)
				row[3] = CStringGetTextDatum(s->status);
		}
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, row,
							 rownulls);
	}
}
