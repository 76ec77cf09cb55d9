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
 * caller's privileges is refused rather than run with them.
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

static void run_migration(Pending *p);
static Interval *duration_since(TimestampTz start);
static ErrorData *try_migration(MigCall *c, Pending *p, TimestampTz start,
								 Interval **duration);

/* ----------------------------------------------------------------
 * apply_migrations(component text, target_version bigint,
 *					allow_out_of_order boolean, dry_run boolean)
 * ----------------------------------------------------------------
 */

/*
 * mig_check_registrant
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
void
mig_check_registrant(MigCall *c, Pending *p)
{
	Oid			registrant;
	Oid			approver;
	Oid			session = GetSessionUserId();

	if (c->owners)
		registrant = mig_role_if_same(p->registrant, p->registered_by);
	else
		registrant = get_role_oid(p->registered_by, true);
	approver = mig_role_if_same(p->approver, p->approved_by);

	/* who wrote it may read it, and so may who may read any migration */
	p->show_sql = c->read_all_sql ||
		(OidIsValid(registrant) && has_privs_of_role(c->caller_id, registrant));

	if ((OidIsValid(registrant) && has_privs_of_role(registrant, c->caller_id)) ||
		(OidIsValid(approver) && has_privs_of_role(approver, c->caller_id)))
	{
		p->confined =
			!((OidIsValid(registrant) && has_privs_of_role(registrant, session)) ||
			  (OidIsValid(approver) && has_privs_of_role(approver, session)));
		return;
	}
	if (!OidIsValid(registrant))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("migration \"%s\" version " INT64_FORMAT " was registered by role \"%s\", which no longer exists",
						p->component, p->version, p->registered_by),
				 errdetail("A role of that name created since is not taken for the registrant, so no role vouches for its SQL."),
				 c->owners ?
				 errhint("Review its SQL and checksum with migration_sql(), approve that checksum with approve_migration(), and apply again.") :
				 errhint("Register it again as an existing role.")));
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("migration \"%s\" version " INT64_FORMAT " was registered by role \"%s\", which does not have the privileges of role \"%s\"",
					p->component, p->version, p->registered_by, c->caller),
			 errdetail("Applying it would run SQL written by role \"%s\" with the privileges of role \"%s\".",
					   p->registered_by, c->caller),
			 c->owners ?
			 errhint("Review its SQL and checksum with migration_sql(), approve that checksum with approve_migration(), and apply again.") :
			 errhint("Review its SQL, then apply it as role \"%s\" (SET ROLE).",
					 p->registered_by)));
}

/*
 * mig_fetch_sql
 *		Read a pending migration's SQL into p->sql (inside
 *		mig_enter_internal()); release_sql frees it again.
 */
