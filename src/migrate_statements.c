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
 * mig_classify_statement
 *		The one definition of where a statement may run in a migration:
 *		fills *c with what to call it, whether it can run inside a
 *		transaction block (an ordinary migration runs each statement in a
 *		subtransaction, through SPI), whether a non-transactional migration
 *		may hold it (migrate_notx.c), and the hint for refusing it inside a
 *		transaction block.  Statements with nothing to say get a NULL name
 *		and may run in a transaction block only.
 */
void
mig_classify_statement(Node *stmt, MigStatementClass *c)
{
	c->name = NULL;
	c->in_transaction = true;
	c->no_transaction = false;
	c->hint = OUTSIDE_TRANSACTION_HINT;

	switch (nodeTag(stmt))
	{
		case T_IndexStmt:
			if (((IndexStmt *) stmt)->concurrent)
			{
				c->name = "CREATE INDEX CONCURRENTLY";
				c->in_transaction = false;
				c->no_transaction = true;
				c->hint = "Put it in a migration of its own whose first line is \"" MIG_NOTX_MARKER "\", or remove CONCURRENTLY to build the index inside the migration (it locks the table against writes while it builds).";
			}
			break;
		case T_DropStmt:
			if (((DropStmt *) stmt)->concurrent)
			{
				c->name = "DROP INDEX CONCURRENTLY";
				c->in_transaction = false;
				c->no_transaction = true;
				c->hint = "Put it in a migration of its own whose first line is \"" MIG_NOTX_MARKER "\", or remove CONCURRENTLY to drop the index inside the migration.";
			}
			break;
		case T_ReindexStmt:
			{
				ReindexStmt *r = (ReindexStmt *) stmt;

				if (mig_reindex_concurrently(r))
				{
					c->name = "REINDEX CONCURRENTLY";
					c->in_transaction = false;
					/* of one index or table: not a schema, system or database */
					c->no_transaction = (r->kind == REINDEX_OBJECT_INDEX ||
										 r->kind == REINDEX_OBJECT_TABLE);
					c->hint = c->no_transaction ?
						"Put it in a migration of its own whose first line is \"" MIG_NOTX_MARKER "\", or remove CONCURRENTLY to reindex inside the migration." :
						"Remove CONCURRENTLY to reindex inside the migration, or reindex outside the migration chain.";
				}
				else if (r->kind == REINDEX_OBJECT_SYSTEM ||
						 r->kind == REINDEX_OBJECT_DATABASE)
				{
					c->name = "REINDEX SYSTEM or DATABASE";
					c->in_transaction = false;
				}
			}
			break;
		case T_VacuumStmt:
			if (((VacuumStmt *) stmt)->is_vacuumcmd)
			{
				c->name = "VACUUM";
				c->in_transaction = false;
				c->hint = "Put it in a migration of its own whose first line is \"" MIG_NOTX_MARKER "\".";
			}
			else
				c->name = "ANALYZE";	/* runs either way */
			c->no_transaction = true;
			break;
		case T_SmClusterStmt:
			if (((SmClusterStmt *) stmt)->relation == NULL)
			{
				c->name = "CLUSTER without a table name";
				c->in_transaction = false;
			}
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
						c->name = "DETACH PARTITION CONCURRENTLY";
						c->in_transaction = false;
						c->hint = "Remove CONCURRENTLY to detach the partition inside the migration, or detach it outside the migration chain.";
					}
				}
			}
			break;
		case T_AlterDatabaseStmt:
			{
				ListCell   *lc;

				foreach(lc, ((AlterDatabaseStmt *) stmt)->options)
					if (strcmp(lfirst_node(DefElem, lc)->defname, "tablespace") == 0)
					{
						c->name = "ALTER DATABASE SET TABLESPACE";
						c->in_transaction = false;
					}
			}
			break;
		case T_CreatedbStmt:
			c->name = "CREATE DATABASE";
			c->in_transaction = false;
			break;
		case T_DropdbStmt:
			c->name = "DROP DATABASE";
			c->in_transaction = false;
			break;
		case T_CreateTableSpaceStmt:
			c->name = "CREATE TABLESPACE";
			c->in_transaction = false;
			break;
		case T_DropTableSpaceStmt:
			c->name = "DROP TABLESPACE";
			c->in_transaction = false;
			break;
		case T_AlterSystemStmt:
			c->name = "ALTER SYSTEM";
			c->in_transaction = false;
			break;
		case T_CreateSubscriptionStmt:
			c->name = "CREATE SUBSCRIPTION";
			c->in_transaction = false;
			break;
		case T_DropSubscriptionStmt:
			c->name = "DROP SUBSCRIPTION";
			c->in_transaction = false;
			break;
		case T_DiscardStmt:
			if (((DiscardStmt *) stmt)->target == DISCARD_ALL)
			{
				c->name = "DISCARD ALL";
				c->in_transaction = false;
			}
			break;
		case T_TransactionStmt:
			c->name = "transaction control statement";
			c->in_transaction = false;
			c->hint = "Each migration already runs in its own subtransaction; remove the transaction control statements.";
			break;
		case T_CopyStmt:
			if (((CopyStmt *) stmt)->filename == NULL)
			{
				c->name = "COPY FROM STDIN or TO STDOUT";
				c->in_transaction = false;
				c->hint = "Migrations cannot exchange data with the client. Use INSERT, or COPY from a file on the server.";
			}
			break;
		default:
			break;
	}
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
		MigStatementClass c;

		n++;
		mig_classify_statement(rs->stmt, &c);
		if (!c.in_transaction)
			ereport(ERROR,
					(errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
					 errmsg("%s cannot run inside a migration", c.name),
					 errdetail("Statement %d (line %d) of %s cannot run inside a transaction block.",
							   n, mig_line_of(sql, rs->stmt_location),
							   subject),
					 errhint("%s", c.hint)));
	}
}
