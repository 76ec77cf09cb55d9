--
-- Components have owners; registrants are roles, known by oid; a
-- privileged role applies a less privileged role's migration only after
-- approving its exact SQL; an approval that holds is replaced only by a
-- role with its approver's privileges, and every approval is logged.
--
-- run as a superuser of the test's own, so that the roles it shows are the
-- same whatever the cluster's bootstrap superuser is called
CREATE ROLE sm_admin SUPERUSER;
SET SESSION AUTHORIZATION sm_admin;
CREATE EXTENSION schema_mgr;
CREATE ROLE sm_alice;
CREATE ROLE sm_bob;
CREATE ROLE sm_team;
CREATE SCHEMA shop AUTHORIZATION sm_team;
GRANT EXECUTE ON FUNCTION register_migration(text, bigint, text, text),
    apply_migrations(text, bigint, boolean, boolean),
    set_component_owner(text, regrole) TO sm_alice, sm_bob;

-- a component belongs to the role that registers into it first
SET ROLE sm_alice;
SELECT register_migration('shop', 1, 'create items', 'CREATE TABLE shop.items (id int)');
RESET ROLE;
SELECT component, owner_name, owner = 'sm_alice'::regrole AS by_oid FROM component;
SELECT component, version, registered_by, registrant = 'sm_alice'::regrole AS by_oid
FROM migration;
-- nobody else may write into it: neither add, nor replace, nor rename
SET ROLE sm_bob;
SELECT register_migration('shop', 2, 'add price', 'ALTER TABLE shop.items ADD price int');
SELECT register_migration('shop', 1, 'create items', 'DROP SCHEMA shop CASCADE');
SELECT register_migration('shop', 1, 'renamed', 'CREATE TABLE shop.items (id int)');
-- not even the identical migration again
SELECT register_migration('shop', 1, 'create items', 'CREATE TABLE shop.items (id int)');
-- nor give the component away
SELECT set_component_owner('shop', 'sm_bob');
RESET ROLE;
-- nor baseline it
GRANT EXECUTE ON FUNCTION baseline(text, bigint) TO sm_bob;
SET ROLE sm_bob;
SELECT * FROM baseline('shop', 1);
RESET ROLE;
REVOKE EXECUTE ON FUNCTION baseline(text, bigint) FROM sm_bob;

-- the grant: the owner hands the component to a group role; its members
-- may write into it (as members may act as the owner of any object)
GRANT sm_team TO sm_alice, sm_bob;
GRANT EXECUTE ON FUNCTION apply_migrations(text, bigint, boolean, boolean) TO sm_team;
SET ROLE sm_alice;
SELECT set_component_owner('shop', 'sm_team');
RESET ROLE;
SET ROLE sm_bob;
SELECT register_migration('shop', 2, 'add price', 'ALTER TABLE shop.items ADD price int');
SELECT register_migration('shop', 2, 'add price', 'ALTER TABLE shop.items ADD price numeric');
-- ... but a member may not replace SQL another role registered
SELECT register_migration('shop', 1, 'create items', 'CREATE TABLE shop.items (id bigint)');
RESET ROLE;
SET ROLE sm_alice;
SELECT register_migration('shop', 1, 'create items', 'CREATE TABLE shop.items (id bigint)');
-- alice may not run bob's SQL with her privileges
SELECT component, version, outcome FROM apply_migrations('shop');
RESET ROLE;
-- the group role has the privileges of both registrants
SET ROLE sm_team;
SELECT component, version, outcome FROM apply_migrations('shop');
RESET ROLE;

-- a registrant that no longer exists is not taken for a new role of the
-- same name
SET ROLE sm_bob;
SELECT register_migration('shop', 3, 'add stock', 'ALTER TABLE shop.items ADD stock int');
RESET ROLE;
DROP OWNED BY sm_bob;
DROP ROLE sm_bob;
CREATE ROLE sm_bob;
GRANT sm_team TO sm_bob;
SET ROLE sm_bob;
SELECT component, version, outcome FROM apply_migrations('shop');
RESET ROLE;

-- the hand-off: a superuser applies only what it approved, by checksum
SELECT component, version, outcome FROM apply_migrations('shop');
SELECT component, version, registered_by, sql FROM migration_sql('shop')
WHERE version = 3;
SELECT approve_migration('shop', 3, 'not the checksum');
SELECT approve_migration('shop', 3, migration_checksum('ALTER TABLE shop.items ADD stock int'));
SELECT component, version, approved_by FROM migration_sql('shop') WHERE version = 3;
-- an approval holds for exactly that SQL: replaced, it is void
SET ROLE sm_alice;
SELECT register_migration('shop', 4, 'add note', 'ALTER TABLE shop.items ADD note text');
RESET ROLE;
SELECT approve_migration('shop', 4, migration_checksum('ALTER TABLE shop.items ADD note text'));
SET ROLE sm_alice;
SELECT register_migration('shop', 4, 'add note', 'ALTER TABLE shop.items ADD note varchar');
RESET ROLE;
SELECT component, version, outcome FROM apply_migrations('shop');
SELECT approve_migration('shop', 4, migration_checksum('ALTER TABLE shop.items ADD note varchar'));
SELECT component, version, outcome FROM apply_migrations('shop');
SELECT approve_migration('shop', 4, migration_checksum('ALTER TABLE shop.items ADD note varchar'));
SELECT approve_migration('shop', 99, 'x');
SELECT column_name FROM information_schema.columns
WHERE table_schema = 'shop' AND table_name = 'items' ORDER BY ordinal_position;

