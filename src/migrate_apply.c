/*-------------------------------------------------------------------------
 *
 * migrate_apply.c
 *	  apply_migrations: run pending migrations in order, exactly once.
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
 * caller's privileges is refused rather than run with them.  Repeatable
 * migrations whose SQL changed follow the versions (all components'), in
 * component and name order, when no target version is given.
 *
 * Checking, running and recording one migration (mig_prepare_run,
 * mig_try_migration) serve repeatable migrations and revert_migrations'
 * undo SQL too (MigRunKind).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "storage/lock.h"
#include "tcop/dest.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "schema_mgr.h"
#include "migrate.h"

PG_FUNCTION_INFO_V1(sm_apply_migrations);

/* The migration whose SQL is running: a nested apply_migrations() is refused */
static Pending *running_migration = NULL;

/*
 * Set by apply_migrations_stepwise around its call of apply_migrations()
 * for one repeatable migration: that call applies only the repeatable
 * migration of this name (of the component it names), no version.
 */
const char *mig_step_repeatable = NULL;

static void run_migration(Pending *p);

/* ----------------------------------------------------------------
 * apply_migrations(component text, target_version bigint,
 *					allow_out_of_order boolean, dry_run boolean)
 * ----------------------------------------------------------------
 */

/*
 * mig_fetch_sql
 *		Read a pending migration's SQL (or undo SQL) into p->sql (inside
 *		mig_enter_internal()); release_sql frees it again.
 */
void
mig_fetch_sql(MigCall *c, Pending *p)
{
	Datum		values[2];

	values[0] = CStringGetTextDatum(p->component);
	values[1] = Int64GetDatum(p->version);
	if (p->kind == MIG_RUN_REPEAT)
	{
		values[1] = CStringGetTextDatum(p->name);
		mig_run_plan(c, P_REP_SQL, values, NULL);
	}
	else
		mig_run_plan(c, p->kind == MIG_RUN_UNDO ? P_UNDO_SQL : P_MIGRATION_SQL,
					 values, NULL);
	if (SPI_processed != 1)
		elog(ERROR, "%s vanished from the registry", p->subject);
	p->sql = mig_datum_text(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	SPI_freetuptable(SPI_tuptable);
}

static void
release_sql(Pending *p)
{
	pfree(p->sql);
	p->sql = NULL;
}

/*
 * statement_bounds
 *		Where each statement of a parsed migration starts (its first token)
 *		and how long it is: all that running it needs of the parse tree, so
 *		the tree can be freed (SPI parses each statement again as it runs).
 *		Allocated in the current memory context.
 */
static void
statement_bounds(Pending *p, List *stmts)
{
	const char *sql = mig_skip_bom(p->sql);
	ListCell   *lc;
	int			i = 0;

	p->n_stmts = list_length(stmts);
	p->bounds = palloc(sizeof(int) * 2 * (p->n_stmts + 1));
	foreach(lc, stmts)
	{
		RawStmt    *rs = lfirst_node(RawStmt, lc);
		const char *start = sql + rs->stmt_location;
		const char *first = mig_skip_blank(start);
		int			len = rs->stmt_len > 0 ? rs->stmt_len : (int) strlen(start);

		p->bounds[2 * i] = first - sql;
		p->bounds[2 * i + 1] = len - (first - start);
		i++;
	}
}

/*
 * Run a migration's SQL statement by statement, as the caller, from the
 * statement bounds found when it was checked.  Lines are counted as the
 * statements go by, so that a migration of many statements (a data load)
 * takes time linear in its length.
 */
static void
run_migration(Pending *p)
{
	MemoryContext outer = CurrentMemoryContext;
	const char *sql = mig_skip_bom(p->sql);
	const char *counted = sql;
	int			line = 1;
	int			i;
	SPIExecuteOptions options = {0};

	/*
	 * Rows a statement returns (a SELECT, INSERT ... RETURNING in a data
	 * migration) are thrown away as they come instead of being kept in an SPI
	 * tuple table, so memory does not grow with them.
	 */
	options.dest = None_Receiver;
	p->stmt_no = 0;
	for (i = 0; i < p->n_stmts; i++)
	{
		const char *first = sql + p->bounds[2 * i];
		char	   *text;
		int			rc;

		for (; counted < first; counted++)
			if (*counted == '\n')
				line++;
		p->stmt_no++;
		p->stmt_line = line;
		/* SPI returns in its own procedure context */
		MemoryContextSwitchTo(outer);
		text = pnstrdup(first, p->bounds[2 * i + 1]);
		rc = SPI_execute_extended(text, &options);
		if (rc < 0)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("could not run statement: %s",
							SPI_result_code_string(rc))));
		pfree(text);
	}
	MemoryContextSwitchTo(outer);
}

