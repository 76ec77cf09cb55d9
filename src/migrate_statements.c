/*-------------------------------------------------------------------------
 *
 * migrate_statements.c
 *	  Parsing and checking migration SQL: syntax errors shown at their place
 *	  in the migration, statements that cannot run inside a transaction
 *	  block refused with a hint, and the lines statements start on.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/defrem.h"
#include "nodes/parsenodes.h"
#include "mb/pg_wchar.h"
#include "parser/parser.h"

#include "schema_mgr.h"
#include "migrate.h"


/* ----------------------------------------------------------------
 * Parsing and checking migration SQL
 * ----------------------------------------------------------------
 */

/*
 * A UTF-8 byte order mark at the start is kept in the registry (and ignored
 * by the checksum) but is not SQL: parsing and running start after it.
 */
const char *
mig_skip_bom(const char *sql)
{
	if ((unsigned char) sql[0] == 0xEF && (unsigned char) sql[1] == 0xBB &&
		(unsigned char) sql[2] == 0xBF)
		return sql + 3;
	return sql;
}

/*
 * Parse sql into *stmts; returns NULL, or the error (with *stmts NIL).
 */
ErrorData *
mig_try_parse(const char *sql, List **stmts)
{
	MemoryContext oldcontext = CurrentMemoryContext;
	ErrorData  *volatile edata = NULL;
	List	   *volatile result = NIL;

	PG_TRY();
	{
		result = raw_parser(sql, RAW_PARSE_DEFAULT);
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(oldcontext);
		edata = CopyErrorData();
		FlushErrorState();
	}
	PG_END_TRY();
	*stmts = result;
	return edata;
}

/*
 * A syntax error at a psql meta-command, a psql variable or the data of a
 * COPY ... FROM stdin (migration files are often psql scripts or pg_dump
 * output) gets an error of its own; p points at the error in sql.
 */
static void
psql_input_error(const char *subject, const char *sql, const char *p,
				 int line)
{
	const char *line_start = p;
	List	   *before;

	if (*p == '\\')
	{
		int			len = 1;

		while (isalpha((unsigned char) p[len]) && len < 20)
			len++;
		ereport(ERROR,
				(errcode(ERRCODE_SYNTAX_ERROR),
				 errmsg("psql meta-command \"%.*s\" cannot be part of a migration",
						len, p),
				 errdetail("Line %d of %s is psql input; the server runs migrations as SQL.",
						   line, subject),
				 (len == 9 && strncmp(p, "\\restrict", 9) == 0) ||
				 (len == 11 && strncmp(p, "\\unrestrict", 11) == 0) ?
				 errhint("pg_dump 15.14 and later write \\restrict and \\unrestrict lines into plain-text dumps; remove them from the migration.") :
				 errhint("Remove psql meta-commands from the migration.")));
	}
	if (*p == ':' && (isalpha((unsigned char) p[1]) || p[1] == '_' ||
					  p[1] == '\'' || p[1] == '"' || p[1] == '{'))
		ereport(ERROR,
				(errcode(ERRCODE_SYNTAX_ERROR),
				 errmsg("psql variable cannot be part of a migration"),
				 errdetail("Line %d of %s refers to a psql variable, which only psql substitutes.",
						   line, subject),
				 errhint("Write the value into the migration.")));

	/* data after a COPY ... FROM stdin that ends the lines before */
	while (line_start > sql && line_start[-1] != '\n')
		line_start--;
	(void) mig_try_parse(pnstrdup(sql, line_start - sql), &before);
	if (before != NIL)
	{
		RawStmt    *last = llast_node(RawStmt, before);

		if (IsA(last->stmt, CopyStmt) &&
			((CopyStmt *) last->stmt)->is_from &&
			((CopyStmt *) last->stmt)->filename == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("COPY data cannot be part of a migration"),
					 errdetail("Line %d of %s is data for the COPY FROM stdin at line %d, which only psql sends.",
							   line, subject,
							   mig_line_of(sql, last->stmt_location)),
					 errhint("Load the data with INSERT statements, or with COPY from a file on the server.")));
	}
}

List *
mig_parse_sql(const char *component, int64 version, const char *sql,
			  bool show_sql)
{
	return mig_parse_sql_of(mig_subject(MIG_RUN_APPLY, component, version,
										NULL),
							sql, show_sql);
}

/*
 * mig_parse_sql_of
 *		Parse the SQL of subject (see mig_subject): a syntax error is
 *		reported at its line of that SQL.
 */
