--
-- Migrations: registering, applying, status, and every argument error.
--
-- run as a superuser of the test's own, so that the roles it shows are the
-- same whatever the cluster's bootstrap superuser is called
CREATE ROLE sm_admin SUPERUSER;
SET SESSION AUTHORIZATION sm_admin;
CREATE EXTENSION schema_mgr;

-- checksums ignore a BOM and the line-ending convention, nothing else
SELECT migration_checksum(E'SELECT 1;\nSELECT 2;\n') AS lf,
       migration_checksum(E'SELECT 1;\r\nSELECT 2;\r\n')
         = migration_checksum(E'SELECT 1;\nSELECT 2;\n') AS crlf_same,
       migration_checksum(E'SELECT 1;\rSELECT 2;\r')
         = migration_checksum(E'SELECT 1;\nSELECT 2;\n') AS cr_same,
       migration_checksum(convert_from('\xefbbbf'::bytea, 'UTF8') || E'SELECT 1;\nSELECT 2;\n')
         = migration_checksum(E'SELECT 1;\nSELECT 2;\n') AS bom_same,
       migration_checksum(E'SELECT 1;\n\nSELECT 2;\n')
         = migration_checksum(E'SELECT 1;\nSELECT 2;\n') AS extra_line_same,
       migration_checksum('') = encode(sha256(''), 'hex') AS empty_is_sha256;

-- register: idempotent, reports what it did
SELECT register_migration('app', 1, 'create items',
    E'CREATE TABLE items (id int PRIMARY KEY);\nINSERT INTO items VALUES (1);');
SELECT register_migration('app', 1, 'create items',
    E'CREATE TABLE items (id int PRIMARY KEY);\r\nINSERT INTO items VALUES (1);');
SELECT register_migration('app', 1, 'create the items table',
    E'CREATE TABLE items (id int PRIMARY KEY);\nINSERT INTO items VALUES (1);');
SELECT register_migration('app', 2, 'add a name', 'ALTER TABLE items ADD COLUMN nam text');
-- a pending migration may still be replaced
SELECT register_migration('app', 2, 'add a name', 'ALTER TABLE items ADD COLUMN name text');
SELECT register_migration('other', 10, 'other chain', 'CREATE TABLE other_t (x int)');

SELECT component, version, description, status FROM migration_status();
SELECT current_version('app');

-- apply everything pending, one row per migration, in version order
SELECT a.component, a.version, a.description, a.outcome, a.error,
       a.checksum = migration_checksum(m.sql) AS checksum_ok,
       a.duration >= '0' AS has_duration
FROM apply_migrations() a
JOIN migration m ON m.component = a.component AND m.version = a.version;
SELECT * FROM items;
SELECT current_version('app'), current_version('other');

-- again: nothing to do, says so
SELECT apply_migrations();
SELECT * FROM apply_migrations('app');

SELECT component, version, description, status, applied_by,
       execution_time >= '0' AS timed, applied_at <= now() AS dated
FROM migration_status();
SELECT component, version, description, kind, applied_by FROM schema_version
ORDER BY component, version;

-- re-registering an applied migration unchanged is fine, changed is not
SELECT register_migration('app', 2, 'add a name', 'ALTER TABLE items ADD COLUMN name text');
SELECT register_migration('app', 2, 'add a name', 'ALTER TABLE items ADD COLUMN name varchar');

-- per component and up to a target version
SELECT register_migration('app', 3, 'add price', 'ALTER TABLE items ADD COLUMN price numeric');
SELECT register_migration('app', 4, 'add stock', 'ALTER TABLE items ADD COLUMN stock int');
SELECT register_migration('other', 11, 'other more', 'ALTER TABLE other_t ADD COLUMN y int');
SELECT component, version, outcome FROM apply_migrations('app', 3);
SELECT component, version, status FROM migration_status() WHERE status <> 'applied';
SELECT component, version, outcome FROM apply_migrations('app');
SELECT component, version, outcome FROM apply_migrations(target_version => 11);

-- argument errors
SELECT register_migration(NULL, 1, 'x', 'SELECT 1');
SELECT register_migration('', 1, 'x', 'SELECT 1');
SELECT register_migration('  ', 1, 'x', 'SELECT 1');
-- no version: a repeatable migration, named by its description
SELECT register_migration('app', NULL, '', 'SELECT 1');
SELECT register_migration('app', 0, 'x', 'SELECT 1');
SELECT register_migration('app', -5, 'x', 'SELECT 1');
SELECT register_migration('app', 5, NULL, 'SELECT 1');
SELECT register_migration('app', 5, 'x', NULL);
SELECT register_migration('app', 5, 'syntax', E'CREATE TABLE ok (a int);\nCREAT TABLE bad (b int);');
SELECT register_migration('app', 5, 'syntax', E'SELECT 1;\nSELECT (1;');
SELECT apply_migrations('app', 0);
SELECT apply_migrations('');
SELECT apply_migrations('nope');
SELECT current_version('nope');
SELECT current_version(NULL);
SELECT * FROM migration_status('nope');
-- nothing was registered by the failed calls
SELECT count(*) FROM migration WHERE version = 5;