Interval *
mig_duration_since(TimestampTz start)
{
	Interval   *iv = palloc0(sizeof(Interval));

	iv->time = GetCurrentTimestamp() - start;
	return iv;
}

void
mig_record_applied(MigCall *c, Pending *p, TimestampTz start, Interval *duration,
			   const char *kind)
{
	Datum		values[8];

	mig_enter_internal(c);
	values[0] = CStringGetTextDatum(p->component);
	values[1] = Int64GetDatum(p->version);
	values[2] = CStringGetTextDatum(p->description);
	values[3] = TimestampTzGetDatum(start);
	values[4] = CStringGetTextDatum(p->checksum);
	values[5] = CStringGetTextDatum(c->caller);
	values[6] = IntervalPGetDatum(duration);
	values[7] = CStringGetTextDatum(kind);
	mig_insert_history(c, values, NULL);
	values[2] = values[4];
	mig_run_plan(c, P_MARK_APPLIED, values, NULL);
	mig_leave_internal(c);
}

/* Re-raise a migration's error with its SQLSTATE and where it happened. */
void
mig_raise_migration_error(Pending *p, ErrorData *edata)
{
	const char *hint = edata->hint;
	const char *where;
	char	   *excerpt = NULL;
	char	   *context = mig_clip_context(edata->context, p->show_sql);
	int			pos = 0;
	int			line;

	/* the failing statement: only a bounded excerpt around the error */
	if (p->show_sql && edata->internalquery && edata->internalpos > 0)
		excerpt = mig_excerpt(edata->internalquery, edata->internalpos,
							  &pos, &line);

	if (p->stmt_no == -2)
		where = psprintf(p->kind == MIG_RUN_UNDO ?
						 _("while recording %s as reverted, after its last statement") :
						 _("while recording %s as applied, after its last statement"),
						 p->subject);
	else if (p->stmt_no < 0)
		where = psprintf(_("at the end of %s"), p->subject);
	else
		where = psprintf(_("statement %d at line %d of %s"),
						 p->stmt_no, p->stmt_line, p->subject);

	/* what to do about errors the checks up front cannot foresee */
	if (p->kind == MIG_RUN_APPLY &&
		edata->sqlerrcode == ERRCODE_OUT_OF_MEMORY && hint != NULL &&
		strstr(hint, "max_locks_per_transaction") != NULL)
		hint = psprintf(_("Migrations applied in one call hold their locks until the transaction ends: apply them in batches with target_version (this call failed at version " INT64_FORMAT " of component \"%s\"), CALL apply_migrations_stepwise() to commit after each migration, or raise max_locks_per_transaction."),
						p->version, p->component);
	else if (hint == NULL && edata->sqlerrcode == ERRCODE_ACTIVE_SQL_TRANSACTION)
		hint = _(OUTSIDE_TRANSACTION_HINT);
	else if (hint == NULL && OidIsValid(p->confined_from) &&
			 edata->sqlerrcode == ERRCODE_INSUFFICIENT_PRIVILEGE)
		hint = p->confined_from == GetSessionUserId() ?
			psprintf(_("Its SQL was registered by role \"%s\" and cannot use the privileges of the session's role \"%s\", not even through SET ROLE."),
					 p->registered_by,
					 GetUserNameFromId(p->confined_from, false)) :
			psprintf(_("Its SQL was registered by role \"%s\" and cannot use the privileges of the role the session logged in as, not even through SET SESSION AUTHORIZATION."),
					 p->registered_by);

	ereport(ERROR,
			(errcode(edata->sqlerrcode),
			 p->kind == MIG_RUN_REPEAT ?
			 errmsg("%s failed: %s", p->subject,
					sm_clip(edata->message, MIG_MESSAGE_BYTES)) :
			 errmsg("%s (\"%s\") failed: %s", p->subject,
					sm_clip(p->description, MIG_MESSAGE_BYTES),
					sm_clip(edata->message, MIG_MESSAGE_BYTES)),
			 edata->detail ? errdetail_internal("%s", sm_clip(edata->detail, MIG_MESSAGE_BYTES)) : 0,
			 hint ? errhint("%s", hint) : 0,
			 edata->schema_name ? err_generic_string(PG_DIAG_SCHEMA_NAME, edata->schema_name) : 0,
			 edata->table_name ? err_generic_string(PG_DIAG_TABLE_NAME, edata->table_name) : 0,
			 edata->column_name ? err_generic_string(PG_DIAG_COLUMN_NAME, edata->column_name) : 0,
			 edata->constraint_name ? err_generic_string(PG_DIAG_CONSTRAINT_NAME, edata->constraint_name) : 0,
			 excerpt ? internalerrquery(excerpt) : 0,
			 excerpt ? internalerrposition(pos) : 0,
			 context ? errcontext("%s", context) : 0,
			 errcontext("%s", where)));
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
	MigSession	session;
} MigrationRun;