List *
mig_parse_sql_of(const char *subject, const char *sql, bool show_sql)
{
	List	   *stmts;
	ErrorData  *edata;
	char	   *excerpt = NULL;
	int			pos = 0;
	int			line = 0;
	char	   *where;

	/* a syntax error is re-raised at once, so no subtransaction is needed */
	sql = mig_skip_bom(sql);
	edata = mig_try_parse(sql, &stmts);
	if (edata == NULL)
		return stmts;

	if (edata->cursorpos > 0)
	{
		const char *p = sql;
		int			i;

		excerpt = mig_excerpt(sql, edata->cursorpos, &pos, &line);
		for (i = 1; i < edata->cursorpos && *p; i++)
			p += pg_mblen(p);
		if (edata->sqlerrcode == ERRCODE_SYNTAX_ERROR)
			psql_input_error(subject, sql, p, line);
	}
	if (line > 0)
		where = psprintf(_("line %d of %s"), line, subject);
	else
		where = pstrdup(subject);
	ereport(ERROR,
			(errcode(edata->sqlerrcode),
			 errmsg_internal("%s", sm_clip(edata->message, MIG_MESSAGE_BYTES)),
			 edata->detail ? errdetail_internal("%s", sm_clip(edata->detail, MIG_MESSAGE_BYTES)) : 0,
			 edata->hint ? errhint("%s", edata->hint) : 0,
			 excerpt && show_sql ? internalerrquery(excerpt) : 0,
			 excerpt && show_sql ? internalerrposition(pos) : 0,
			 errcontext("%s", where)));
	return NIL;					/* keep compiler quiet */
}

/*
 * mig_skip_blank
 *		The first token at or after p, skipping whitespace and comments (a
 *		statement's location starts right after the previous semicolon).
 */
const char *
mig_skip_blank(const char *p)
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
int
mig_line_of(const char *sql, int location)
{
	const char *p = mig_skip_blank(sql + location);
	const char *q;
	int			line = 1;

	for (q = sql; q < p; q++)
		if (*q == '\n')
			line++;
	return line;
}

/* whether a REINDEX statement has the CONCURRENTLY option */
bool
mig_reindex_concurrently(ReindexStmt *r)
{
	ListCell   *lc;

	foreach(lc, r->params)
	{
		DefElem    *opt = (DefElem *) lfirst(lc);

		if (strcmp(opt->defname, "concurrently") == 0 && defGetBoolean(opt))
			return true;
	}
	return false;
}

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
				*hint = "Put it in a migration of its own whose first line is \"" MIG_NOTX_MARKER "\", or remove CONCURRENTLY to build the index inside the migration (it locks the table against writes while it builds).";
				return "CREATE INDEX CONCURRENTLY";
			}
			break;
		case T_DropStmt:
			if (((DropStmt *) stmt)->concurrent)
			{
				*hint = "Put it in a migration of its own whose first line is \"" MIG_NOTX_MARKER "\", or remove CONCURRENTLY to drop the index inside the migration.";
				return "DROP INDEX CONCURRENTLY";
			}
			break;
		case T_ReindexStmt:
			{
				ReindexStmt *r = (ReindexStmt *) stmt;

				if (mig_reindex_concurrently(r))
				{
					*hint = mig_notx_statement_kind(stmt) != NULL ?
						"Put it in a migration of its own whose first line is \"" MIG_NOTX_MARKER "\", or remove CONCURRENTLY to reindex inside the migration." :
						"Remove CONCURRENTLY to reindex inside the migration, or reindex outside the migration chain.";
					return "REINDEX CONCURRENTLY";
				}
				if (r->kind == REINDEX_OBJECT_SYSTEM ||
					r->kind == REINDEX_OBJECT_DATABASE)
					return "REINDEX SYSTEM or DATABASE";
			}
			break;
		case T_VacuumStmt:
			if (((VacuumStmt *) stmt)->is_vacuumcmd)
			{
				*hint = "Put it in a migration of its own whose first line is \"" MIG_NOTX_MARKER "\".";
				return "VACUUM";
			}
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
 * mig_check_statements
 *		Refuse migration SQL that contains a statement that cannot run inside
 *		a transaction block.  Empty SQL (or only comments) is fine: a
 *		migration that does nothing, as tools write for an empty migration.
 *		A non-transactional migration has checks of its own
 *		(migrate_notx.c).
 */
void
mig_check_statements(const char *component, int64 version, const char *sql,
				 List *stmts)
{
	if (mig_check_notx_statements(component, version, sql, stmts))
		return;
	mig_check_statements_of(mig_subject(MIG_RUN_APPLY, component, version,
										NULL),
							sql, stmts);
}

/* mig_check_statements for the SQL of subject (see mig_subject) */
void
mig_check_statements_of(const char *subject, const char *sql, List *stmts)
{
	ListCell   *lc;
	int			n = 0;

	/* only a version can be non-transactional (migrate_notx.c) */
	if (mig_no_transaction(sql))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("%s cannot be non-transactional", subject),
				 errdetail("Only a versioned migration runs outside a transaction block."),
				 errhint("Remove the \"%s\" line, or make the statement a versioned migration of its own.",
						 MIG_NOTX_MARKER)));
	sql = mig_skip_bom(sql);

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
					 errdetail("Statement %d (line %d) of %s cannot run inside a transaction block.",
							   n, mig_line_of(sql, rs->stmt_location),
							   subject),
					 errhint("%s", hint)));
	}
}
