/*-------------------------------------------------------------------------
 *
 * migrate_owner.c
 *	  Who may write into a component, who vouches for a migration's SQL:
 *	  component owners, registrants known by oid, and approvals.
 *
 * A component belongs to the role that first registered (or baselined)
 * into it.  Roles with the privileges of the owner, and the extension's
 * owner, may write into it; to share a component, make a group role its
 * owner (set_component_owner) and grant that role to the writers, as
 * PostgreSQL does for the owners of objects.  Within a component, a
 * migration's SQL or description may only be changed by a role with the
 * privileges of the role that registered it.
 *
 * Roles are stored by oid and by name, and a stored role counts only while
 * both still match (mig_role_if_same): a dropped role whose name is taken
 * again, or a registry restored into another cluster, does not make a new
 * role the owner or the registrant.
 *
 * Applying runs a migration's SQL with the caller's privileges, so it
 * requires that someone with those privileges vouches for it: the
 * registrant, or a role that approved exactly this SQL, by checksum, with
 * approve_migration (mig_check_registrant, for versions, repeatable
 * migrations and undo SQL alike).  An approval that holds is replaced only
 * by a role with the privileges of its approver (approval_changes), and
 * each approval is a row of the history log.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"

#include "schema_mgr.h"
#include "migrate.h"

PG_FUNCTION_INFO_V1(sm_set_component_owner);
PG_FUNCTION_INFO_V1(sm_approve_migration);
PG_FUNCTION_INFO_V1(sm_approve_repeatable);

/* The approval a registry row holds, as read under the component's lock */
typedef struct HeldApproval
{
	bool		holds;			/* it approves the SQL registered now */
	Oid			approver;
	char	   *approved_by;
	char	   *approved_at;
	char	   *undo_checksum;	/* the undo SQL's, when it approves that too */
} HeldApproval;

static void check_approved_checksum(const char *subject, const char *what,
									const char *registered,
									const char *given);
static void read_held_approval(HeapTuple tup, TupleDesc desc, int first,
							   bool with_undo, HeldApproval *held);
static bool approval_changes(MigCall *c, const char *subject,
							 const HeldApproval *held,
							 const char *undo_checksum);
static Datum approval_result(MigCall *c, bool changed);

/*
 * mig_role_if_same
 *		The role with this oid, if it still has this name; else InvalidOid.
 */
Oid
mig_role_if_same(Oid roleid, const char *name)
{
	char	   *actual;

	if (!OidIsValid(roleid) || name == NULL)
		return InvalidOid;
	actual = GetUserNameFromId(roleid, true);
	if (actual == NULL || strcmp(actual, name) != 0)
		return InvalidOid;
	return roleid;
}

/*
 * Read the component's owner (creating the component, owned by the caller,
 * when create is true and it does not exist yet).  Returns false when the
 * component does not exist.
 */
static bool
component_owner(MigCall *c, const char *component, bool create,
				Oid *owner, char **owner_name)
{
	Datum		values[3];
	bool		found;

	mig_enter_internal(c);
	values[0] = CStringGetTextDatum(component);
	values[1] = ObjectIdGetDatum(c->caller_id);
	values[2] = CStringGetTextDatum(c->caller);
	if (create)
		mig_run_plan(c, P_COMPONENT_CREATE, values, NULL);
	mig_run_plan(c, P_COMPONENT_OWNER, values, NULL);
	found = SPI_processed > 0;
	if (found)
	{
		bool		isnull;

		*owner = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0],
												SPI_tuptable->tupdesc, 1,
												&isnull));
		*owner_name = mig_datum_text(SPI_tuptable->vals[0],
									 SPI_tuptable->tupdesc, 2);
	}
	mig_leave_internal(c);
	return found;
}

/*
 * Whether the caller has the privileges of role (InvalidOid: a role that
 * no longer exists, whom nobody speaks for) or of the extension's owner:
 * who may write into a component, and who may replace an approval.
 */
static bool
caller_speaks_for(MigCall *c, Oid role)
{
	return (OidIsValid(role) && has_privs_of_role(c->caller_id, role)) ||
		has_privs_of_role(c->caller_id, c->owner);
}