void
mig_fetch_sql(MigCall *c, Pending *p)
{
	Datum		values[2];

	values[0] = CStringGetTextDatum(p->component);
	values[1] = Int64GetDatum(p->version);
	mig_run_plan(c, P_MIGRATION_SQL, values, NULL);
	if (SPI_processed != 1)
		elog(ERROR, "migration \"%s\" version " INT64_FORMAT " vanished from the registry",
			 p->component, p->version);
	p->sql = mig_datum_text(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	SPI_freetuptable(SPI_tuptable);
}

/*
 * mig_read_pending
 *		Read the pending rows of the components (a text[]) up to target,
 *		without their SQL, onto *pending.  Inside mig_enter_internal(),
 *		under the components' locks.
 */
void
mig_read_pending(MigCall *c, Datum components, int64 target, List **pending)
{
	Datum		values[2];
	int			i;

	values[0] = components;
	values[1] = Int64GetDatum(target);
	mig_run_plan(c, c->owners ? P_PENDING_ROWS_OWNERS : P_PENDING_ROWS,
				 values, NULL);
	for (i = 0; i < (int) SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		Pending    *p = palloc0(sizeof(Pending));
		bool		isnull;
		Datum		d;

		p->component = mig_datum_text(tup, desc, 1);
		p->version = DatumGetInt64(SPI_getbinval(tup, desc, 2, &isnull));
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
		*pending = lappend(*pending, p);
	}
	SPI_freetuptable(SPI_tuptable);
}

/*
 * mig_check_pending
 *		Refuse a pending migration changed since it was applied, or one
 *		that would apply out of order.  Returns true when it is already in
 *		the history, with the same SQL (or under a baseline marker): then it
 *		is only to be marked as applied.
 */
bool
mig_check_pending(Pending *p, bool allow_out_of_order)
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
		return true;
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
	return false;
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

static Interval *
duration_since(TimestampTz start)
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
	mig_run_plan(c, P_INSERT_HISTORY, values, NULL);
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
		where = psprintf(_("while recording migration \"%s\" version " INT64_FORMAT " as applied, after its last statement"),
						 p->component, p->version);
	else if (p->stmt_no < 0)
		where = psprintf(_("at the end of migration \"%s\" version " INT64_FORMAT),
						 p->component, p->version);
	else
		where = psprintf(_("statement %d at line %d of migration \"%s\" version " INT64_FORMAT),
						 p->stmt_no, p->stmt_line, p->component, p->version);

	/* what to do about errors the checks up front cannot foresee */
	if (edata->sqlerrcode == ERRCODE_OUT_OF_MEMORY && hint != NULL &&
		strstr(hint, "max_locks_per_transaction") != NULL)
		hint = psprintf(_("Migrations applied in one call hold their locks until the transaction ends: apply them in batches with target_version (this call failed at version " INT64_FORMAT " of component \"%s\"), CALL apply_migrations_stepwise() to commit after each migration, or raise max_locks_per_transaction."),
						p->version, p->component);
	else if (hint == NULL && edata->sqlerrcode == ERRCODE_ACTIVE_SQL_TRANSACTION)
		hint = _(OUTSIDE_TRANSACTION_HINT);
	else if (hint == NULL && p->confined &&
			 edata->sqlerrcode == ERRCODE_INSUFFICIENT_PRIVILEGE)
		hint = psprintf(_("Its SQL was registered by role \"%s\" and cannot use the privileges of the session's role \"%s\", not even through SET ROLE."),
						p->registered_by,
						GetUserNameFromId(GetSessionUserId(), false));

	ereport(ERROR,
			(errcode(edata->sqlerrcode),
			 errmsg("migration \"%s\" version " INT64_FORMAT " (\"%s\") failed: %s",
					p->component, p->version,
					mig_clip(p->description, MIG_MESSAGE_BYTES),
					mig_clip(edata->message, MIG_MESSAGE_BYTES)),
			 edata->detail ? errdetail_internal("%s", mig_clip(edata->detail, MIG_MESSAGE_BYTES)) : 0,
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
} MigrationRun;

static void
run_and_record(void *arg)
{
	MigrationRun *r = (MigrationRun *) arg;
	Oid			save_userid;
	int			save_sec_context;
	MigSession	session;

	/* the subtransaction's abort restores the context on error */
	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	if (r->p->confined)
		SetUserIdAndSecContext(save_userid,
							   save_sec_context | SECURITY_LOCAL_USERID_CHANGE);
	mig_enter_internal(r->c);
	mig_fetch_sql(r->c, r->p);
	mig_leave_internal(r->c);
	mig_session_begin(r->c, &session);
	run_migration(r->p);
	release_sql(r->p);
	pfree(r->p->bounds);
	r->p->bounds = NULL;
	r->p->stmt_no = -1;			/* what follows is "at the end" */
	mig_session_end(r->c, r->p, &session);
	SetUserIdAndSecContext(save_userid, save_sec_context);
	r->duration = duration_since(r->start);
	r->p->stmt_no = -2;			/* the bookkeeping's, not the migration's */
	mig_record_applied(r->c, r->p, r->start, r->duration, "run");
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
	List	   *pending = NIL;
	ListCell   *lc;
	MemoryContext oldcontext;
	MemoryContext checkcxt;
	List	   *stmts;
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
		component = mig_arg_component(fcinfo, 0);
	if (!PG_ARGISNULL(1))
		target = mig_arg_version(fcinfo, 1, "target version");

	InitMaterializedSRF(fcinfo, 0);
	rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	mig_call_init(&c, fcinfo, false);

	/* the fast path: nothing pending, one probe of an empty index */
	mig_enter_internal(&c);
	if (!mig_first_pending(&c, component, target, NULL, NULL))
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
	mig_require_read_committed("apply migrations", "Applying",
							   "Apply migrations");

	/* may the caller read every migration's SQL (in its errors)? */
	c.read_all_sql = true;
	if (c.owners)
	{
		bool		isnull;

		values[0] = ObjectIdGetDatum(c.caller_id);
		mig_run_plan(&c, P_MAY_READ_SQL, values, NULL);
		c.read_all_sql = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0],
													SPI_tuptable->tupdesc, 1,
													&isnull));
	}

	values[0] = component ? CStringGetTextDatum(component) : (Datum) 0;
	nulls[0] = component ? ' ' : 'n';
	values[1] = Int64GetDatum(target);
	mig_run_plan(&c, P_PENDING_COMPONENTS, values, nulls);
	values[0] = mig_lock_listed_components(&c, &i);
	nulls[0] = ' ';

	/* re-read with a fresh snapshot, now that nobody else can apply */
	mig_enter_internal(&c);
	mig_read_pending(&c, values[0], target, &pending);

	/*
	 * Check everything before running anything: changed since applied, out
	 * of order, statements that cannot run in a transaction block.
	 * Registry rows whose version is already in the history with the same
	 * checksum (or under a baseline marker) are only marked as applied.
	 */
	oldcontext = CurrentMemoryContext;
	checkcxt = AllocSetContextCreate(oldcontext, "migration check",
									 ALLOCSET_DEFAULT_SIZES);
	foreach(lc, pending)
	{
		Pending    *p = (Pending *) lfirst(lc);

		if (mig_check_pending(p, allow_out_of_order))
			continue;
		mig_check_registrant(&c, p);
		/*
		 * One migration's SQL and parse tree at a time: only where its
		 * statements are is kept, for running it.
		 */
		mig_fetch_sql(&c, p);
		MemoryContextSwitchTo(checkcxt);
		stmts = mig_parse_sql(p->component, p->version, p->sql, p->show_sql);
		mig_refuse_notx(p->component, p->version, p->sql);
		mig_check_statements(p->component, p->version, p->sql, stmts);
		MemoryContextSwitchTo(oldcontext);
		statement_bounds(p, stmts);
		MemoryContextReset(checkcxt);
		release_sql(p);
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

		if (!p->in_history)
			continue;
		n_marked++;
		mv[0] = CStringGetTextDatum(p->component);
		mv[1] = Int64GetDatum(p->version);
		mv[2] = CStringGetTextDatum(p->checksum);
		mig_run_plan(&c, P_MARK_APPLIED, mv, NULL);
	}
	mig_leave_internal(&c);

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
			mig_raise_migration_error(p, edata);

		row[3] = IntervalPGetDatum(duration ? duration : duration_since(start));
		if (edata == NULL)
			row[5] = CStringGetTextDatum(dry_run ? "would apply" : "applied");
		else
		{
			row[5] = CStringGetTextDatum("would fail");
			row[6] = CStringGetTextDatum(p->stmt_no < 0 ?
										 psprintf("%s: %s",
												  p->stmt_no == -2 ? "while recording it" : "at the end",
												  mig_clip(edata->message, MIG_MESSAGE_BYTES)) :
										 psprintf("statement %d at line %d: %s",
												  p->stmt_no, p->stmt_line,
												  mig_clip(edata->message, MIG_MESSAGE_BYTES)));
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
