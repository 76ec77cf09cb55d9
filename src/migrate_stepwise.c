/*-------------------------------------------------------------------------
 *
 * migrate_stepwise.c
 *	  apply_migrations_stepwise: a procedure that applies pending
 *	  migrations one transaction each, committing after every migration.
 *
 * Each step finds the first pending migration (component by component,
 * lowest version first), applies exactly that one with apply_migrations()
 * and commits.  So every migration is still atomic and recorded in the same
 * transaction as its effects, and the component's transaction-scoped
 * advisory lock is taken again for each step: any number of concurrent
 * callers (through PgBouncer's transaction pooling too) apply each
 * migration once, and nothing outlives a crash.  A failure ends the call at
 * the failing migration; the ones before it stay applied.
 *
 * What one transaction cannot do, a chain of them can: a migration that
 * adds an enum value and a later one that uses it, and chains whose locks
 * (one or more per table) would not fit the lock table all at once.
 *
 * When no target version is given, the pending repeatable migrations
 * follow the versions, one step (one apply_migrations() and one commit)
 * each, in component and name order.
 *
 * A non-transactional migration (migrate_notx.c) is a step of its own,
 * begun right after a commit so that it holds no snapshot while its
 * statement runs at top level in a background worker
 * (migrate_notx_apply.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "nodes/value.h"
#include "parser/parse_func.h"
#include "utils/acl.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "schema_mgr.h"
#include "migrate.h"

PG_FUNCTION_INFO_V1(sm_apply_migrations_stepwise);

static char *drop_context_lines(const char *context, const char *query);
static int	apply_one(const char *query, const char *component, int64 version,
					  bool allow_out_of_order, const char *repeatable);
static int	apply_repeatables(MigCall *c, const char *query,
							  const char *component, bool allow_out_of_order);

/*
 * drop_context_lines
 *		The error context without the lines naming the internal query: SPI
 *		adds one to the error of the failing migration, which the
 *		migration's own error then repeats inside its context, and one
 *		more as it propagates.  NULL when nothing is left.
 */
static char *
drop_context_lines(const char *context, const char *query)
{
	StringInfoData buf;
	char	   *line = psprintf("SQL statement \"%s\"", query);
	size_t		len = strlen(line);
	const char *p = context;

	initStringInfo(&buf);
	while (*p)
	{
		const char *end = strchr(p, '\n');
		size_t		n = end ? (size_t) (end - p) : strlen(p);

		if (!(n == len && strncmp(p, line, len) == 0))
		{
			if (buf.len > 0)
				appendStringInfoChar(&buf, '\n');
			appendBinaryStringInfo(&buf, p, n);
		}
		p += n;
		if (*p == '\n')
			p++;
	}
	return buf.len > 0 ? buf.data : NULL;
}

/*
 * apply_one
 *		Apply one component up to one version through apply_migrations(), as
 *		the caller: its EXECUTE privilege, checks and errors are those of a
 *		direct call.  The error context line naming the internal query is
 *		left out; the lines saying which migration failed stay.  Returns how
 *		many migrations were applied (1, or 0 when a concurrent caller did).
 *		With repeatable, the call applies that repeatable migration of the
 *		component instead (version is not used).
 */
static int
apply_one(const char *query, const char *component, int64 version,
		  bool allow_out_of_order, const char *repeatable)
{
	Datum		values[3];
	Oid			types[3] = {TEXTOID, INT8OID, BOOLOID};
	MemoryContext oldcontext = CurrentMemoryContext;
	int			applied = 0;

	values[0] = CStringGetTextDatum(component);
	values[1] = Int64GetDatum(version);
	values[2] = BoolGetDatum(allow_out_of_order);
	PG_TRY();
	{
		bool		isnull;

		mig_step_repeatable = repeatable;
		if (SPI_execute_with_args(query, 3, types, values, NULL, false,
								  1) != SPI_OK_SELECT ||
			SPI_processed != 1)
			elog(ERROR, "could not apply migration \"%s\" version " INT64_FORMAT,
				 component, version);
		applied = (int) DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
													SPI_tuptable->tupdesc, 1,
													&isnull));
		SPI_freetuptable(SPI_tuptable);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		mig_step_repeatable = NULL;
		MemoryContextSwitchTo(oldcontext);
		edata = CopyErrorData();
		FlushErrorState();
		if (edata->context != NULL)
			edata->context = drop_context_lines(edata->context, query);
		ReThrowError(edata);
	}
	PG_END_TRY();
	return applied;
}