-- an approval that holds is not replaced behind its approver's back: the
-- approver, roles with its privileges and the extension's owner may
-- approve again; anyone else is refused, told who approved it and when
CREATE ROLE sm_lead;
CREATE ROLE sm_reviewer;
GRANT sm_reviewer TO sm_lead;
GRANT EXECUTE ON FUNCTION migration_sql(text),
    approve_migration(text, bigint, text),
    approve_repeatable(text, text, text) TO sm_lead, sm_reviewer;
-- the detail says when: the time is masked
CREATE FUNCTION pg_temp.refused(sql text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    st text; msg text; det text; hnt text;
BEGIN
    EXECUTE sql;
    RAISE NOTICE 'not refused';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
        det = PG_EXCEPTION_DETAIL, hnt = PG_EXCEPTION_HINT;
    RAISE NOTICE E'SQLSTATE %: %\nDETAIL: %\nHINT: %', st, msg,
        regexp_replace(det, ' at [^;]*;', ' at (time);'), hnt;
END
$$;
SET ROLE sm_alice;
SELECT register_migration('shop', 5, 'add sku', 'ALTER TABLE shop.items ADD sku text');
SELECT register_migration('shop', NULL, 'sku view', 'CREATE VIEW shop.skus AS SELECT sku FROM shop.items');
RESET ROLE;
SET ROLE sm_lead;
SELECT approve_migration('shop', 5, checksum) FROM migration_sql('shop') WHERE version = 5;
SELECT approve_repeatable('shop', 'sku view', checksum) FROM migration_sql('shop')
WHERE description = 'sku view';
-- the same approval again changes nothing
SELECT approve_migration('shop', 5, checksum) FROM migration_sql('shop') WHERE version = 5;
RESET ROLE;
-- sm_reviewer lacks sm_lead's privileges: taking over the approval would
-- change who may apply the SQL
SET ROLE sm_reviewer;
SELECT pg_temp.refused($$SELECT approve_migration('shop', 5, checksum)
                         FROM migration_sql('shop') WHERE version = 5$$);
SELECT pg_temp.refused($$SELECT approve_repeatable('shop', 'sku view', checksum)
                         FROM migration_sql('shop') WHERE description = 'sku view'$$);
RESET ROLE;
SELECT version, description, approved_by FROM migration_sql('shop')
WHERE version = 5 OR description = 'sku view';
-- the extension's owner may; its approval replaces the lead's
SELECT approve_migration('shop', 5, checksum) FROM migration_sql('shop') WHERE version = 5;
SELECT version, approved_by FROM migration_sql('shop') WHERE version = 5;
-- an approval void since (other SQL registered) is no longer held
SET ROLE sm_alice;
SELECT register_migration('shop', NULL, 'sku view', 'CREATE VIEW shop.skus AS SELECT id, sku FROM shop.items');
RESET ROLE;
SET ROLE sm_reviewer;
SELECT approve_repeatable('shop', 'sku view', checksum) FROM migration_sql('shop')
WHERE description = 'sku view';
RESET ROLE;
-- every approval is in the history log: who approved which checksum, when
SELECT version, name, action, performed_by, left(checksum, 12) AS checksum,
       undo_checksum, performed_at IS NOT NULL AS dated
FROM migration_history WHERE component = 'shop' AND action = 'approve'
ORDER BY id;
-- approvals are not applies: the status and the current version stay
SELECT version, description, status FROM migration_status('shop') WHERE status <> 'applied';
SELECT current_version('shop');
-- an approval decides on the approval it reads under the component's lock,
-- which a snapshot taken before the wait would not show
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT approve_migration('shop', 5, checksum) FROM migration_sql('shop') WHERE version = 5;
ROLLBACK;
BEGIN ISOLATION LEVEL SERIALIZABLE;
SELECT approve_repeatable('shop', 'sku view', checksum) FROM migration_sql('shop')
WHERE description = 'sku view';
ROLLBACK;
DROP FUNCTION pg_temp.refused(text);

-- reading migration SQL and approving are privileges of their own
SET ROLE sm_alice;
SELECT count(*) FROM migration_sql('shop');
SELECT approve_migration('shop', 1, 'x');
RESET ROLE;
-- a superuser may give any component a new owner
SELECT set_component_owner('shop', 'sm_alice');
SELECT component, owner_name FROM component;

SET schema_mgr.allow_drop = on;
DROP EXTENSION schema_mgr;
RESET schema_mgr.allow_drop;
DROP SCHEMA shop CASCADE;
DROP ROLE sm_alice, sm_bob, sm_team, sm_lead, sm_reviewer;
RESET SESSION AUTHORIZATION;
DROP ROLE sm_admin;
