--
-- Migrations: who may do what is decided by GRANTs; bookkeeping runs as
-- the extension's owner, migration SQL as the caller.
--
-- run as a superuser of the test's own, so that the roles it shows are the
-- same whatever the cluster's bootstrap superuser is called
CREATE ROLE sm_admin SUPERUSER;
SET SESSION AUTHORIZATION sm_admin;
CREATE EXTENSION schema_mgr;
CREATE ROLE sm_deployer;
CREATE ROLE sm_reader;
CREATE SCHEMA deploy AUTHORIZATION sm_deployer;
GRANT EXECUTE ON FUNCTION register_migration(text, bigint, text, text),
    apply_migrations(text, bigint, boolean, boolean) TO sm_deployer;

-- by default only reading functions are open to everyone
SELECT p.proname, has_function_privilege('sm_reader', p.oid, 'EXECUTE') AS reader,
       has_function_privilege('sm_deployer', p.oid, 'EXECUTE') AS deployer
FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.classid = 'pg_proc'::regclass
JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'schema_mgr'
ORDER BY p.proname;
SELECT has_table_privilege('sm_deployer', 'schema_version', 'SELECT') AS sel,
       has_table_privilege('sm_deployer', 'schema_version', 'INSERT') AS ins,
       has_table_privilege('sm_deployer', 'migration', 'UPDATE') AS upd;

-- a reader sees the status and nothing else
SELECT register_migration('deploy', 1, 'create t', 'CREATE TABLE deploy.t (a int)');
-- the component is the deployer's to write into
SELECT set_component_owner('deploy', 'sm_deployer');
SET ROLE sm_reader;
SELECT component, version, status FROM migration_status();
SELECT current_version('deploy');
SELECT apply_migrations();
SELECT register_migration('deploy', 2, 'x', 'SELECT 1');
SELECT * FROM schema_version;
SELECT sql FROM migration;
RESET ROLE;

-- a deployer applies; the migration runs as the deployer
SET ROLE sm_deployer;
SELECT register_migration('deploy', 2, 'add b', 'ALTER TABLE deploy.t ADD COLUMN b int');
SELECT component, version, outcome FROM apply_migrations('deploy');
SELECT tableowner FROM pg_tables WHERE schemaname = 'deploy' AND tablename = 't';
SELECT version, applied_by FROM migration_status('deploy');
-- ... but cannot rewrite the history or the registry by hand
INSERT INTO schema_version (component, version, description, applied_by)
VALUES ('deploy', 99, 'forged', 'sm_deployer');
UPDATE migration SET sql = 'SELECT 1' WHERE component = 'deploy';
DELETE FROM schema_version;
-- ... nor gain the owner's rights through a migration
SELECT register_migration('deploy', 3, 'escalate', 'CREATE ROLE sm_evil SUPERUSER');
SELECT component, version, outcome FROM apply_migrations('deploy');
SELECT register_migration('deploy', 3, 'escalate', 'SELECT count(*) FROM schema_version');
SELECT component, version, outcome FROM apply_migrations('deploy');
SELECT register_migration('deploy', 3, 'harmless', 'SELECT 1');
SELECT component, version, outcome FROM apply_migrations('deploy');
SELECT current_user;
-- the server-side loader needs its own grant (and file access)
SELECT * FROM register_migrations_from_directory('deploy', '/tmp');
-- ... nor have its SQL run by a superuser who applies everything pending
SELECT register_migration('deploy', 4, 'trap', 'ALTER ROLE sm_deployer SUPERUSER');
RESET ROLE;
SELECT component, version, outcome FROM apply_migrations();
SELECT component, version, outcome FROM apply_migrations(dry_run => true);
SELECT rolsuper FROM pg_roles WHERE rolname = 'sm_deployer';
-- a role whose privileges the registrant has may apply it (and it fails
-- here, as the deployer cannot make itself a superuser)
SET ROLE sm_deployer;
SELECT component, version, outcome FROM apply_migrations('deploy');
SELECT register_migration('deploy', 4, 'harmless', 'SELECT 4');
RESET ROLE;
-- migrations registered by a superuser may be applied by anyone allowed to
SELECT register_migration('deploy', 5, 'by the owner', 'ALTER TABLE deploy.t ADD COLUMN c int');
SET ROLE sm_deployer;
SELECT component, version, outcome FROM apply_migrations('deploy');
RESET ROLE;
-- applying as the registrant from a superuser session (SET ROLE, as the
-- hint says) does not let its SQL switch back to the session's role
SET ROLE sm_deployer;
SELECT register_migration('deploy', 6, 'reset role', 'RESET ROLE; CREATE ROLE sm_evil SUPERUSER');
SELECT component, version, outcome FROM apply_migrations('deploy');
SELECT current_user;
SELECT register_migration('deploy', 6, 'harmless', 'SELECT 6');
SELECT component, version, outcome FROM apply_migrations('deploy');
RESET ROLE;
SELECT count(*) FROM pg_roles WHERE rolname = 'sm_evil';
-- a superuser's own migrations may still change role
SELECT register_migration('deploy', 7, 'as the deployer',
    'SET ROLE sm_deployer; CREATE TABLE deploy.u (a int); RESET ROLE');
SELECT component, version, outcome FROM apply_migrations('deploy');
SELECT tableowner FROM pg_tables WHERE schemaname = 'deploy' AND tablename = 'u';
-- a superuser session that becomes the registrant with SET SESSION
-- AUTHORIZATION does not let its SQL switch back to a superuser either
-- (SET SESSION AUTHORIZATION reaches every role from there)
SET SESSION AUTHORIZATION sm_deployer;
SELECT register_migration('deploy', 8, 'session authorization',
    'SET SESSION AUTHORIZATION sm_admin; CREATE ROLE sm_evil SUPERUSER');
SELECT component, version, outcome FROM apply_migrations('deploy');
SELECT session_user, current_user;
SELECT register_migration('deploy', 8, 'harmless', 'SELECT 8');
SELECT component, version, outcome FROM apply_migrations('deploy');
SET SESSION AUTHORIZATION sm_admin;
SELECT count(*) FROM pg_roles WHERE rolname = 'sm_evil';

SELECT component, version, description, registered_by FROM migration ORDER BY version;
SELECT component, version, applied_by, kind FROM schema_version ORDER BY version;

SET schema_mgr.allow_drop = on;
DROP EXTENSION schema_mgr;
RESET schema_mgr.allow_drop;
DROP SCHEMA deploy CASCADE;
DROP ROLE sm_deployer;
DROP ROLE sm_reader;
RESET SESSION AUTHORIZATION;
DROP ROLE sm_admin;