/*
 * require_apply_privilege
 *		A step of a non-transactional migration does not go through
 *		apply_migrations(): it checks the EXECUTE privilege on it that
 *		apply_one's call would check, so that both kinds of step need it.
 */
static void
require_apply_privilege(const char *schema)
{
	Oid			argtypes[4] = {TEXTOID, INT8OID, BOOLOID, BOOLOID};
	Oid			fn;

	fn = LookupFuncName(list_make2(makeString(pstrdup(schema)),
								   makeString(pstrdup("apply_migrations"))),
						4, argtypes, false);
	if (sm_proc_aclcheck(fn, GetUserId(), ACL_EXECUTE) != ACLCHECK_OK)
		aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_FUNCTION, "apply_migrations");
}

/*
 * apply_repeatables
 *		The steps of the pending repeatable migrations (of the component, or
 *		of all): each one apply_migrations() that applies only it (see
 *		mig_step_repeatable), then a commit.  Returns how many were applied.
 */
static int
apply_repeatables(MigCall *c, const char *query, const char *component,
				  bool allow_out_of_order)
{
	char	   *last_component = NULL;
	char	   *last_name = NULL;
	int			applied = 0;

	for (;;)
	{
		char	   *next_component;
		char	   *next_name;

		CHECK_FOR_INTERRUPTS();
		mig_enter_internal(c);
		if (!mig_first_pending_repeatable(c, component, &next_component,
										  &next_name))
		{
			mig_leave_internal(c);
			break;
		}
		mig_leave_internal(c);

		/* as for versions: found again means registered again meanwhile */
		if (last_component != NULL &&
			strcmp(last_component, next_component) == 0 &&
			strcmp(last_name, next_name) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("%s is still pending after a step that applied it",
							mig_subject(MIG_RUN_REPEAT, next_component, 0,
										next_name)),
					 errdetail("It was registered again while it was being applied."),
					 errhint("Call the procedure again.")));
		if (last_component != NULL)
		{
			pfree(last_component);
			pfree(last_name);
		}
		last_component = next_component;
		last_name = next_name;

		applied += apply_one(query, last_component, PG_INT64_MAX,
							 allow_out_of_order, last_name);
		SPI_commit();
	}
	return applied;
}

/* ----------------------------------------------------------------
 * CALL apply_migrations_stepwise(component text, target_version bigint,
 *								  allow_out_of_order boolean,
 *								  INOUT applied integer)
 * ----------------------------------------------------------------
 */
