--
-- Repeatable migrations: no version, named by their description, applied
-- again whenever their SQL changes, after the versions, in name order;
-- in status, history log, approvals and apply_migrations_stepwise.
--
-- run as a superuser of the test's own, so that the roles it shows are the
-- same whatever the cluster's bootstrap superuser is called
CREATE ROLE sm_admin SUPERUSER;
SET SESSION AUTHORIZATION sm_admin;
CREATE EXTENSION schema_mgr;

SELECT register_migration('shop', 1, 'orders', 'CREATE TABLE orders (id int, total numeric)');
SELECT register_migration('shop', NULL, 'views', 'CREATE OR REPLACE VIEW order_totals AS SELECT sum(total) AS total FROM orders');
SELECT register_migration('shop', NULL, 'a grants', 'GRANT SELECT ON orders TO PUBLIC');
SELECT register_migration('shop', NULL, 'views', 'CREATE OR REPLACE VIEW order_totals AS SELECT sum(total) AS total FROM orders');
SELECT component, version, description, status FROM migration_status('shop');
SELECT component, version, description, status, repeatable, has_undo FROM migration_info('shop');

-- versions first, then the repeatables in name order
SELECT component, version, description, outcome FROM apply_migrations('shop');
SELECT component, version, description, outcome FROM apply_migrations('shop');
SELECT version, description, status FROM migration_status('shop');

-- changed SQL: applied again by the next apply (even with nothing else)
SELECT register_migration('shop', NULL, 'views', 'CREATE OR REPLACE VIEW order_totals AS SELECT sum(total) AS total, count(*) AS n FROM orders');
SELECT description, status FROM migration_status('shop') WHERE version IS NULL;
SELECT component, version, description, outcome FROM apply_migrations(dry_run => true);
SELECT component, version, description, outcome FROM apply_migrations();
SELECT * FROM order_totals;

-- a target version applies versions only: repeatables belong to the head
SELECT register_migration('shop', 2, 'add placed_at', 'ALTER TABLE orders ADD placed_at date');
SELECT register_migration('shop', NULL, 'views', 'CREATE OR REPLACE VIEW order_totals AS SELECT sum(total) AS total, count(*) AS n, max(placed_at) AS last FROM orders');
SELECT component, version, description, outcome FROM apply_migrations('shop', 2);
SELECT description, status FROM migration_status('shop') WHERE version IS NULL;
SELECT component, version, description, outcome FROM apply_migrations('shop');

-- the history log: every apply, with its checksum
SELECT component, version, name, action, description, checksum IS NOT NULL AS has_checksum
FROM migration_history ORDER BY id;
-- schema_version holds the versions applied now, not the repeatables
SELECT component, version, kind FROM schema_version ORDER BY 1, 2;

-- a failing repeatable names itself and rolls back the whole call; its
-- SQL registered as applied before is applied again (not pending)
SELECT register_migration('shop', NULL, 'views', 'CREATE OR REPLACE VIEW order_totals AS SELECT no_such_column FROM orders');
SELECT component, version, description, outcome FROM apply_migrations('shop');
SELECT component, version, description, outcome, error FROM apply_migrations('shop', dry_run => true);
SELECT register_migration('shop', NULL, 'views', 'CREATE OR REPLACE VIEW order_totals AS SELECT sum(total) AS total, count(*) AS n, max(placed_at) AS last FROM orders');
SELECT component, version, description, outcome FROM apply_migrations('shop');

-- names: not empty, bounded, checked like migration SQL; no undo
SELECT register_migration('shop', NULL, '  ', 'SELECT 1');
SELECT register_migration('shop', NULL, repeat('x', 201), 'SELECT 1');
SELECT register_migration('shop', NULL, NULL, 'SELECT 1');
SELECT register_migration('shop', NULL, 'vacuum', 'VACUUM orders');
SELECT register_migration('shop', NULL, 'syntax', E'SELECT 1;\nSELEC 2');
SELECT register_migration('shop', NULL, 'views', 'SELECT 1', undo => 'SELECT 2');
-- a new name is a new repeatable migration; the old one stays
SELECT register_migration('shop', NULL, 'views v2', 'SELECT 1');
SELECT description, status FROM migration_status('shop') WHERE version IS NULL;
-- a component with only repeatable migrations exists
SELECT register_migration('reports', NULL, 'report view', 'CREATE VIEW report AS SELECT 1 AS one');
SELECT version, description, status FROM migration_status('reports');

-- stepwise: versions first, then each repeatable in a transaction of its own
SELECT register_migration('shop', 3, 'add note', 'ALTER TABLE orders ADD note text');
CALL apply_migrations_stepwise();
SELECT component, version, name, action FROM migration_history
WHERE id > (SELECT max(id) - 3 FROM migration_history) ORDER BY id;
CALL apply_migrations_stepwise();

-- who vouches for the SQL: the registrant, or an approval by checksum
CREATE ROLE sm_rep_deployer;
GRANT EXECUTE ON FUNCTION register_migration(text, bigint, text, text) TO sm_rep_deployer;
SELECT set_component_owner('shop', 'sm_rep_deployer');
SET ROLE sm_rep_deployer;
SELECT register_migration('shop', NULL, 'deployer view', 'SELECT 2');
-- a role without the registrant's privileges may not replace its SQL
SELECT register_migration('shop', NULL, 'a grants', 'SELECT 4');
RESET ROLE;
SELECT component, version, description, outcome FROM apply_migrations('shop');
SELECT approve_repeatable('shop', 'deployer view', 'wrong');
SELECT approve_repeatable('shop', 'no such', 'wrong');
SELECT approve_repeatable('shop', 'deployer view', checksum) FROM migration_sql('shop')
WHERE version IS NULL AND description = 'deployer view';
SELECT version, description, registered_by, approved_by FROM migration_sql('shop') WHERE version IS NULL;
SELECT component, version, description, outcome FROM apply_migrations('shop');
-- other SQL voids the approval
SET ROLE sm_rep_deployer;
SELECT register_migration('shop', NULL, 'deployer view', 'SELECT 3');
RESET ROLE;
SELECT version, description, approved_by FROM migration_sql('shop') WHERE description = 'deployer view';
SELECT component, version, description, outcome FROM apply_migrations('shop');

-- clean up
DROP VIEW order_totals, report;
DROP TABLE orders;
SET schema_mgr.allow_drop = on;
DROP EXTENSION schema_mgr;
RESET schema_mgr.allow_drop;
DROP ROLE sm_rep_deployer;
RESET SESSION AUTHORIZATION;
DROP ROLE sm_admin;