/*
 * mig_check_component_writer
 *		Refuse, unless the caller may write into the component; a component
 *		that does not exist yet is created, owned by the caller.  Call with
 *		the component's lock held, outside mig_enter_internal().
 */
void
mig_check_component_writer(MigCall *c, const char *component)
{
	Oid			stored;
	char	   *owner_name;
	Oid			owner;

	if (!c->owners)
		return;
	(void) component_owner(c, component, true, &stored, &owner_name);
	owner = mig_role_if_same(stored, owner_name);
	if (caller_speaks_for(c, owner))
		return;
	if (!OidIsValid(owner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("migration component \"%s\" belongs to role \"%s\", which no longer exists",
						component, owner_name),
				 errdetail("A role of that name created since is not taken for the owner; only the extension's owner may write into the component now."),
				 errhint("The extension's owner can give the component a new owner with set_component_owner().")));
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied for migration component \"%s\"", component),
			 errdetail("The component belongs to role \"%s\", whose privileges role \"%s\" does not have.",
					   owner_name, c->caller),
			 errhint("To share a component, its owner makes a group role the owner with set_component_owner() and grants that role to the other writers.")));
}

/*
 * mig_check_replace
 *		Refuse to change (what: "replace" the SQL of, "rename") a registered
 *		migration, unless the caller has the privileges of the role that
 *		registered it, or that role no longer exists.
 */
void
mig_check_replace(MigCall *c, const char *subject, Oid registrant,
				  const char *registered_by, const char *what)
{
	Oid			role;

	if (!c->owners)
		return;
	role = mig_role_if_same(registrant, registered_by);
	if (!OidIsValid(role) || has_privs_of_role(c->caller_id, role))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("cannot %s %s, which role \"%s\" registered",
					what, subject, registered_by),
			 errdetail("Only role \"%s\" and roles with its privileges may change the migrations it registered.",
					   registered_by),
			 errhint("Register the change under a new version or name, or have role \"%s\" make it.",
					 registered_by)));
}

/*
 * Whether the registrant or the approver (InvalidOid when unknown) has the
 * privileges of role.
 */
static bool
vouches_as(Oid registrant, Oid approver, Oid role)
{
	return (OidIsValid(registrant) && has_privs_of_role(registrant, role)) ||
		(OidIsValid(approver) && has_privs_of_role(approver, role));
}

/*
 * mig_check_registrant
 *		Refuse to run SQL registered by a role that does not have the
 *		privileges of the caller: a role allowed to register migrations must
 *		not get its SQL run with the rights of whoever applies them next (a
 *		superuser, typically).
 *
 *		SET ROLE and RESET ROLE reach every role the session user is a member
 *		of, and SET SESSION AUTHORIZATION, in a session a superuser logged in
 *		to, every role.  So when neither the registrant nor the approver has
 *		the privileges of the session user (a superuser session that did SET
 *		ROLE to apply an application's migrations) or of the role the
 *		session logged in as (one that did SET SESSION AUTHORIZATION), the
 *		SQL runs "confined": in a local user id context, where changing
 *		role or session authorization is refused.  p->confined_from is the
 *		role it could have reached.
 */
