-- ----------------------------------------------------------------------
-- examples/demo.sql -- schema_mgr at work, run by examples/demo.sh
--
-- Variables: srcdir (the source tree), sockdir (the cluster's socket
-- directory), loadfile (the io.Manager chain as psql input, made by
-- schema_mgr_load_dir from test/fixtures/iomanager).
-- ----------------------------------------------------------------------
\pset footer off
\set VERBOSITY terse
CREATE DATABASE app;
CREATE DATABASE backup;

\echo
\echo '=== 1. Migrations: the io.Manager schema, kept as 25 V<n>__<description>.sql files'
\c app
CREATE EXTENSION schema_mgr;
CREATE EXTENSION dblink;
\echo '--- registering the files (schema_mgr_load_dir iomanager test/fixtures/iomanager | psql)'
\o /dev/null
\i :loadfile
\o
SELECT component, status, count(*) AS migrations, min(version), max(version)
FROM migration_status() GROUP BY component, status;
\echo '--- SELECT * FROM apply_migrations();'
SELECT component, version, description, outcome FROM apply_migrations();
\echo '--- and again: nothing is pending, nothing is applied'
SELECT count(*) AS applied_this_time FROM apply_migrations();
SELECT current_version('iomanager');
SELECT count(*) AS tables_created FROM pg_tables WHERE schemaname = 'public';
SELECT version, description, checksum, applied_by FROM schema_version
ORDER BY version DESC LIMIT 3;

\echo
\echo '=== 2. The gapless event log'
SELECT create_event_store('source');
\echo '--- a slate client, unchanged: insert_events($$($1[1], $2, ''<json>''), ...$$)'
SELECT insert_events($$($1[1], $2, '{"entityName": "order", "entityId": "o-1", "operation": "created"}'),
                       ($1[2], $2, '{"entityName": "order", "entityId": "o-1", "operation": "paid", "note": "it''s paid"}')$$)
       AS rows_inserted;
\echo '--- a transaction that rolls back leaves no gap'
BEGIN;
SELECT insert_events($$($1[1], $2, '{"entityName": "order", "operation": "lost"}')$$);
ROLLBACK;
\echo '--- the typed API: jsonb[] in, ids out'
SELECT first_id, last_id FROM append_events(ARRAY[
    '{"entityName": "order", "entityId": "o-2", "operation": "created"}',
    '{"entityName": "order", "entityId": "o-2", "operation": "shipped"}']::jsonb[]);
SELECT first_id, last_id FROM append_events(ARRAY(
    SELECT jsonb_build_object('entityName', 'sensor', 'entityId', 's-' || i % 10,
                              'operation', 'reading', 'value', i)
    FROM generate_series(1, 10000) AS i));
SELECT id, event->>'entityId' AS entity, event->>'operation' AS operation
FROM events ORDER BY id LIMIT 5;
SELECT count(*) AS events, min(id), max(id),
       count(*) = max(id) AND min(id) = 1 AS gapless
FROM events;
\echo '--- the log is append-only'
\set ON_ERROR_STOP off
DELETE FROM events WHERE id = 1;
\set ON_ERROR_STOP on

\echo
\echo '=== 3. A backup kept in sync over dblink'
\c backup
CREATE EXTENSION schema_mgr;
CREATE EXTENSION dblink;
SELECT create_event_store('destination');
SELECT format('host=%s dbname=app user=%s', :'sockdir', current_user) AS app_conn,
       format('host=%s dbname=backup user=%s', :'sockdir', current_user) AS backup_conn \gset
SELECT * FROM sync_events(:'app_conn');
SELECT * FROM compare_events(:'app_conn');

\echo
\echo '=== 4. Disaster: the source database is lost and restored from the backup'
\c postgres
DROP DATABASE app;
CREATE DATABASE app;
\c app
CREATE EXTENSION schema_mgr;
CREATE EXTENSION dblink;
SELECT create_event_store('source');
SELECT * FROM restore_events_from(:'backup_conn');
SELECT * FROM compare_events(:'backup_conn');
\echo '--- and the log goes on at the next id'
SELECT first_id, last_id FROM append_events(ARRAY['{"entityName": "order", "operation": "after restore"}']::jsonb[]);
