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

List *
mig_parse_sql(const char *component, int64 version, const char *sql,
			  bool show_sql)
{
	MemoryContext oldcontext = CurrentMemoryContext;
	List	   *stmts = NIL;

	sql = mig_skip_bom(sql);
	PG_TRY();
	{
		stmts = raw_parser(sql, RAW_PARSE_DEFAULT);
	}
	PG_CATCH();
	{
		ErrorData  *edata;
		char	   *excerpt = NULL;
		int			pos = 0;
		int			line = 0;
		char	   *where;

		/* re-raised at once, so no subtransaction is needed */
		MemoryContextSwitchTo(oldcontext);
		edata = CopyErrorData();
		FlushErrorState();
		if (edata->cursorpos > 0)
			excerpt = mig_excerpt(sql, edata->cursorpos, &pos, &line);
		if (line > 0)
			where = psprintf(_("line %d of migration \"%s\" version " INT64_FORMAT),
							 line, component, version);
		else
			where = psprintf(_("migration \"%s\" version " INT64_FORMAT),
							 component, version);
		ereport(ERROR,
				(errcode(edata->sqlerrcode),
				 errmsg_internal("%s", mig_clip(edata->message, MIG_MESSAGE_BYTES)),
				 edata->detail ? errdetail_internal("%s", mig_clip(edata->detail, MIG_MESSAGE_BYTES)) : 0,
				 edata->hint ? errhint("%s", edata->hint) : 0,
				 excerpt && show_sql ? internalerrquery(excerpt) : 0,
				 excerpt && show_sql ? internalerrposition(pos) : 0,
				 errcontext("%s", where)));
	}
	PG_END_TRY();
	return stmts;
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
		case T_ClusterStmt:
			if (((ClusterStmt *) stmt)->relation == NULL)
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
 *		Refuse migration SQL that is empty or contains a statement that cannot
 *		run inside a transaction block.
 */
void
mig_check_statements(const char *component, int64 version, const char *sql,
				 List *stmts)
{
	ListCell   *lc;
	int			n = 0;

	sql = mig_skip_bom(sql);

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
							   n, mig_line_of(sql, rs->stmt_location),
							   component, version),
					 errhint("%s", hint)));
	}
}