void
mig_check_registrant(MigCall *c, Pending *p)
{
	Oid			registrant;
	Oid			approver;
	Oid			session = GetSessionUserId();
	Oid			login = GetAuthenticatedUserId();
	const char *hint;

	if (c->owners)
		registrant = mig_role_if_same(p->registrant, p->registered_by);
	else
		registrant = get_role_oid(p->registered_by, true);
	approver = mig_role_if_same(p->approver, p->approved_by);

	/* who wrote it may read it, and so may who may read any migration */
	p->show_sql = c->read_all_sql ||
		(OidIsValid(registrant) && has_privs_of_role(c->caller_id, registrant));

	if (vouches_as(registrant, approver, c->caller_id))
	{
		p->confined_from = !vouches_as(registrant, approver, session) ? session :
			!vouches_as(registrant, approver, login) ? login : InvalidOid;
		return;
	}
	if (p->kind == MIG_RUN_REPEAT)
		hint = _("Review its SQL and checksum with migration_sql(), approve that checksum with approve_repeatable(), and apply again.");
	else if (p->kind == MIG_RUN_UNDO)
		hint = _("Review its SQL and undo SQL with migration_sql(), approve both checksums with approve_migration(component, version, checksum, undo_checksum), and revert again.");
	else
		hint = _("Review its SQL and checksum with migration_sql(), approve that checksum with approve_migration(), and apply again.");
	if (!OidIsValid(registrant))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("%s was registered by role \"%s\", which no longer exists",
						p->subject, p->registered_by),
				 errdetail("A role of that name created since is not taken for the registrant, so no role vouches for its SQL."),
				 c->owners ?
				 errhint("%s", hint) :
				 errhint("Register it again as an existing role.")));
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("%s was registered by role \"%s\", which does not have the privileges of role \"%s\"",
					p->subject, p->registered_by, c->caller),
			 p->kind == MIG_RUN_UNDO ?
			 errdetail("Reverting it would run SQL written by role \"%s\" with the privileges of role \"%s\".",
					   p->registered_by, c->caller) :
			 errdetail("Applying it would run SQL written by role \"%s\" with the privileges of role \"%s\".",
					   p->registered_by, c->caller),
			 c->owners ?
			 errhint("%s", hint) :
			 errhint("Review its SQL, then apply it as role \"%s\" (SET ROLE).",
					 p->registered_by)));
}

/* ----------------------------------------------------------------
 * set_component_owner(component text, new_owner regrole) returns void
 *
 * Allowed to roles with the privileges of the current owner that are
 * members of the new owner (as ALTER ... OWNER TO), and to the extension's
 * owner (who can also take over a component whose owner was dropped).
 * ----------------------------------------------------------------
 */
Datum
sm_set_component_owner(PG_FUNCTION_ARGS)
{
	char	   *component = mig_arg_component(fcinfo, 0);
	Oid			new_owner;
	char	   *new_name;
	Oid			stored;
	char	   *owner_name;
	Oid			owner;
	MigCall		c;
	Datum		values[3];

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("new owner of a migration component must not be null"),
				 errdetail("A component always has an owner: the role whose members may register into it."),
				 errhint("Pass a role, such as a group role granted to every role that registers.")));
	new_owner = PG_GETARG_OID(1);
	new_name = GetUserNameFromId(new_owner, false);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	mig_call_init(&c, fcinfo, false);
	mig_lock_component(&c, component);
	if (!component_owner(&c, component, false, &stored, &owner_name))
		mig_unknown_component(component);
	owner = mig_role_if_same(stored, owner_name);

	if (!has_privs_of_role(c.caller_id, c.owner) &&
		!(OidIsValid(owner) && has_privs_of_role(c.caller_id, owner) &&
		  is_member_of_role(c.caller_id, new_owner)))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to give migration component \"%s\" to role \"%s\"",
						component, new_name),
				 errdetail("Changing the owner takes the privileges of the current owner (role \"%s\") and membership in the new one.",
						   owner_name)));

	mig_enter_internal(&c);
	values[0] = CStringGetTextDatum(component);
	values[1] = ObjectIdGetDatum(new_owner);
	values[2] = CStringGetTextDatum(new_name);
	mig_run_plan(&c, P_COMPONENT_SET_OWNER, values, NULL);
	mig_leave_internal(&c);
	SPI_finish();
	PG_RETURN_VOID();
}

/* ----------------------------------------------------------------
 * approve_migration(component text, version bigint, checksum text
 *					 [, undo_checksum text]) returns text
 *
 * The caller vouches for the registered SQL whose checksum it gives (the
 * one it reviewed): roles whose privileges the caller has may then apply
 * it, whoever registered it.  With undo_checksum, it vouches for the undo
 * SQL of that checksum too, so that they may revert it; that form also
 * approves applied migrations (whose undo may still run).  Registering
 * other SQL or undo SQL under the version voids the approval.  Returns
 * "approved", or "unchanged" when the caller had approved the same already.
 * ----------------------------------------------------------------
 */

/* refuse an approval of SQL (what: "SQL", "undo SQL") not as reviewed */
static void
check_approved_checksum(const char *subject, const char *what,
						const char *registered, const char *given)
{
	if (registered == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("%s has no %s to approve", subject, what),
				 errhint("Register its undo SQL with register_migration(..., undo => ...) first.")));
	if (strcmp(registered, given) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("checksum does not match the %s registered as %s",
						what, subject),
				 errdetail("The registered %s has checksum %s; the %s that was reviewed is not what would run.",
						   what, registered, what),
				 errhint("Review the registered SQL with migration_sql(), then approve its checksum.")));
}

