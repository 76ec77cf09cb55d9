--
-- Error messages show a bounded excerpt of migration SQL (the line the
-- error is on, at most 200 bytes of it) and say where it is, however large
-- the migration; roles that may not read a migration's SQL see none of it.
--
CREATE EXTENSION schema_mgr;

-- a syntax error at registration, at the end of a 30,000-byte line
SELECT register_migration('big', 1, 'typo',
    E'CREATE TABLE big_t (a int);\nINSERT INTO big_t VALUES (' || repeat('1, ', 10000) || '1;');
-- an unterminated string: the scanner quotes the rest of the input
SELECT register_migration('big', 1, 'unterminated',
    E'SELECT 1;\n\nSELECT ''' || repeat('secret ', 5000));
-- an error while applying, inside a long statement
SELECT register_migration('big', 1, 'bad value',
    E'CREATE TABLE big_t (a int);\nINSERT INTO big_t VALUES ' || repeat('(1), ', 5000) || '(''x''), (2);');
SELECT component, version, outcome FROM apply_migrations('big');
-- the same in a dry run's error column
SELECT component, version, outcome, length(error) < 600 AS short, error
FROM apply_migrations('big', dry_run => true);
-- nested statements (a DO block's EXECUTE) are cut too
SELECT register_migration('big', 1, 'nested',
    $m$DO $d$ BEGIN EXECUTE 'SELECT ' || repeat('1 + ', 5000) || '''y''::int'; END $d$;$m$);
SELECT component, version, outcome FROM apply_migrations('big');

-- a role that applies but may not read the SQL (CREATE ROLE ... PASSWORD)
-- sees where the error is, not the SQL
SELECT register_migration('big', 1, 'secret',
    $m$CREATE TABLE big_t (a int);
CREATE ROLE sm_app_login LOGIN PASSWORD 'hunter2';$m$);
CREATE ROLE sm_applier;
GRANT EXECUTE ON FUNCTION apply_migrations(text, bigint, boolean, boolean) TO sm_applier;
GRANT CREATE ON SCHEMA public TO sm_applier;
SET ROLE sm_applier;
SELECT component, version, outcome FROM apply_migrations('big');
RESET ROLE;
-- once granted migration_sql, it sees it
GRANT EXECUTE ON FUNCTION migration_sql(text) TO sm_applier;
SET ROLE sm_applier;
SELECT component, version, outcome FROM apply_migrations('big');
RESET ROLE;

SET schema_mgr.allow_drop = on;
DROP EXTENSION schema_mgr;
RESET schema_mgr.allow_drop;
REVOKE ALL ON SCHEMA public FROM sm_applier;
DROP ROLE sm_applier;
