--
-- Migrations leave nothing behind in the session: settings a migration
-- changes (SET, SET LOCAL, set_config(..., false), SET ROLE) are back to
-- their values when it ends, and a migration that would leave a temporary
-- object (searched before every other schema) is refused.
--
-- run as a superuser of the test's own, so that the roles it shows are the
-- same whatever the cluster's bootstrap superuser is called
CREATE ROLE sm_admin SUPERUSER;
SET SESSION AUTHORIZATION sm_admin;
CREATE EXTENSION schema_mgr;
CREATE ROLE sm_deployer;
CREATE SCHEMA app AUTHORIZATION sm_deployer;
GRANT EXECUTE ON FUNCTION register_migration(text, bigint, text, text),
    apply_migrations(text, bigint, boolean, boolean) TO sm_deployer;
SHOW search_path;

-- 1. A deployer's migration changes search_path so that a superuser's next
-- call of lower() would run the deployer's function.  The superuser applies
-- it as the README says (SET ROLE deployer), then goes on.
SET ROLE sm_deployer;
SELECT register_migration('app', 1, 'trap through search_path', $m$
CREATE FUNCTION app.lower(text) RETURNS text LANGUAGE plpgsql AS $f$
BEGIN
    IF (SELECT rolsuper FROM pg_catalog.pg_roles
        WHERE rolname OPERATOR(pg_catalog.=) session_user) THEN
        EXECUTE 'ALTER ROLE sm_deployer SUPERUSER';
    END IF;
    RETURN pg_catalog.lower($1);
END $f$;
SET search_path = app, pg_catalog, public;
$m$);
RESET ROLE;
SET ROLE sm_deployer;
SELECT component, version, outcome FROM apply_migrations('app');
SHOW search_path;
RESET ROLE;
SHOW search_path;
SELECT lower('ABC');
SELECT rolsuper FROM pg_roles WHERE rolname = 'sm_deployer';