/*
 * Read the approval held from the columns first .. first + 3 (approval
 * holds, approver, approved_by, approved_at) and, with_undo, first + 4
 * (the undo checksum it approves, if it holds for the current undo SQL).
 */
static void
read_held_approval(HeapTuple tup, TupleDesc desc, int first, bool with_undo,
				   HeldApproval *held)
{
	bool		isnull;
	Datum		d;

	d = SPI_getbinval(tup, desc, first, &isnull);
	held->holds = !isnull && DatumGetBool(d);
	d = SPI_getbinval(tup, desc, first + 1, &isnull);
	held->approver = isnull ? InvalidOid : DatumGetObjectId(d);
	held->approved_by = mig_datum_text(tup, desc, first + 2);
	held->approved_at = mig_datum_text(tup, desc, first + 3);
	held->undo_checksum = with_undo ? mig_datum_text(tup, desc, first + 4) : NULL;
}

/*
 * approval_changes
 *		Whether the caller's approval (of the undo SQL of undo_checksum too,
 *		unless NULL) would change the approval held; false when the caller
 *		holds that very approval already.
 *
 *		An approval lets the roles whose privileges its approver has apply
 *		the SQL, so replacing it changes who may.  An approval that holds
 *		for the current SQL, by a role that still exists, is replaced only
 *		by its approver, a role with the approver's privileges (who may
 *		apply all the approver could let apply) and the extension's owner,
 *		the roles that may write into a component it owned
 *		(caller_speaks_for); anyone else is refused.  An approval
 *		void since (other SQL registered), or by a role dropped since,
 *		vouches for nothing, and anyone allowed to approve may replace it.
 */
static bool
approval_changes(MigCall *c, const char *subject, const HeldApproval *held,
				 const char *undo_checksum)
{
	Oid			approver;
	bool		same_undo;

	if (!held->holds)
		return true;
	approver = mig_role_if_same(held->approver, held->approved_by);
	if (!OidIsValid(approver))
		return true;
	same_undo = held->undo_checksum == NULL ? undo_checksum == NULL :
		(undo_checksum != NULL && strcmp(held->undo_checksum, undo_checksum) == 0);
	if (approver == c->caller_id && same_undo)
		return false;
	if (caller_speaks_for(c, approver))
		return true;
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied to replace the approval of %s by role \"%s\"",
					subject, held->approved_by),
			 held->undo_checksum != NULL ?
			 errdetail("Role \"%s\" approved its SQL and undo SQL at %s; replacing the approval takes the privileges of role \"%s\", which role \"%s\" does not have.",
					   held->approved_by,
					   held->approved_at ? held->approved_at : "an unrecorded time",
					   held->approved_by, c->caller) :
			 errdetail("Role \"%s\" approved its SQL at %s; replacing the approval takes the privileges of role \"%s\", which role \"%s\" does not have.",
					   held->approved_by,
					   held->approved_at ? held->approved_at : "an unrecorded time",
					   held->approved_by, c->caller),
			 errhint("Roles whose privileges role \"%s\" has may apply it under that approval; to let other roles apply it, have role \"%s\", a role with its privileges or the extension's owner approve it.",
					 held->approved_by, held->approved_by)));
	return false;				/* keep the compiler quiet */
}

/* end an approval call: "approved", or "unchanged" when nothing changed */
static Datum
approval_result(MigCall *c, bool changed)
{
	mig_leave_internal(c);
	SPI_finish();
	return PointerGetDatum(cstring_to_text(changed ? "approved" : "unchanged"));
}

