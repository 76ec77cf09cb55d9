--
-- restore_events, sync_events, compare_events: argument errors, caught
-- before any connection is made.  (Connecting, restoring, syncing and
-- comparing are tested with two clusters in test/t/040_restore.pl.)
--
CREATE EXTENSION schema_mgr;
\set VERBOSITY default

-- the slate-compatible signature and the password-free forms exist
SELECT p.oid::regprocedure, pg_get_function_result(p.oid)
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE p.proname IN ('restore_events', 'restore_events_from', 'sync_events', 'compare_events')
ORDER BY p.oid::regprocedure::text;
-- nobody but the owner may run them until granted
SELECT p.proname, has_function_privilege('public', p.oid, 'EXECUTE') AS public_may_run
FROM pg_proc p WHERE p.proname IN ('restore_events', 'restore_events_from', 'sync_events', 'compare_events')
ORDER BY 1, 2;

-- NULLs and empty strings
SELECT * FROM restore_events_from(NULL);
SELECT * FROM restore_events_from('');
SELECT * FROM restore_events(fromHost := NULL, fromDatabase := 'b', fromDatabaseUser := 'u', fromDatabasePassword := 'p');
SELECT * FROM restore_events(fromHost := 'h', fromDatabase := '', fromDatabaseUser := 'u', fromDatabasePassword := 'p');
SELECT * FROM restore_events(fromHost := 'h', fromDatabase := 'b', fromDatabaseUser := NULL, fromDatabasePassword := 'p');
SELECT * FROM restore_events(fromHost := 'h', fromDatabase := 'b', fromDatabaseUser := 'u', fromDatabasePassword := NULL);
SELECT * FROM restore_events_from('dbname=backup', remote_table := '');
SELECT * FROM restore_events_from('dbname=backup', remote_table := 'a.b.c');
-- a bad remote_table is named as such, and not repeated
SELECT * FROM restore_events_from('dbname=backup', remote_table := 'events; DROP TABLE x');
SELECT * FROM sync_events('dbname=backup', remote_table := 'events x');
SELECT * FROM compare_events('dbname=backup', remote_table := '.events');
SELECT * FROM sync_events(NULL);
SELECT * FROM sync_events('');
SELECT * FROM compare_events(NULL);
SELECT * FROM compare_events('');

-- neither a connection string nor a foreign server
SELECT * FROM restore_events_from('no_such_server');
SELECT * FROM sync_events('no_such_server');

-- dblink is needed, but not required by the extension
SELECT * FROM restore_events_from('dbname=backup');
SELECT * FROM sync_events('dbname=backup');
SELECT * FROM compare_events('dbname=backup');
CREATE EXTENSION dblink;

-- no store, unknown store, a table that is not a store
SELECT * FROM restore_events_from('dbname=backup');
SELECT * FROM sync_events('dbname=backup');
SELECT * FROM compare_events('dbname=backup');
SELECT * FROM restore_events_from('dbname=backup', 'no_such_table');
CREATE TABLE not_a_store (id bigint PRIMARY KEY, ts timestamptz, event jsonb);
SELECT * FROM restore_events_from('dbname=backup', 'not_a_store');
SELECT * FROM sync_events('dbname=backup', 'not_a_store');

-- a destination store where a source store is needed, and the reverse
CREATE SCHEMA dest;
SELECT create_event_store('destination', 'dest') IS NOT NULL AS created;
SELECT * FROM restore_events_from('dbname=backup', 'dest.events');
SELECT * FROM restore_events(fromHost := 'h', fromDatabase := 'b', fromDatabaseUser := 'u', fromDatabasePassword := 'p', store := 'dest.events');
SELECT create_event_store('source') IS NOT NULL AS created;
SELECT * FROM sync_events('dbname=backup', 'events');
-- with one source and one destination store, neither needs naming, and
-- restoring into a store that is not empty is refused before connecting
SELECT count(*) FROM append_events(ARRAY['{"n": 1}'::jsonb]);
SELECT * FROM restore_events_from('dbname=backup');
-- but compare_events takes either kind: with two, the store must be named,
-- and the hint says how whatever the function
SELECT * FROM compare_events('dbname=backup');
-- in a transaction whose snapshot predates the store's lock, restoring and
-- syncing are refused before connecting (test/isolation/specs/
-- restore_isolation_level.spec shows why)
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT * FROM sync_events('dbname=backup');
ROLLBACK;
BEGIN ISOLATION LEVEL SERIALIZABLE;
SELECT * FROM restore_events_from('dbname=backup', 'events');
ROLLBACK;
-- store 0 ('-') names no store: it is not taken for "the only one"
SELECT * FROM restore_events_from('dbname=backup', 0);
SELECT * FROM sync_events('dbname=backup', '-');
SELECT * FROM compare_events('dbname=backup', 0);
SELECT * FROM restore_events(fromHost := 'h', fromDatabase := 'b', fromDatabaseUser := 'u', fromDatabasePassword := 'p', store := 0);

-- a non-superuser must give dblink a password: said so before connecting,
-- with a hint at the way that keeps it out of the SQL text
CREATE ROLE regress_restore_user;
GRANT USAGE ON SCHEMA dest TO regress_restore_user;
GRANT SELECT ON dest.events TO regress_restore_user;
GRANT EXECUTE ON FUNCTION sync_events(text, regclass, text, boolean) TO regress_restore_user;
SET ROLE regress_restore_user;
-- (dblink's own detail differs between majors: only ours is shown)
DO $$
DECLARE
  hint text;
BEGIN
  PERFORM * FROM sync_events('dbname=backup', 'dest.events');
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS hint = PG_EXCEPTION_HINT;
  RAISE NOTICE '%: % HINT: %', SQLSTATE, SQLERRM, hint;
END$$;
RESET ROLE;
REVOKE ALL ON SCHEMA dest FROM regress_restore_user;
REVOKE ALL ON dest.events FROM regress_restore_user;
REVOKE ALL ON FUNCTION sync_events(text, regclass, text, boolean) FROM regress_restore_user;
DROP ROLE regress_restore_user;

-- the batch size is bounded
SET schema_mgr.restore_batch_size = 10;
RESET schema_mgr.restore_batch_size;

DROP TABLE not_a_store;
DROP TABLE dest.events;
DROP SCHEMA dest;
DROP TABLE events;
DROP EXTENSION dblink;
SET schema_mgr.allow_drop = on;
DROP EXTENSION schema_mgr;
RESET schema_mgr.allow_drop;