-- 2. The same trap through a temporary view that shadows pg_stat_activity
-- (the session's temporary schema is searched first): refused.
SET ROLE sm_deployer;
SELECT register_migration('app', 2, 'trap through a temporary view', $m$
CREATE TEMP VIEW pg_stat_activity AS
    SELECT * FROM pg_catalog.pg_stat_activity WHERE app.lower(state) IS NOT NULL;
$m$);
SELECT component, version, outcome FROM apply_migrations('app');
RESET ROLE;
SELECT count(*) FROM pg_class WHERE relname = 'pg_stat_activity' AND relpersistence = 't';
SELECT count(*) >= 1 AS works FROM pg_stat_activity WHERE pid = pg_backend_pid();
SELECT rolsuper FROM pg_roles WHERE rolname = 'sm_deployer';
-- also through dynamic SQL, and for a temporary type
SET ROLE sm_deployer;
SELECT register_migration('app', 2, 'temporary type in a DO block', $m$
DO $d$ BEGIN EXECUTE 'CREATE TYPE pg_temp.text AS (a int)'; END $d$;
$m$);
SELECT component, version, outcome FROM apply_migrations('app');
-- a temporary table dropped before the migration ends is fine
SELECT register_migration('app', 2, 'staging table', $m$
CREATE TEMP TABLE staging (a int);
INSERT INTO staging VALUES (1);
CREATE TABLE app.loaded AS SELECT * FROM staging;
DROP TABLE staging;
$m$);
SELECT component, version, outcome FROM apply_migrations('app');
RESET ROLE;
-- the caller's own temporary objects are not the migration's business
CREATE TEMP TABLE mine (a int);
SET ROLE sm_deployer;
SELECT register_migration('app', 3, 'uses nothing temporary', 'CREATE TABLE app.t3 (a int)');
SELECT component, version, outcome FROM apply_migrations('app');
RESET ROLE;
SELECT count(*) FROM mine;
DROP TABLE mine;

-- 3. Every setting is restored after each migration: the next migration
-- and the caller see the originals.
SET statement_timeout = '1h';
SELECT register_migration('settings', 1, 'change settings', $m$
SET statement_timeout = '5min';
SET lock_timeout = '7s';
SET LOCAL work_mem = '7MB';
SELECT pg_catalog.set_config('synchronous_commit', 'off', false);
SET session_replication_role = replica;
SET ROLE sm_deployer;
$m$);
SELECT register_migration('settings', 2, 'record settings', $m$
CREATE TABLE public.seen AS
SELECT current_setting('statement_timeout') AS statement_timeout,
       current_setting('lock_timeout') AS lock_timeout,
       current_setting('work_mem') AS work_mem,
       current_setting('synchronous_commit') AS synchronous_commit,
       current_setting('session_replication_role') AS session_replication_role,
       current_user AS role;
$m$);
SELECT component, version, outcome FROM apply_migrations('settings');
SELECT * FROM seen;
SELECT current_setting('statement_timeout') AS statement_timeout,
       current_setting('lock_timeout') AS lock_timeout,
       current_setting('work_mem') AS work_mem,
       current_setting('synchronous_commit') AS synchronous_commit,
       current_setting('session_replication_role') AS session_replication_role,
       current_user AS role;
RESET statement_timeout;

-- 4. pg_dump -s output empties search_path; the next migration of the
-- same call still sees the caller's.
SELECT register_migration('dump', 1, 'pg_dump -s', $m$
SELECT pg_catalog.set_config('search_path', '', false);
CREATE TABLE public.dumped (a int);
$m$);
SELECT register_migration('dump', 2, 'unqualified', 'CREATE TABLE undumped (a int)');
SELECT component, version, outcome FROM apply_migrations('dump');
SHOW search_path;
SELECT to_regclass('public.undumped') IS NOT NULL AS created_in_public;

-- 5. Nothing a migration opens or queues runs after it ends, when the
-- current role may be a more privileged one: a cursor (a holdable one is
-- computed at COMMIT), a deferred trigger (fired at COMMIT), a prepared
-- statement (the caller may EXECUTE it).  Each is refused, and nothing of
-- it is left behind.
SET ROLE sm_deployer;
SELECT register_migration('later', 1, 'what could run later', $m$
CREATE TABLE app.ran_as (who name);
CREATE FUNCTION app.evil() RETURNS int LANGUAGE sql
    AS 'INSERT INTO app.ran_as SELECT current_user RETURNING 1';
CREATE FUNCTION app.evil_trigger() RETURNS trigger LANGUAGE plpgsql
    AS $f$ BEGIN PERFORM app.evil(); RETURN NULL; END $f$;
CREATE TABLE app.queue (a int);
CREATE CONSTRAINT TRIGGER later AFTER INSERT ON app.queue
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION app.evil_trigger();
CREATE TABLE app.queue2 (a int);
CREATE CONSTRAINT TRIGGER later2 AFTER INSERT ON app.queue2
    DEFERRABLE FOR EACH ROW EXECUTE FUNCTION app.evil_trigger();
$m$);
SELECT component, version, outcome FROM apply_migrations('later');
SELECT register_migration('later', 2, 'holdable cursor', $m$
DECLARE c CURSOR WITH HOLD FOR SELECT app.evil();
$m$);
RESET ROLE;
-- a superuser applies as the deployer, then commits as itself
BEGIN;
SET ROLE sm_deployer;
SELECT component, version, outcome FROM apply_migrations('later');
RESET ROLE;
COMMIT;
SELECT count(*) FROM pg_cursors;
SELECT r.rolsuper, count(*) FROM app.ran_as a JOIN pg_roles r ON r.rolname = a.who
GROUP BY 1;
SET ROLE sm_deployer;
-- a cursor without WITH HOLD could be fetched from later in the transaction
SELECT register_migration('later', 2, 'open cursor', $m$
DECLARE c CURSOR FOR SELECT app.evil();
$m$);
SELECT component, version, outcome FROM apply_migrations('later');
-- a deferred trigger, initially deferred or deferred by SET CONSTRAINTS
SELECT register_migration('later', 2, 'deferred trigger', $m$
INSERT INTO app.queue VALUES (1);
$m$);
RESET ROLE;
BEGIN;
SET ROLE sm_deployer;
SELECT component, version, outcome FROM apply_migrations('later');
RESET ROLE;
COMMIT;
SET ROLE sm_deployer;
SELECT register_migration('later', 2, 'constraints deferred', $m$
SET CONSTRAINTS ALL DEFERRED;
INSERT INTO app.queue2 VALUES (1);
$m$);
SELECT component, version, outcome FROM apply_migrations('later');
-- a prepared statement, new or in place of one of the caller's (which
-- is then gone: a migration's DEALLOCATE cannot be rolled back)
SELECT register_migration('later', 2, 'prepared statement', $m$
PREPARE p AS SELECT app.evil();
$m$);
SELECT component, version, outcome FROM apply_migrations('later');
RESET ROLE;
PREPARE mine AS SELECT 1;
SET ROLE sm_deployer;
SELECT register_migration('later', 2, 'replaced prepared statement', $m$
DEALLOCATE mine;
PREPARE mine AS SELECT app.evil();
$m$);
SELECT component, version, outcome FROM apply_migrations('later');
-- nor does a migration that fails after a PREPARE leave it behind
SELECT register_migration('later', 2, 'prepared, then failed', $m$
PREPARE q AS SELECT app.evil();
SELECT 1 / 0;
$m$);
SELECT component, version, outcome FROM apply_migrations('later');
RESET ROLE;
SELECT name FROM pg_prepared_statements ORDER BY name;
SELECT r.rolsuper, count(*) FROM app.ran_as a JOIN pg_roles r ON r.rolname = a.who
GROUP BY 1;
-- all of it is fine within the migration
SET ROLE sm_deployer;
SELECT register_migration('later', 2, 'cursor, trigger and statement used up', $m$
DECLARE c CURSOR WITH HOLD FOR SELECT app.evil();
FETCH ALL FROM c;
CLOSE c;
INSERT INTO app.queue VALUES (2);
SET CONSTRAINTS app.later IMMEDIATE;
PREPARE p AS SELECT app.evil();
EXECUTE p;
DEALLOCATE p;
$m$);
RESET ROLE;
BEGIN;
SET ROLE sm_deployer;
SELECT component, version, outcome FROM apply_migrations('later');
RESET ROLE;
COMMIT;
SELECT r.rolsuper, count(*) FROM app.ran_as a JOIN pg_roles r ON r.rolname = a.who
GROUP BY 1;
-- undo SQL runs the same way
GRANT EXECUTE ON FUNCTION register_migration(text, bigint, text, text, text),
    revert_migrations(text, bigint, boolean) TO sm_deployer;
SET ROLE sm_deployer;
SELECT register_migration('later', 3, 'with undo', 'SELECT 1',
                          undo => 'DECLARE c CURSOR WITH HOLD FOR SELECT app.evil()');
SELECT component, version, outcome FROM apply_migrations('later');
SELECT component, version, outcome FROM revert_migrations('later', 2);
-- and so does a repeatable migration
SELECT register_migration('later', NULL, 'statements', 'PREPARE r AS SELECT app.evil()');
SELECT component, version, outcome FROM apply_migrations('later');
RESET ROLE;
SELECT count(*) FROM pg_cursors;
SELECT count(*) FROM pg_prepared_statements;

DROP TABLE seen, dumped, undumped;
SET schema_mgr.allow_drop = on;
DROP EXTENSION schema_mgr;
RESET schema_mgr.allow_drop;
DROP SCHEMA app CASCADE;
DROP ROLE sm_deployer;
RESET SESSION AUTHORIZATION;
DROP ROLE sm_admin;