Datum
sm_approve_migration(PG_FUNCTION_ARGS)
{
	char	   *component = mig_arg_component(fcinfo, 0);
	int64		version = mig_arg_version(fcinfo, 1, "migration version");
	char	   *checksum;
	char	   *undo_checksum = NULL;
	char	   *registered;
	char	   *registered_undo;
	char	   *subject = mig_subject(MIG_RUN_APPLY, component, version, NULL);
	bool		applied;
	bool		isnull;
	HeldApproval held;
	MigCall		c;
	Datum		values[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', 'n'};

	checksum = mig_arg_text(fcinfo, 2, "checksum to approve");
	if (PG_NARGS() > 3)
		undo_checksum = mig_arg_text(fcinfo, 3, "undo checksum to approve");

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* the approval held is read under the lock, and must be current */
	mig_require_writer_transaction("approve migrations", "An approval",
								   "Approve migrations");
	mig_call_init(&c, fcinfo, false);
	mig_lock_component(&c, component);

	mig_enter_internal(&c);
	values[0] = CStringGetTextDatum(component);
	values[1] = Int64GetDatum(version);
	mig_run_plan(&c, P_APPROVE_LOOKUP, values, NULL);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("migration \"%s\" version " INT64_FORMAT " is not registered",
						component, version)));
	registered = mig_datum_text(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	applied = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0],
										 SPI_tuptable->tupdesc, 2, &isnull));
	registered_undo = mig_datum_text(SPI_tuptable->vals[0],
									 SPI_tuptable->tupdesc, 3);
	read_held_approval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4, true,
					   &held);
	if (applied && undo_checksum == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("migration \"%s\" version " INT64_FORMAT " has already been applied",
						component, version),
				 errdetail("An approval lets a role apply a pending migration."),
				 errhint("To let roles revert it, approve its undo SQL too: approve_migration(component, version, checksum, undo_checksum).")));
	check_approved_checksum(subject, "SQL", registered, checksum);
	if (undo_checksum != NULL)
	{
		check_approved_checksum(subject, "undo SQL", registered_undo,
								undo_checksum);
		values[5] = CStringGetTextDatum(undo_checksum);
		nulls[5] = ' ';
	}
	if (!approval_changes(&c, subject, &held, undo_checksum))
		return approval_result(&c, false);
	values[2] = CStringGetTextDatum(checksum);
	values[3] = ObjectIdGetDatum(c.caller_id);
	values[4] = CStringGetTextDatum(c.caller);
	mig_run_plan(&c, P_APPROVE, values, nulls);
	return approval_result(&c, true);
}

/* ----------------------------------------------------------------
 * approve_repeatable(component text, name text, checksum text) returns text
 *
 * approve_migration for a repeatable migration: the caller vouches for the
 * SQL of that checksum, so that roles whose privileges it has may apply
 * it.  Registering other SQL under the name voids the approval.  Returns
 * as approve_migration does.
 * ----------------------------------------------------------------
 */
Datum
sm_approve_repeatable(PG_FUNCTION_ARGS)
{
	char	   *component = mig_arg_component(fcinfo, 0);
	char	   *name = mig_arg_text(fcinfo, 1, "repeatable migration name");
	char	   *checksum = mig_arg_text(fcinfo, 2, "checksum to approve");
	char	   *subject;
	HeldApproval held;
	MigCall		c;
	Datum		values[5];

	if (strlen(name) > MIG_REPEATABLE_NAME_BYTES)
		name = sm_clip(name, MIG_REPEATABLE_NAME_BYTES);
	subject = mig_subject(MIG_RUN_REPEAT, component, 0, name);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* the approval held is read under the lock, and must be current */
	mig_require_writer_transaction("approve migrations", "An approval",
								   "Approve migrations");
	mig_call_init(&c, fcinfo, false);
	mig_lock_component(&c, component);

	mig_enter_internal(&c);
	values[0] = CStringGetTextDatum(component);
	values[1] = CStringGetTextDatum(name);
	mig_run_plan(&c, P_REP_LOOKUP, values, NULL);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("%s is not registered", subject)));
	read_held_approval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4, false,
					   &held);
	check_approved_checksum(subject, "SQL",
							mig_datum_text(SPI_tuptable->vals[0],
										   SPI_tuptable->tupdesc, 1),
							checksum);
	if (!approval_changes(&c, subject, &held, NULL))
		return approval_result(&c, false);
	values[2] = CStringGetTextDatum(checksum);
	values[3] = ObjectIdGetDatum(c.caller_id);
	values[4] = CStringGetTextDatum(c.caller);
	mig_run_plan(&c, P_REP_APPROVE, values, NULL);
	return approval_result(&c, true);
}