static void
run_and_record(void *arg)
{
	MigrationRun *r = (MigrationRun *) arg;
	Oid			save_userid;
	int			save_sec_context;

	/* the subtransaction's abort restores the context on error */
	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	if (OidIsValid(r->p->confined_from))
		SetUserIdAndSecContext(save_userid,
							   save_sec_context | SECURITY_LOCAL_USERID_CHANGE);
	mig_enter_internal(r->c);
	mig_fetch_sql(r->c, r->p);
	mig_leave_internal(r->c);
	mig_session_begin(r->c, &r->session);
	run_migration(r->p);
	release_sql(r->p);
	pfree(r->p->bounds);
	r->p->bounds = NULL;
	r->p->stmt_no = -1;			/* what follows is "at the end" */
	mig_session_end(r->c, r->p, &r->session);
	SetUserIdAndSecContext(save_userid, save_sec_context);
	r->duration = mig_duration_since(r->start);
	r->p->stmt_no = -2;			/* the bookkeeping's, not the migration's */
	switch (r->p->kind)
	{
		case MIG_RUN_APPLY:
			mig_record_applied(r->c, r->p, r->start, r->duration, "run");
			break;
		case MIG_RUN_REPEAT:
			mig_record_repeat(r->c, r->p, r->start, r->duration);
			break;
		case MIG_RUN_UNDO:
			mig_record_revert(r->c, r->p, r->start, r->duration);
			break;
	}
}

ErrorData *
mig_try_migration(MigCall *c, Pending *p, TimestampTz start,
				  Interval **duration)
{
	MigrationRun r = {c, p, start, NULL};
	ErrorData  *edata;

	running_migration = p;
	edata = sm_try_subxact(run_and_record, &r);
	running_migration = NULL;
	if (edata == NULL)
		*duration = r.duration;
	else
		mig_session_cleanup(c, &r.session);
	return edata;
}

Pending *
mig_running_migration(void)
{
	return running_migration;
}

/*
 * mig_read_may_read_sql
 *		Whether the caller may read every migration's SQL (in its errors).
 *		Inside mig_enter_internal().
 */
void
mig_read_may_read_sql(MigCall *c)
{
	c->read_all_sql = true;
	if (c->owners)
	{
		Datum		values[1];
		bool		isnull;

		values[0] = ObjectIdGetDatum(c->caller_id);
		mig_run_plan(c, P_MAY_READ_SQL, values, NULL);
		c->read_all_sql = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0],
													 SPI_tuptable->tupdesc, 1,
													 &isnull));
	}
}

