--
-- Undo SQL and revert_migrations: newest first, in one transaction,
-- refused up front, recorded in the history; dry runs; who vouches for the
-- undo SQL.
--
-- run as a superuser of the test's own, so that the roles it shows are the
-- same whatever the cluster's bootstrap superuser is called
CREATE ROLE sm_admin SUPERUSER;
SET SESSION AUTHORIZATION sm_admin;
CREATE EXTENSION schema_mgr;

SELECT register_migration('shop', 1, 'orders', 'CREATE TABLE orders (id int)',
                          undo => 'DROP TABLE orders');
SELECT register_migration('shop', 2, 'add total', 'ALTER TABLE orders ADD total numeric',
                          'ALTER TABLE orders DROP total');
SELECT register_migration('shop', 3, 'add note', 'ALTER TABLE orders ADD note text');
SELECT component, version, outcome FROM apply_migrations('shop');
SELECT version, status, has_undo FROM migration_info('shop');

-- version 3 has no undo: nothing runs
SELECT * FROM revert_migrations('shop', 1);
-- an undo may be added to an applied migration (it has not run); the
-- four-argument form leaves it as it is; the SQL itself stays unchangeable
SELECT register_migration('shop', 3, 'add note', 'ALTER TABLE orders ADD note text',
                          undo => 'ALTER TABLE orders DROP note');
SELECT register_migration('shop', 3, 'add note', 'ALTER TABLE orders ADD note text');
SELECT register_migration('shop', 3, 'add note', 'ALTER TABLE orders ADD note text',
                          undo => 'ALTER TABLE orders DROP note');
SELECT register_migration('shop', 3, 'add note', 'ALTER TABLE orders ADD note varchar',
                          undo => 'ALTER TABLE orders DROP note');
SELECT version, has_undo FROM migration_info('shop');

-- undo SQL is checked as migration SQL is
SELECT register_migration('shop', 3, 'add note', 'ALTER TABLE orders ADD note text',
                          undo => 'VACUUM orders');
SELECT register_migration('shop', 3, 'add note', 'ALTER TABLE orders ADD note text',
                          undo => E'ALTER TABLE orders\nDROP COLUM note');
SELECT register_migration('shop', 3, 'add note', 'ALTER TABLE orders ADD note text',
                          undo => E'\\set x 1\nSELECT 1');

-- arguments
SELECT * FROM revert_migrations('shop', 4);
SELECT * FROM revert_migrations('shop', NULL);
SELECT * FROM revert_migrations('shop', -1);
SELECT * FROM revert_migrations('nobody', 0);
SELECT * FROM revert_migrations('shop', 3);
SELECT * FROM revert_migrations('shop', 0, dry_run => NULL);
-- messages name the component: a name too long to show is refused
SELECT * FROM revert_migrations(repeat('c', 201), 0);
SELECT register_migration(repeat('c', 201), 1, 'one', 'SELECT 1');

-- a dry run runs the undo SQL and rolls it back
SELECT component, version, description, outcome, error FROM revert_migrations('shop', 1, dry_run => true);
SELECT version, status FROM migration_status('shop');
SELECT column_name FROM information_schema.columns WHERE table_name = 'orders' ORDER BY 1;

-- an approval, logged after version 3 was applied, does not make
-- version 2 the last applied
SELECT approve_migration('shop', 2, checksum, undo_checksum) FROM migration_sql('shop')
WHERE version = 2;
SELECT h.version, h.action, h.performed_by, h.checksum = m.checksum AS sql,
       h.undo_checksum = m.undo_checksum AS undo
FROM migration_history h JOIN migration m USING (component, version)
WHERE h.action = 'approve';
-- newest first, recorded; the reverted versions are pending again
SELECT component, version, description, outcome FROM revert_migrations('shop', 1);
SELECT column_name FROM information_schema.columns WHERE table_name = 'orders' ORDER BY 1;
SELECT version, status FROM migration_status('shop');
SELECT current_version('shop');
SELECT version, action, description FROM migration_history WHERE component = 'shop' ORDER BY id;
-- and apply applies them again
SELECT component, version, outcome FROM apply_migrations('shop');
SELECT column_name FROM information_schema.columns WHERE table_name = 'orders' ORDER BY 1;

-- a failing undo names itself; nothing of the call stays
SELECT register_migration('shop', 4, 'add flag', 'ALTER TABLE orders ADD flag boolean',
                          undo => E'ALTER TABLE orders DROP flag;\nALTER TABLE orders DROP no_such_column');