Datum
sm_apply_migrations_stepwise(PG_FUNCTION_ARGS)
{
	char	   *component = NULL;
	int64		target = PG_INT64_MAX;
	bool		allow_out_of_order = !PG_ARGISNULL(2) && PG_GETARG_BOOL(2);
	bool		atomic = true;
	MigCall		c;
	char	   *query;
	char	   *last_component = NULL;
	MemoryContext stepcxt;
	int64		last_version = 0;
	int			applied = 0;
	TupleDesc	tupdesc;
	Datum		result;
	bool		isnull = false;

	if (fcinfo->context != NULL && IsA(fcinfo->context, CallContext))
		atomic = castNode(CallContext, fcinfo->context)->atomic;
	if (atomic)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TRANSACTION_TERMINATION),
				 errmsg("cannot apply migrations one transaction at a time inside a transaction block"),
				 errdetail("The procedure commits after each migration, which it can only do when CALLed outside a transaction block, a function and a migration."),
				 errhint("CALL it on its own, or use apply_migrations() to apply everything in the current transaction.")));
	if (!PG_ARGISNULL(0))
		component = mig_arg_component(fcinfo, 0);
	if (!PG_ARGISNULL(1))
		target = mig_arg_version(fcinfo, 1, "target version");

	if (SPI_connect_ext(SPI_OPT_NONATOMIC) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	mig_call_init(&c, fcinfo, false);
	query = psprintf("SELECT pg_catalog.count(*) "
					 "FROM %s.apply_migrations($1, $2, $3) a "
					 "WHERE a.outcome OPERATOR(pg_catalog.=) 'applied'",
					 c.schema);

	/*
	 * What one step allocates goes into a context reset before the next, so
	 * that memory grows little with the chain (SPI keeps about 20 bytes a
	 * step in its procedure context: 400 kB for 20,000).  SPI returns into
	 * its procedure context (which outlives the commits): the step context
	 * is made current again before each part of a step, and the one string
	 * read there, the migration found, is kept or freed by hand.
	 */
	stepcxt = AllocSetContextCreate(CurrentMemoryContext,
									"apply_migrations_stepwise step",
									ALLOCSET_SMALL_SIZES);
	for (;;)
	{
		char	   *next_component;
		int64		next_version;
		MemoryContext proccxt;

		CHECK_FOR_INTERRUPTS();
		MemoryContextReset(stepcxt);
		proccxt = MemoryContextSwitchTo(stepcxt);

		/*
		 * Read as the extension's owner.  Components go in byte order, as
		 * apply_migrations() takes them; the one being applied is kept
		 * while it has pending migrations, so the search over every
		 * pending row happens once per component, not once per step.
		 */
		mig_enter_internal(&c);
		if (!(component == NULL && last_component != NULL &&
			  mig_first_pending(&c, last_component, target, &next_component,
								&next_version)) &&
			!mig_first_pending(&c, component, target, &next_component,
							   &next_version))
		{
			mig_leave_internal(&c);
			MemoryContextSwitchTo(proccxt);
			break;
		}
		mig_leave_internal(&c);
		MemoryContextSwitchTo(proccxt);

		/*
		 * apply_migrations() applies or marks the migration found, or finds
		 * that a concurrent caller did: either way it is not pending when
		 * this step commits.  Finding it again means it was registered anew
		 * meanwhile; a bound on that keeps the loop from spinning.
		 */
		if (last_component != NULL &&
			strcmp(last_component, next_component) == 0 &&
			last_version == next_version)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("migration \"%s\" version " INT64_FORMAT " is still pending after a step that applied it",
							next_component, next_version),
					 errdetail("It was registered again while it was being applied."),
					 errhint("Call the procedure again.")));
		if (last_component != NULL && strcmp(last_component, next_component) == 0)
			pfree(next_component);
		else
		{
			if (last_component != NULL)
				pfree(last_component);
			last_component = next_component;
		}
		last_version = next_version;

		MemoryContextSwitchTo(stepcxt);
		if (mig_pending_notx(&c, last_component, last_version))
		{
			require_apply_privilege(c.schema);
			MemoryContextSwitchTo(proccxt);
			SPI_commit();
			MemoryContextSwitchTo(stepcxt);
			applied += mig_apply_notx(&c, last_component, last_version,
									  allow_out_of_order);
		}
		else
			applied += apply_one(query, last_component, last_version,
								 allow_out_of_order, NULL);
		MemoryContextSwitchTo(proccxt);
		SPI_commit();
	}
	if (c.owners && PG_ARGISNULL(1))
		applied += apply_repeatables(&c, query, component, allow_out_of_order);
	SPI_finish();

	if (applied == 0)
		mig_notice_nothing_pending(component);

	/* the INOUT argument: how many migrations this call applied */
	tupdesc = CreateTemplateTupleDesc(1);
	TupleDescInitEntry(tupdesc, (AttrNumber) 1, "applied", INT4OID, -1, 0);
	tupdesc = BlessTupleDesc(tupdesc);
	result = Int32GetDatum(applied);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, &result, &isnull)));
}