/*
 * mig_prepare_run
 *		Check a migration's SQL (or undo SQL) before anything runs, and keep
 *		where its statements are for running it.  One migration's SQL and
 *		parse tree at a time, in checkcxt (reset after): memory is bounded
 *		by the largest migration.  Inside mig_enter_internal().
 */
void
mig_prepare_run(MigCall *c, Pending *p, MemoryContext checkcxt)
{
	MemoryContext oldcontext = CurrentMemoryContext;
	List	   *stmts;

	mig_fetch_sql(c, p);
	MemoryContextSwitchTo(checkcxt);
	stmts = mig_parse_sql_of(p->subject, p->sql, p->show_sql);
	mig_check_statements_of(p->subject, p->sql, stmts);
	MemoryContextSwitchTo(oldcontext);
	statement_bounds(p, stmts);
	MemoryContextReset(checkcxt);
	release_sql(p);
}

/* the error column of a dry run's "would fail" row */
static char *
outcome_error(Pending *p, ErrorData *edata)
{
	if (p->stmt_no < 0)
		return psprintf("%s: %s",
						p->stmt_no == -2 ? "while recording it" : "at the end",
						sm_clip(edata->message, MIG_MESSAGE_BYTES));
	return psprintf("statement %d at line %d: %s",
					p->stmt_no, p->stmt_line,
					sm_clip(edata->message, MIG_MESSAGE_BYTES));
}

/*
 * mig_run_pending
 *		Run each migration of the list (or undo: what done and would call
 *		its outcome, in a real and a dry run) that is not only marked as
 *		applied, and return a row for each; an error ends a real run, and
 *		is the outcome of a dry run, whose later migrations are "not run".
 *		Returns how many ran.
 */
int
mig_run_pending(MigCall *c, ReturnSetInfo *rsinfo, List *pending,
				bool dry_run, const char *done, const char *would)
{
	ListCell   *lc;
	bool		dry_failed = false;
	int			n_done = 0;

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
		rownulls[1] = p->kind == MIG_RUN_REPEAT;
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
		edata = mig_try_migration(c, p, start, &duration);

		/* a cancel or timeout ends a dry run too: it is no outcome */
		if (edata != NULL &&
			(!dry_run || edata->sqlerrcode == ERRCODE_QUERY_CANCELED))
			mig_raise_migration_error(p, edata);

		row[3] = IntervalPGetDatum(duration ? duration : mig_duration_since(start));
		if (edata == NULL)
			row[5] = CStringGetTextDatum(dry_run ? would : done);
		else
		{
			row[5] = CStringGetTextDatum("would fail");
			row[6] = CStringGetTextDatum(outcome_error(p, edata));
			rownulls[6] = false;
			dry_failed = true;
		}
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, row, rownulls);
		n_done++;
	}

	return n_done;
}

/*
 * anything_pending
 *		The fast path with repeatable migrations: whether a version up to
 *		target or a repeatable migration is pending, of the component or of
 *		any, in one statement; an error for a component that does not
 *		exist.  Inside mig_enter_internal().
 */
static bool
anything_pending(MigCall *c, const char *component, int64 target)
{
	Datum		values[2];
	bool		found;

	if (component != NULL)
	{
		values[0] = CStringGetTextDatum(component);
		values[1] = Int64GetDatum(target);
		mig_run_plan(c, P_PENDING_PROBE_ONE, values, NULL);
	}
	else
	{
		values[0] = Int64GetDatum(target);
		mig_run_plan(c, P_PENDING_PROBE_ANY, values, NULL);
	}
	found = SPI_processed > 0;
	SPI_freetuptable(SPI_tuptable);
	if (!found && component != NULL && !mig_component_exists(c, component))
		mig_unknown_component(component);
	return found;
}

/*
 * mig_pending_versions
 *		The pending versions, as read under the lock (inside
 *		mig_enter_internal): values and nulls hold the components (text[])
 *		and the target version.
 */