SELECT component, version, outcome FROM apply_migrations('shop');
SELECT * FROM revert_migrations('shop', 2);
SELECT version, status FROM migration_status('shop');
SELECT component, version, outcome, error FROM revert_migrations('shop', 2, dry_run => true);
-- a dry run that fails halfway leaves nothing either: no history row, no
-- object, no prepared statement
SELECT register_migration('shop', 4, 'add flag', 'ALTER TABLE orders ADD flag boolean',
                          undo => E'ALTER TABLE orders DROP flag;\nCREATE TABLE left_behind (a int);\nPREPARE left_behind AS SELECT 1;\nSELECT 1 / 0');
SELECT count(*) AS history_rows FROM migration_history \gset
SELECT component, version, outcome, error FROM revert_migrations('shop', 2, dry_run => true);
SELECT count(*) - :history_rows AS new_history_rows FROM migration_history;
SELECT version FROM schema_version WHERE component = 'shop' ORDER BY 1;
SELECT to_regclass('left_behind') IS NULL AS no_table,
       NOT EXISTS (SELECT FROM pg_prepared_statements) AS no_statement,
       EXISTS (SELECT FROM information_schema.columns
               WHERE table_name = 'orders' AND column_name = 'flag') AS flag_kept;
SELECT register_migration('shop', 4, 'add flag', 'ALTER TABLE orders ADD flag boolean',
                          undo => 'ALTER TABLE orders DROP flag');

-- an undo leaves no settings and no temporary objects behind
SELECT register_migration('shop', 5, 'temp', 'SELECT 1',
                          undo => 'SET search_path = nowhere; CREATE TEMP TABLE left_behind (a int)');
SELECT component, version, outcome FROM apply_migrations('shop');
SELECT * FROM revert_migrations('shop', 4);
SELECT register_migration('shop', 5, 'temp', 'SELECT 1',
                          undo => 'SET search_path = nowhere');
SELECT component, version, outcome FROM revert_migrations('shop', 4);
SHOW search_path;
-- nor may it apply or revert from inside
SELECT register_migration('shop', 5, 'temp', 'SELECT 1',
                          undo => 'SELECT * FROM revert_migrations(''shop'', 0)');
SELECT component, version, outcome FROM apply_migrations('shop');
SELECT * FROM revert_migrations('shop', 4);

-- a baselined version cannot be reverted, nor below it
SELECT register_migration('legacy', 1, 'made by hand', 'CREATE TABLE legacy (id int)',
                          undo => 'DROP TABLE legacy');
SELECT * FROM baseline('legacy', 1);
SELECT * FROM revert_migrations('legacy', 0);
SELECT version, action FROM migration_history WHERE component = 'legacy' ORDER BY id;

-- who vouches for undo SQL: its registrant, or an approval of both checksums
CREATE ROLE sm_undo_deployer;
GRANT EXECUTE ON FUNCTION register_migration(text, bigint, text, text, text) TO sm_undo_deployer;
GRANT CREATE ON SCHEMA public TO sm_undo_deployer;
SET ROLE sm_undo_deployer;
SELECT register_migration('team', 1, 'team', 'CREATE TABLE public.team (id int)',
                          undo => 'DROP TABLE public.team');
RESET ROLE;
SELECT approve_migration('team', 1, checksum) FROM migration_sql('team');
SELECT component, version, outcome FROM apply_migrations('team');
SELECT approve_migration('team', 1, checksum) FROM migration_sql('team');
SELECT * FROM revert_migrations('team', 0);
SELECT approve_migration('team', 1, checksum, 'wrong') FROM migration_sql('team');
SELECT approve_migration('team', 1, checksum, undo_checksum) FROM migration_sql('team');
SELECT version, approved_by, undo_approved_by FROM migration_sql('team');
-- other undo SQL voids the approval
SET ROLE sm_undo_deployer;
SELECT register_migration('team', 1, 'team', 'CREATE TABLE public.team (id int)',
                          undo => 'DROP TABLE IF EXISTS public.team');
RESET ROLE;
SELECT version, approved_by, undo_approved_by FROM migration_sql('team');
SELECT * FROM revert_migrations('team', 0);
SELECT approve_migration('team', 1, checksum, undo_checksum) FROM migration_sql('team');
SELECT component, version, outcome FROM revert_migrations('team', 0);
-- removing the undo (undo => NULL) is a change too
SELECT register_migration('team', 1, 'team', 'CREATE TABLE public.team (id int)', NULL);
SELECT version, has_undo FROM migration_info('team');
SELECT approve_migration('team', 1, checksum, 'x') FROM migration_sql('team');
-- another role's change of the undo keeps the registrant: it vouches for
-- no SQL it did not write, and the deployer's migration stays the
-- deployer's to apply
SELECT version, registered_by, approved_by FROM migration_sql('team');
SELECT * FROM apply_migrations('team');
GRANT EXECUTE ON FUNCTION apply_migrations(text, bigint, boolean, boolean) TO sm_undo_deployer;
SET ROLE sm_undo_deployer;
SELECT component, version, outcome FROM apply_migrations('team');
RESET ROLE;
DROP TABLE public.team;

