--
-- apply_migrations_stepwise: one transaction per migration.
--
CREATE EXTENSION schema_mgr;

-- a chain that adds an enum value and then uses it
SELECT register_migration('mood', 1, 'type', $$CREATE TYPE mood AS ENUM ('sad')$$);
SELECT register_migration('mood', 2, 'add happy', $$ALTER TYPE mood ADD VALUE 'happy'$$);
SELECT register_migration('mood', 3, 'use happy',
	$$CREATE TABLE person (name text, m mood DEFAULT 'happy');
	  INSERT INTO person VALUES ('ann', 'happy')$$);
-- in one transaction it cannot apply, and nothing of it stays
SELECT component, version, outcome FROM apply_migrations('mood');
SELECT version, status FROM migration_status('mood');
SELECT to_regtype('mood');
-- one transaction per migration: it applies
CALL apply_migrations_stepwise('mood');
SELECT version, status FROM migration_status('mood');
SELECT name, m FROM person;
-- nothing left to do
CALL apply_migrations_stepwise('mood');

-- a failure stops at the failing migration; the ones before it stay
SELECT register_migration('chain', 1, 'create', 'CREATE TABLE chain_t (a int)');
SELECT register_migration('chain', 2, 'fill', 'INSERT INTO chain_t VALUES (2)');
SELECT register_migration('chain', 3, 'broken', 'INSERT INTO chain_missing VALUES (3)');
SELECT register_migration('chain', 4, 'more', 'INSERT INTO chain_t VALUES (4)');
CALL apply_migrations_stepwise('chain');
SELECT version, status FROM migration_status('chain');
SELECT array_agg(a ORDER BY a) FROM chain_t;
SELECT component, version, kind FROM schema_version
WHERE component = 'chain' ORDER BY version;
-- fixed, the rest applies; target_version stops early
SELECT register_migration('chain', 3, 'fixed', 'INSERT INTO chain_t VALUES (3)');
CALL apply_migrations_stepwise('chain', 3);
SELECT version, status FROM migration_status('chain');
CALL apply_migrations_stepwise(component => 'chain');
SELECT array_agg(a ORDER BY a) FROM chain_t;

-- every component, in name order, versions ascending
SELECT register_migration('b', 1, 'b1', 'CREATE TABLE b_t (a int)');
SELECT register_migration('a', 1, 'a1', 'CREATE TABLE a_t (a int)');
SELECT register_migration('a', 2, 'a2', 'INSERT INTO a_t VALUES (2)');
CALL apply_migrations_stepwise();
SELECT component, version FROM schema_version
WHERE component IN ('a', 'b') ORDER BY applied_at, component, version;

-- out of order: refused as by apply_migrations, unless allowed
SELECT register_migration('a', 1000, 'later', 'SELECT 1');
CALL apply_migrations_stepwise('a');
SELECT register_migration('a', 500, 'from a branch', 'INSERT INTO a_t VALUES (500)');
CALL apply_migrations_stepwise('a');
CALL apply_migrations_stepwise('a', allow_out_of_order => true);

-- not inside a transaction block, a function or a migration
BEGIN;
CALL apply_migrations_stepwise();
ROLLBACK;
CREATE FUNCTION stepwise_in_function() RETURNS void LANGUAGE plpgsql
AS $$ DECLARE n integer; BEGIN CALL apply_migrations_stepwise(applied => n); END $$;
SELECT stepwise_in_function();
SELECT register_migration('nested', 1, 'calls it', 'CALL apply_migrations_stepwise()');
CALL apply_migrations_stepwise('nested');
SELECT version, status FROM migration_status('nested');
-- a DO block at top level is not a transaction block
SELECT register_migration('nested', 1, 'plain', 'SELECT 1');
DO $$
DECLARE
	n integer;
BEGIN
	CALL apply_migrations_stepwise('nested', applied => n);
	RAISE NOTICE 'applied %', n;
END
$$;
SELECT version, status FROM migration_status('nested');

-- bad arguments
CALL apply_migrations_stepwise('no such component');
CALL apply_migrations_stepwise('');
CALL apply_migrations_stepwise('a', 0);

-- privileges: EXECUTE is revoked from PUBLIC; the steps are
-- apply_migrations() calls, checked as the caller
CREATE ROLE stepwise_user;
GRANT CREATE ON SCHEMA public TO stepwise_user;
SET ROLE stepwise_user;
CALL apply_migrations_stepwise();
RESET ROLE;
GRANT EXECUTE ON PROCEDURE apply_migrations_stepwise TO stepwise_user;
SET ROLE stepwise_user;
CALL apply_migrations_stepwise();
RESET ROLE;
REVOKE ALL ON PROCEDURE apply_migrations_stepwise FROM stepwise_user;
REVOKE CREATE ON SCHEMA public FROM stepwise_user;
DROP ROLE stepwise_user;

SET schema_mgr.allow_drop = on;
DROP EXTENSION schema_mgr;
DROP FUNCTION stepwise_in_function();
DROP TABLE person, chain_t, a_t, b_t;
DROP TYPE mood;
