--
-- Migrations: failures, out-of-order versions, tampering, baselines, dry
-- runs, and the caller's search_path and isolation level.
--
CREATE EXTENSION schema_mgr;

-- a failing migration in the middle of a chain: nothing of the call stays
SELECT register_migration('shop', 1, 'create orders', 'CREATE TABLE orders (id int PRIMARY KEY)');
SELECT register_migration('shop', 2, 'add total',
    E'ALTER TABLE orders ADD COLUMN total numeric;\n\n-- bad reference\nALTER TABLE orders\n  ADD COLUMN customer int REFERENCES customers (id);\n');
SELECT register_migration('shop', 3, 'add notes', 'ALTER TABLE orders ADD COLUMN notes text');
SELECT * FROM apply_migrations('shop');
SELECT to_regclass('orders') AS orders, current_version('shop');
SELECT count(*) AS history FROM schema_version;
-- the original SQLSTATE survives
DO $$
DECLARE
    st text;
    msg text;
BEGIN
    PERFORM apply_migrations();
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
    RAISE NOTICE 'caught % %', st, msg;
END
$$;
SELECT to_regclass('orders') AS orders, current_version('shop');
-- a unique violation keeps its SQLSTATE and constraint name
SELECT register_migration('dup', 1, 'dups',
    E'CREATE TABLE dup_t (a int CONSTRAINT dup_a UNIQUE);\nINSERT INTO dup_t VALUES (1), (1);');
DO $$
DECLARE
    st text;
    con text;
BEGIN
    PERFORM apply_migrations('dup');
EXCEPTION WHEN unique_violation THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, con = CONSTRAINT_NAME;
    RAISE NOTICE 'caught % on %', st, con;
END
$$;
SELECT register_migration('dup', 1, 'dups', 'CREATE TABLE dup_t (a int CONSTRAINT dup_a UNIQUE)');

-- a dry run really runs, reports, and rolls back
SELECT component, version, outcome, error FROM apply_migrations(dry_run => true);
SELECT register_migration('shop', 2, 'add total',
    E'ALTER TABLE orders ADD COLUMN total numeric;\nCREATE TABLE customers (id int PRIMARY KEY);\nALTER TABLE orders ADD COLUMN customer int REFERENCES customers (id);');
SELECT component, version, outcome, error FROM apply_migrations(dry_run => true);
SELECT to_regclass('orders') AS orders, count(*) AS history FROM schema_version;
SELECT component, version, outcome FROM apply_migrations();
SELECT component, version, status FROM migration_status();

-- a dry run leaves the registry alone too: here a row whose version is in
-- the history but whose mark was lost is only marked by a real run
UPDATE migration SET applied_checksum = NULL WHERE component = 'shop' AND version = 2;
SELECT component, version, outcome FROM apply_migrations(dry_run => true);
SELECT applied_checksum IS NULL AS unmarked FROM migration
WHERE component = 'shop' AND version = 2;
SELECT component, version, outcome FROM apply_migrations();
SELECT applied_checksum IS NULL AS unmarked FROM migration
WHERE component = 'shop' AND version = 2;

-- after a dry run's first failure the rest are listed as not run, as a real
-- run would stop there
BEGIN;
SELECT register_migration('dry', 1, 'fine', 'CREATE TABLE dry_t (a int)');
SELECT register_migration('dry', 2, 'fails', 'SELECT 1 / 0');
SELECT register_migration('dry', 3, 'after', 'SELECT 3');
SELECT register_migration('dry', 4, 'after that', 'SELECT 4');
SELECT component, version, outcome, error, duration IS NULL AS no_duration
FROM apply_migrations('dry', dry_run => true);
ROLLBACK;

-- a cancel or a timeout ends a dry run with an error, not with an outcome
BEGIN;
SELECT register_migration('slow', 1, 'sleeps', 'SELECT pg_sleep(10)');
SET LOCAL statement_timeout = '200ms';
SELECT component, version, outcome FROM apply_migrations('slow', dry_run => true);
ROLLBACK;