-- the last applied is reverted first: a version applied out of order,
-- after a higher one, may depend on it
SELECT register_migration('branch', 1, 'one', 'CREATE TABLE branch1 (a int)',
                          undo => 'DROP TABLE branch1');
SELECT register_migration('branch', 3, 'three', 'CREATE TABLE branch3 (a int)',
                          undo => 'DROP TABLE branch3');
SELECT component, version, outcome FROM apply_migrations('branch');
SELECT register_migration('branch', 2, 'two', 'CREATE VIEW branch2 AS SELECT a FROM branch3',
                          undo => 'DROP VIEW branch2');
SELECT component, version, outcome FROM apply_migrations('branch', allow_out_of_order => true);
SELECT component, version, outcome FROM revert_migrations('branch', 0);
SELECT version, action FROM migration_history WHERE component = 'branch' ORDER BY id;

-- the order is the order of the applies, not of the server's clock: a
-- clock stepped back between two applies (NTP, a restored VM) gives the
-- later one an earlier applied_at, which the update below stands in for
SELECT register_migration('clock', 1, 'one', 'CREATE TABLE clock1 (a int)',
                          undo => 'DROP TABLE clock1');
SELECT component, version, outcome FROM apply_migrations('clock');
SELECT register_migration('clock', 2, 'two', 'CREATE VIEW clock2 AS SELECT a FROM clock1',
                          undo => 'DROP VIEW clock2');
SELECT component, version, outcome FROM apply_migrations('clock');
UPDATE schema_version SET applied_at = applied_at - interval '1 hour'
WHERE component = 'clock' AND version = 2;
SELECT component, version, outcome FROM revert_migrations('clock', 0, dry_run => true);
SELECT component, version, outcome FROM revert_migrations('clock', 0);
SELECT version, action FROM migration_history WHERE component = 'clock' ORDER BY id;

-- a read-only transaction cannot revert, nor try a revert (the component's
-- lock is a row it writes): refused before any undo runs; applying as a
-- dry run cannot either
SELECT component, version, outcome FROM apply_migrations('clock');
BEGIN READ ONLY;
SELECT component, version, outcome FROM revert_migrations('clock', 0);
ROLLBACK;
BEGIN READ ONLY;
SELECT component, version, outcome FROM revert_migrations('clock', 0, dry_run => true);
ROLLBACK;
SELECT register_migration('clock', 3, 'three', 'SELECT 3');
BEGIN READ ONLY;
SELECT component, version, outcome FROM apply_migrations('clock', dry_run => true);
ROLLBACK;
SELECT version, status FROM migration_status('clock');

-- only roles that may write into a component may revert it: a role
-- allowed to revert its own component cannot take back another's, even
-- when the undo's registrant vouches for it (a superuser)
CREATE ROLE sm_undo_dba;
CREATE ROLE sm_undo_other;
GRANT EXECUTE ON FUNCTION revert_migrations(text, bigint, boolean) TO sm_undo_other;
SELECT register_migration('dba', 1, 'backfill', 'SELECT 1', undo => 'SELECT 2');
SELECT set_component_owner('dba', 'sm_undo_dba');
SELECT component, version, outcome FROM apply_migrations('dba');
SET ROLE sm_undo_other;
SELECT * FROM revert_migrations('dba', 0);
SELECT * FROM revert_migrations('dba', 0, dry_run => true);
RESET ROLE;
SELECT version, status FROM migration_status('dba');
-- a member of the owner may
GRANT sm_undo_dba TO sm_undo_other;
SET ROLE sm_undo_other;
SELECT component, version, outcome FROM revert_migrations('dba', 0);
RESET ROLE;

-- clean up
DROP VIEW clock2;
DROP TABLE orders, clock1;
SET schema_mgr.allow_drop = on;
DROP EXTENSION schema_mgr;
RESET schema_mgr.allow_drop;
REVOKE ALL ON SCHEMA public FROM sm_undo_deployer;
DROP ROLE sm_undo_deployer, sm_undo_other, sm_undo_dba;
RESET SESSION AUTHORIZATION;
DROP ROLE sm_admin;