List *
mig_pending_versions(MigCall *c, Datum *values, char *nulls)
{
	List	   *pending = NIL;
	int			i;

	mig_run_plan(c, c->owners ? P_PENDING_ROWS_OWNERS : P_PENDING_ROWS,
				 values, nulls);
	for (i = 0; i < (int) SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		Pending    *p = palloc0(sizeof(Pending));
		bool		isnull;
		Datum		d;

		p->kind = MIG_RUN_APPLY;
		p->component = mig_datum_text(tup, desc, 1);
		p->version = DatumGetInt64(SPI_getbinval(tup, desc, 2, &isnull));
		p->subject = mig_subject(MIG_RUN_APPLY, p->component, p->version, NULL);
		p->description = mig_datum_text(tup, desc, 3);
		p->sql = mig_datum_text(tup, desc, 4);
		p->checksum = mig_datum_text(tup, desc, 5);
		p->in_history = DatumGetBool(SPI_getbinval(tup, desc, 6, &isnull));
		p->history_checksum = mig_datum_text(tup, desc, 7);
		d = SPI_getbinval(tup, desc, 8, &isnull);
		p->has_max_applied = !isnull;
		if (!isnull)
			p->max_applied = DatumGetInt64(d);
		p->registered_by = mig_datum_text(tup, desc, 9);
		d = SPI_getbinval(tup, desc, 10, &isnull);
		p->registrant = isnull ? InvalidOid : DatumGetObjectId(d);
		p->approved_by = mig_datum_text(tup, desc, 11);
		d = SPI_getbinval(tup, desc, 12, &isnull);
		p->approver = isnull ? InvalidOid : DatumGetObjectId(d);
		pending = lappend(pending, p);
	}
	SPI_freetuptable(SPI_tuptable);
	return pending;
}

/*
 * mig_check_version
 *		Refuse a pending version changed since it was applied, or out of
 *		order.  Returns false for one already in the history with the same
 *		checksum (or under a baseline marker): it is only marked as applied.
 */
bool
mig_check_version(Pending *p, bool allow_out_of_order)
{
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
		return false;
	}
	if (p->has_max_applied && p->version < p->max_applied &&
		!allow_out_of_order)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("migration \"%s\" version " INT64_FORMAT " is older than the current version " INT64_FORMAT,
						p->component, p->version, p->max_applied),
				 errdetail("Applying it now would apply migrations out of order."),
				 p->max_applied == PG_INT64_MAX ?
				 errhint("Pass allow_out_of_order => true to apply it anyway: no version is above the current one.") :
				 errhint("Pass allow_out_of_order => true to apply it anyway, or register it again under a version above " INT64_FORMAT ".",
						 p->max_applied)));
	return true;
}

