--
-- The DROP guard: no path drops a non-empty migration history unless
-- schema_mgr.allow_drop is on.
--
CREATE ROLE sm_schema_owner;
CREATE SCHEMA "Tools" AUTHORIZATION sm_schema_owner;
CREATE EXTENSION schema_mgr SCHEMA "Tools";
SELECT "Tools".register_migration('guarded', 1, 'one', 'SELECT 1');
SELECT component, version, outcome FROM "Tools".apply_migrations();

-- DROP OWNED BY the owner of the extension's schema would drop the schema
-- and the extension with it
DROP OWNED BY sm_schema_owner CASCADE;
CREATE ROLE sm_bystander;
DROP OWNED BY sm_bystander, sm_schema_owner CASCADE;

-- the owner of the schema (not a superuser) may drop the schema and
-- everything in it, but not the history
SET ROLE sm_schema_owner;
DROP SCHEMA "Tools" CASCADE;
DROP SCHEMA IF EXISTS nonexistent, "Tools" CASCADE;
RESET ROLE;

-- event triggers fire in replica mode only when enabled ALWAYS
SELECT evtname, evtenabled FROM pg_event_trigger
WHERE evtname = 'schema_mgr_guard_drop';
SET session_replication_role = replica;
DROP EXTENSION schema_mgr;
DROP SCHEMA "Tools" CASCADE;
DROP OWNED BY sm_schema_owner CASCADE;
RESET session_replication_role;

-- the history is still there
SELECT component, version FROM "Tools".schema_version;

-- unrelated drops go through
CREATE SCHEMA tools;
DROP SCHEMA tools;
DROP OWNED BY sm_bystander;
DROP ROLE sm_bystander;

-- allowed on purpose
SET schema_mgr.allow_drop = on;
DROP OWNED BY sm_schema_owner CASCADE;
RESET schema_mgr.allow_drop;
SELECT count(*) FROM pg_extension WHERE extname = 'schema_mgr';
SELECT count(*) FROM pg_namespace WHERE nspname = 'Tools';
DROP ROLE sm_schema_owner;

-- approvals are logged, but are no history of the database: with nothing
-- applied, the extension drops
CREATE EXTENSION schema_mgr;
SELECT register_migration('approved', 1, 'one', 'SELECT 1');
SELECT approve_migration('approved', 1, checksum) FROM migration_sql('approved');
SELECT version, action FROM migration_history;
DROP EXTENSION schema_mgr;
SELECT count(*) FROM pg_extension WHERE extname = 'schema_mgr';