-- statements that cannot run inside a transaction block
SELECT register_migration('app', 5, 'cic', E'SELECT 1;\n\nCREATE INDEX CONCURRENTLY items_name ON items (name);');
SELECT register_migration('app', 5, 'dic', 'DROP INDEX CONCURRENTLY items_name');
SELECT register_migration('app', 5, 'ric', 'REINDEX TABLE CONCURRENTLY items');
SELECT register_migration('app', 5, 'ric', 'REINDEX (CONCURRENTLY) TABLE items');
SELECT register_migration('app', 5, 'vac', 'VACUUM items');
SELECT register_migration('app', 5, 'vac', 'VACUUM (FULL) items');
SELECT register_migration('app', 5, 'cluster', 'CLUSTER');
SELECT register_migration('app', 5, 'db', 'CREATE DATABASE x');
SELECT register_migration('app', 5, 'db', 'DROP DATABASE x');
SELECT register_migration('app', 5, 'ts', $$CREATE TABLESPACE x LOCATION '/tmp'$$);
SELECT register_migration('app', 5, 'sys', $$ALTER SYSTEM SET work_mem = '1MB'$$);
SELECT register_migration('app', 5, 'tx', E'BEGIN;\nCREATE TABLE t5 (a int);\nCOMMIT;');
SELECT register_migration('app', 5, 'tx', 'SAVEPOINT a');
SELECT register_migration('app', 5, 'copy', 'COPY items FROM STDIN');
SELECT register_migration('app', 5, 'discard', 'DISCARD ALL');
SELECT register_migration('app', 5, 'detach', 'ALTER TABLE p DETACH PARTITION p1 CONCURRENTLY');
SELECT register_migration('app', 5, 'dbts', 'ALTER DATABASE x SET TABLESPACE y');
-- hidden in a DO block it cannot be seen before it runs, but the error
-- still says what to do
BEGIN;
SELECT register_migration('app', 5, 'hidden',
    $m$DO $x$ BEGIN EXECUTE 'CREATE INDEX CONCURRENTLY items_x ON items (id)'; END $x$$m$);
SELECT component, version, outcome FROM apply_migrations('app');
ROLLBACK;
-- ANALYZE, CLUSTER of a table and COPY from a server file are fine
SELECT register_migration('app', 5, 'analyze', 'ANALYZE items; CLUSTER items USING items_pkey');
SELECT component, version, outcome FROM apply_migrations();

-- dropping the extension would drop the history: refused unless allowed
DROP EXTENSION schema_mgr;
DROP EXTENSION IF EXISTS plpgsql, schema_mgr;
SHOW schema_mgr.allow_drop;
SET schema_mgr.allow_drop = on;
DROP EXTENSION schema_mgr;
RESET schema_mgr.allow_drop;
DROP TABLE items, other_t;

-- installed in its own schema, reachable only qualified
CREATE SCHEMA sm;
CREATE EXTENSION schema_mgr SCHEMA sm;
SELECT sm.register_migration('app', 1, 'create items', 'CREATE TABLE items (id int)');
SELECT component, version, outcome FROM sm.apply_migrations();
SELECT pg_typeof(sm.current_version('app')), sm.current_version('app');
SELECT to_regclass('public.items') IS NOT NULL AS in_public;
DROP SCHEMA sm CASCADE;
CREATE SCHEMA unrelated;
DROP SCHEMA unrelated;
SET schema_mgr.allow_drop = on;
DROP EXTENSION schema_mgr;
RESET schema_mgr.allow_drop;
DROP SCHEMA sm;
-- an empty history may be dropped without the setting
CREATE EXTENSION schema_mgr;
SELECT register_migration('app', 1, 'registered only', 'SELECT 1');
DROP EXTENSION schema_mgr;
DROP TABLE items;
-- nor may DROP OWNED BY its owner take a history with it
CREATE ROLE sm_owner SUPERUSER;
SET ROLE sm_owner;
CREATE EXTENSION schema_mgr;
SELECT register_migration('own', 1, 'owned', 'SELECT 1');
SELECT component, version, outcome FROM apply_migrations('own');
RESET ROLE;
DROP OWNED BY sm_owner;
SELECT extname FROM pg_extension WHERE extname = 'schema_mgr';
SET schema_mgr.allow_drop = on;
DROP OWNED BY sm_owner;
RESET schema_mgr.allow_drop;
DROP ROLE sm_owner;
RESET SESSION AUTHORIZATION;
DROP ROLE sm_admin;