Datum
sm_apply_migrations(PG_FUNCTION_ARGS)
{
	char	   *component = NULL;
	int64		target = PG_INT64_MAX;
	bool		allow_out_of_order = !PG_ARGISNULL(2) && PG_GETARG_BOOL(2);
	bool		dry_run = !PG_ARGISNULL(3) && PG_GETARG_BOOL(3);
	const char *only = mig_step_repeatable;
	bool		repeatables;
	ReturnSetInfo *rsinfo;
	MigCall		c;
	Datum		values[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};
	List	   *pending = NIL;
	ListCell   *lc;
	MemoryContext oldcontext;
	MemoryContext checkcxt;
	ResourceOwner oldowner;
	int			n_done = 0;
	int			n_marked = 0;
	int			i;

	/* for this call only: SQL it runs cannot see it */
	mig_step_repeatable = NULL;
	if (running_migration != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot apply migrations from inside a migration"),
				 errdetail("%s is running and would be applied again.",
						   mig_subject_sentence(running_migration->subject)),
				 errhint("Remove the call from the migration's SQL.")));
	if (!PG_ARGISNULL(0))
		component = mig_arg_component(fcinfo, 0);
	if (!PG_ARGISNULL(1))
		target = mig_arg_version(fcinfo, 1, "target version");

	InitMaterializedSRF(fcinfo, 0);
	rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	mig_call_init(&c, fcinfo, false);

	/*
	 * Repeatable migrations (1.1) follow when no target version is given.
	 * A step of apply_migrations_stepwise applies one of them and no
	 * version.
	 */
	repeatables = c.owners && (PG_ARGISNULL(1) || only != NULL);
	if (only != NULL)
		target = 0;

	/* the fast path: nothing pending, one probe of an empty index (two) */
	mig_enter_internal(&c);
	if (!(repeatables ? anything_pending(&c, component, target)
		  : mig_first_pending(&c, component, target, NULL, NULL)))
	{
		mig_leave_internal(&c);
		SPI_finish();
		mig_notice_nothing_pending(component);
		return (Datum) 0;
	}

	/*
	 * Something is pending.  Applying needs to see what concurrent appliers
	 * committed while we waited for the lock, which a transaction snapshot
	 * would hide.
	 */
	/* a dry run too: what it would record fails, not its migration */
	mig_require_writer_transaction("apply migrations", "Applying",
								   "Apply migrations");

	mig_read_may_read_sql(&c);

	values[0] = component ? CStringGetTextDatum(component) : (Datum) 0;
	nulls[0] = component ? ' ' : 'n';
	values[1] = Int64GetDatum(target);
	if (c.owners)
	{
		values[2] = BoolGetDatum(repeatables);
		values[3] = only ? CStringGetTextDatum(only) : (Datum) 0;
		nulls[3] = only ? ' ' : 'n';
		mig_run_plan(&c, P_PENDING_COMPONENTS_ALL, values, nulls);
	}
	else
		mig_run_plan(&c, P_PENDING_COMPONENTS, values, nulls);
	values[0] = mig_lock_listed_components(&c, &i);
	nulls[0] = ' ';

	/* re-read with a fresh snapshot, now that nobody else can apply */
	mig_enter_internal(&c);
	pending = mig_pending_versions(&c, values, nulls);
	if (repeatables)
		pending = list_concat(pending,
							  mig_pending_repeatables(&c, values[0], only));

	/*
	 * Check everything before running anything: changed since applied, out
	 * of order, who vouches for the SQL, statements that cannot run in a
	 * transaction block.
	 */
	checkcxt = AllocSetContextCreate(CurrentMemoryContext, "migration check",
									 ALLOCSET_DEFAULT_SIZES);
	foreach(lc, pending)
	{
		Pending    *p = (Pending *) lfirst(lc);

		if (p->kind == MIG_RUN_APPLY && !mig_check_version(p, allow_out_of_order))
			continue;
		mig_check_registrant(&c, p);
		if (p->kind == MIG_RUN_APPLY)
			mig_refuse_notx(&c, p);
		mig_prepare_run(&c, p, checkcxt);
	}
	MemoryContextDelete(checkcxt);
	mig_leave_internal(&c);

	/*
	 * Every migration's locks are held until the transaction ends: warn
	 * before running more migrations than the lock table holds locks.
	 */
	if (list_length(pending) > mig_lock_capacity())
		ereport(WARNING,
				(errmsg("applying %d migrations in one transaction may run out of lock table space",
						list_length(pending)),
				 errdetail("Each migration's locks are held until the transaction ends, and the lock table has room for about %d locks in all (max_locks_per_transaction = %d).",
						   mig_lock_capacity(), max_locks_per_xact),
				 errhint("Should it fail with \"out of shared memory\", apply in batches with target_version, for example up to version " INT64_FORMAT " of component \"%s\" first.",
						 ((Pending *) list_nth(pending, mig_lock_capacity() / 4))->version,
						 ((Pending *) list_nth(pending, mig_lock_capacity() / 4))->component)));

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

	mig_enter_internal(&c);
	foreach(lc, pending)
	{
		Pending    *p = (Pending *) lfirst(lc);
		Datum		mv[3];

		if (p->kind != MIG_RUN_APPLY || !p->in_history)
			continue;
		n_marked++;
		mv[0] = CStringGetTextDatum(p->component);
		mv[1] = Int64GetDatum(p->version);
		mv[2] = CStringGetTextDatum(p->checksum);
		mig_run_plan(&c, P_MARK_APPLIED, mv, NULL);
	}
	mig_leave_internal(&c);

	n_done = mig_run_pending(&c, rsinfo, pending, dry_run, "applied",
							 "would apply");

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
