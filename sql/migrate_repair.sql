--
-- Status and apply agree after the history is edited by hand, and
-- repair() realigns the registry with the history (Flyway's repair).
--
CREATE EXTENSION schema_mgr;
SELECT register_migration('rep', 1, 'create', 'CREATE TABLE rep_t (a int)');
SELECT register_migration('rep', 2, 'fill', 'INSERT INTO rep_t VALUES (2)');
SELECT register_migration('rep', 3, 'more', 'INSERT INTO rep_t VALUES (3)');
SELECT component, version, outcome FROM apply_migrations('rep');

-- the Flyway-era way to run a migration again: delete its history row
DELETE FROM schema_version WHERE component = 'rep' AND version = 3;
SELECT version, status FROM migration_status('rep');
SELECT component, version, outcome FROM apply_migrations('rep');
SELECT array_agg(a ORDER BY a) FROM rep_t;
-- in replica mode too
SET session_replication_role = replica;
DELETE FROM schema_version WHERE component = 'rep' AND version = 3;
RESET session_replication_role;
SELECT version, status FROM migration_status('rep');
SELECT component, version, outcome FROM apply_migrations('rep');
-- TRUNCATE forgets everything: all pending again
BEGIN;
TRUNCATE schema_version;
SELECT version, status FROM migration_status('rep');
SELECT count(*) AS marked FROM migration WHERE applied_checksum IS NOT NULL;
ROLLBACK;

-- with the trigger disabled, the registry is out of line: status says so,
-- apply does not pretend, and repair() realigns
ALTER TABLE schema_version DISABLE TRIGGER USER;
DELETE FROM schema_version WHERE component = 'rep' AND version = 3;
ALTER TABLE schema_version ENABLE TRIGGER USER;
SELECT version, status FROM migration_status('rep');
SELECT component, version, outcome FROM apply_migrations('rep');
SELECT * FROM repair('rep');
SELECT version, status FROM migration_status('rep');
SELECT * FROM repair();
SELECT component, version, outcome FROM apply_migrations('rep');
-- the other way: history rows the registry does not know as applied
UPDATE migration SET applied_checksum = NULL WHERE component = 'rep' AND version = 1;
SELECT * FROM repair();
SELECT version, status FROM migration_status('rep');
SELECT * FROM repair('nosuch');

-- a read-only transaction cannot repair or baseline: refused before
-- anything is read or run, with what to do instead
BEGIN READ ONLY;
SELECT * FROM repair();
ROLLBACK;
BEGIN READ ONLY;
SELECT * FROM baseline('rep_ro', 1);
ROLLBACK;

DROP TABLE rep_t;
SET schema_mgr.allow_drop = on;
DROP EXTENSION schema_mgr;
RESET schema_mgr.allow_drop;