-- a migration of many statements runs in time linear in its length (this
-- one took 25 s when each statement's line was counted from the start) and
-- its error still names the right statement and line
BEGIN;
SELECT register_migration('seed', 1, 'many rows',
    string_agg(format('INSERT INTO seed_t VALUES (%s);', i), E'\n') ||
    E'\n\n  -- the last one fails\n SELECT 1 / 0;')
FROM generate_series(1, 50000) AS i;
CREATE TABLE seed_t (i int);
SET LOCAL statement_timeout = '10s';
SELECT component, version, outcome FROM apply_migrations('seed');
ROLLBACK;

-- a migration cannot apply migrations (it would be applied again itself)
BEGIN;
SELECT register_migration('nested', 1, 'applies',
    E'CREATE TABLE nested_t (a int);\nSELECT count(*) FROM apply_migrations();');
SELECT component, version, outcome FROM apply_migrations('nested');
ROLLBACK;

-- out of order: refused by default, allowed explicitly
SELECT register_migration('shop', 5, 'add shipped', 'ALTER TABLE orders ADD COLUMN shipped boolean');
SELECT component, version, outcome FROM apply_migrations('shop');
SELECT register_migration('shop', 4, 'add paid', 'ALTER TABLE orders ADD COLUMN paid boolean');
SELECT component, version, status FROM migration_status('shop');
SELECT component, version, outcome FROM apply_migrations('shop');
SELECT component, version, outcome FROM apply_migrations('shop', allow_out_of_order => true);
SELECT component, version, status FROM migration_status('shop');

-- tampering with the registry after applying is noticed and refused
UPDATE migration SET sql = 'ALTER TABLE orders ADD COLUMN notes varchar'
WHERE component = 'shop' AND version = 3;
SELECT component, version, status FROM migration_status('shop');
SELECT component, version, outcome FROM apply_migrations('shop');
SELECT apply_migrations();
UPDATE migration SET sql = 'ALTER TABLE orders ADD COLUMN notes text'
WHERE component = 'shop' AND version = 3;
SELECT apply_migrations('shop');
-- a migration that is no longer registered shows as missing
DELETE FROM migration WHERE component = 'shop' AND version = 1;
SELECT component, version, status FROM migration_status('shop');
SELECT register_migration('shop', 1, 'create orders', 'CREATE TABLE orders (id int PRIMARY KEY)');
SELECT component, version, status FROM migration_status('shop') WHERE version = 1;

-- baseline: adopt a schema built by hand
CREATE TABLE legacy_a (a int);
CREATE TABLE legacy_b (b int);
SELECT register_migration('legacy', 1, 'create a', 'CREATE TABLE legacy_a (a int)');
SELECT register_migration('legacy', 2, 'create b', 'CREATE TABLE legacy_b (b int)');
SELECT register_migration('legacy', 3, 'add c', 'ALTER TABLE legacy_b ADD COLUMN c int');
SELECT * FROM baseline('legacy', 2);
SELECT * FROM baseline('legacy', 2);
SELECT component, version, status FROM migration_status('legacy');
SELECT component, version, outcome FROM apply_migrations('legacy');
SELECT component, version, status, checksum IS NOT NULL AS has_checksum
FROM migration_status('legacy');
-- a baseline before anything is registered: later registrations at or
-- below it are marked as baselined, above it they are pending
SELECT * FROM baseline('hand', 5);
SELECT current_version('hand');
SELECT register_migration('hand', 4, 'old one', 'CREATE TABLE never_run (x int)');
SELECT register_migration('hand', 5, 'the baseline', 'CREATE TABLE never_run (x int)');
SELECT register_migration('hand', 6, 'new one', 'CREATE TABLE hand_new (x int)');
SELECT component, version, description, status FROM migration_status('hand');
SELECT component, version, outcome FROM apply_migrations('hand');
SELECT to_regclass('never_run') AS never_run, to_regclass('hand_new') AS hand_new;
SELECT baseline('hand', 7);
SELECT baseline('hand', 0);

-- migration SQL runs with the caller's search_path
CREATE SCHEMA app_schema;
SET search_path = app_schema, public;
SELECT register_migration('paths', 1, 'unqualified', 'CREATE TABLE thing (x int)');
SELECT component, version, outcome FROM apply_migrations('paths');
RESET search_path;
SELECT to_regclass('app_schema.thing') AS thing;
-- and internal queries do not depend on it: a hostile schema first in
-- the path changes nothing
CREATE SCHEMA hostile;
CREATE TABLE hostile.migration (component text, version bigint);
CREATE FUNCTION hostile.max(bigint) RETURNS bigint LANGUAGE sql AS 'SELECT 42::bigint';
SET search_path = hostile, public;
SELECT current_version('paths');
SELECT register_migration('paths', 2, 'second', 'SELECT 1');
SELECT component, version, outcome FROM apply_migrations('paths');
RESET search_path;

-- applying in a REPEATABLE READ transaction is refused when there is work
SELECT register_migration('paths', 3, 'third', 'SELECT 1');
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT apply_migrations('shop');
SELECT apply_migrations('paths');
ROLLBACK;
BEGIN ISOLATION LEVEL SERIALIZABLE;
SELECT apply_migrations('paths');
ROLLBACK;
SELECT component, version, outcome FROM apply_migrations('paths');

-- an error with a position points into the failing statement
SELECT register_migration('pos', 1, 'bad column',
    E'CREATE TABLE pos_t (a int);\n\nSELECT a,\n       b\nFROM pos_t;');
SELECT apply_migrations('pos');
SELECT to_regclass('pos_t') AS pos_t;

-- clean up
SET schema_mgr.allow_drop = on;
DROP EXTENSION schema_mgr;
RESET schema_mgr.allow_drop;
DROP TABLE orders, customers, legacy_a, legacy_b, hand_new, dup_t;
DROP SCHEMA app_schema CASCADE;
DROP SCHEMA hostile CASCADE;
