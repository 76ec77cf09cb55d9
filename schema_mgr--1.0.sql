-- schema_mgr 1.0 install script.  Released: never edit; changes go into the next upgrade script.
\echo Use "CREATE EXTENSION schema_mgr" to load this file. \quit
-- ----------------------------------------------------------------------
-- migrate.sql
--	  Migrations and version tracking: the registry of migrations, the
--	  schema_version history and the functions that register, apply,
--	  baseline and report them.  Implemented in src/migrate.c and
--	  src/checksum.c.
-- ----------------------------------------------------------------------

-- Normalised SHA-256 of migration SQL: a UTF-8 BOM is stripped and CRLF and
-- lone CR line endings count as LF, so a checkout on another OS never
-- yields a false mismatch.
CREATE FUNCTION @extschema@.migration_checksum(sql text)
RETURNS text
AS 'MODULE_PATHNAME', 'sm_migration_checksum'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- The registry: every migration ever registered, per component (chain).
-- applied_checksum is the checksum recorded when the migration was applied
-- or baselined; a row whose applied_checksum differs from its checksum is
-- pending (or was changed after it was applied), and only such rows are in
-- the partial index migration_pending_idx, so finding that nothing is
-- pending is one probe of an empty index however many migrations exist.
CREATE TABLE @extschema@.migration (
	component		text NOT NULL,
	version			bigint NOT NULL,
	description		text NOT NULL,
	sql				text NOT NULL,
	checksum		text NOT NULL
		GENERATED ALWAYS AS (@extschema@.migration_checksum(sql)) STORED,
	registered_at	timestamptz NOT NULL DEFAULT pg_catalog.now(),
	registered_by	name NOT NULL,
	applied_checksum text,
	PRIMARY KEY (component, version),
	CHECK (version OPERATOR(pg_catalog.>) 0),
	CHECK (component OPERATOR(pg_catalog.<>) '')
);
CREATE INDEX migration_pending_idx ON @extschema@.migration (component, version)
	WHERE applied_checksum IS DISTINCT FROM checksum;

-- The history: one row per applied (kind 'run') or baselined (kind
-- 'baseline') version.  checksum is NULL for a baseline marker of a version
-- that was not registered.
CREATE TABLE @extschema@.schema_version (
	component		text NOT NULL,
	version			bigint NOT NULL,
	description		text NOT NULL,
	applied_at		timestamptz NOT NULL DEFAULT pg_catalog.now(),
	checksum		text,
	applied_by		name NOT NULL,
	execution_time	interval NOT NULL DEFAULT '0',
	kind			text NOT NULL DEFAULT 'run',
	PRIMARY KEY (component, version),
	CHECK (kind OPERATOR(pg_catalog.=) ANY (ARRAY['run', 'baseline']))
);

SELECT pg_catalog.pg_extension_config_dump('@extschema@.migration', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.schema_version', '');

-- Nobody but the extension's owner touches the tables directly: the
-- functions below read and write them as the owner.
REVOKE ALL ON @extschema@.migration, @extschema@.schema_version FROM PUBLIC;

CREATE FUNCTION @extschema@.register_migration(
	component text, version bigint, description text, sql text)
RETURNS text
AS 'MODULE_PATHNAME', 'sm_register_migration'
LANGUAGE C VOLATILE;

CREATE FUNCTION @extschema@.apply_migrations(
	component text DEFAULT NULL,
	target_version bigint DEFAULT NULL,
	allow_out_of_order boolean DEFAULT false,
	dry_run boolean DEFAULT false)
RETURNS TABLE (component text, version bigint, description text,
			   duration interval, checksum text, outcome text, error text)
AS 'MODULE_PATHNAME', 'sm_apply_migrations'
LANGUAGE C VOLATILE;

CREATE FUNCTION @extschema@.baseline(component text, version bigint)
RETURNS TABLE (version bigint, description text)
AS 'MODULE_PATHNAME', 'sm_baseline'
LANGUAGE C VOLATILE;

CREATE FUNCTION @extschema@.current_version(component text)
RETURNS bigint
AS 'MODULE_PATHNAME', 'sm_current_version'
LANGUAGE C STABLE;

CREATE FUNCTION @extschema@.migration_status(component text DEFAULT NULL)
RETURNS TABLE (component text, version bigint, description text, status text,
			   checksum text, applied_at timestamptz, applied_by name,
			   execution_time interval)
AS 'MODULE_PATHNAME', 'sm_migration_status'
LANGUAGE C STABLE;

-- Server-side loader: registers every V<version>__<description>.sql file of
-- a directory on the database server.  Reads the files with the caller's
-- privileges (superuser or pg_read_server_files).
CREATE FUNCTION @extschema@.register_migrations_from_directory(
	component text, path text)
RETURNS TABLE (version bigint, description text, file text, result text)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	f text;
	m text[];
	seen bigint[] := '{}';
BEGIN
	IF path IS NULL OR path = '' THEN
		RAISE EXCEPTION 'directory path must not be empty'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	FOR f, m IN
		SELECT d, regexp_match(d, '^V([0-9]+)__(.+)\.sql$')
		FROM pg_ls_dir(path) AS d
		ORDER BY (regexp_match(d, '^V([0-9]+)__'))[1]::numeric NULLS LAST, d
	LOOP
		IF m IS NULL THEN
			IF f LIKE '%.sql' THEN
				RAISE NOTICE 'skipping file "%", its name does not match V<version>__<description>.sql', f;
			END IF;
			CONTINUE;
		END IF;
		-- as the client loader: leading zeros do not count
		IF length(ltrim(m[1], '0')) NOT BETWEEN 1 AND 18 THEN
			RAISE EXCEPTION 'invalid migration version in file name "%"', f
				USING ERRCODE = 'invalid_parameter_value',
					  DETAIL = 'Migration versions must be positive integers below 10^18.';
		END IF;
		version := m[1]::bigint;
		IF version = ANY (seen) THEN
			RAISE EXCEPTION 'migration version % appears in more than one file', version
				USING ERRCODE = 'duplicate_object',
					  DETAIL = format('The second one is "%s".', f);
		END IF;
		seen := seen || version;
		description := replace(m[2], '_', ' ');
		file := f;
		result := @extschema@.register_migration(
			component, version, description,
			pg_read_file(rtrim(path, '/') || '/' || f));
		RETURN NEXT;
	END LOOP;
END
$$;

-- Refuse DROP EXTENSION schema_mgr (or DROP SCHEMA of its schema, or DROP
-- OWNED BY its owner) while the history has rows, unless
-- schema_mgr.allow_drop is on.
CREATE FUNCTION @extschema@.guard_drop()
RETURNS event_trigger
AS 'MODULE_PATHNAME', 'sm_guard_drop'
LANGUAGE C;

CREATE EVENT TRIGGER schema_mgr_guard_drop ON ddl_command_start
	WHEN TAG IN ('DROP EXTENSION', 'DROP SCHEMA', 'DROP OWNED')
	EXECUTE FUNCTION @extschema@.guard_drop();

-- Writing functions: only those granted EXECUTE may use them.
REVOKE ALL ON FUNCTION @extschema@.register_migration(text, bigint, text, text),
	@extschema@.apply_migrations(text, bigint, boolean, boolean),
	@extschema@.baseline(text, bigint),
	@extschema@.register_migrations_from_directory(text, text),
	@extschema@.guard_drop()
	FROM PUBLIC;

-- ----------------------------------------------------------------------
-- events.sql: gapless event stores (implemented in events.c and
-- event_text.c).
--
-- The registry below is an extension member (dropped with the extension,
-- its rows kept by pg_dump through pg_extension_config_dump).  The events
-- tables themselves are user data, created by create_event_store() and
-- owned by the caller: they are not extension members, so DROP EXTENSION
-- never takes them along.
-- ----------------------------------------------------------------------

CREATE TABLE @extschema@.event_store (
    relid       pg_catalog.regclass PRIMARY KEY,
    kind        pg_catalog.text NOT NULL
                CHECK (kind OPERATOR(pg_catalog.=) ANY (ARRAY['source', 'destination'])),
    notify      pg_catalog.text NOT NULL DEFAULT 'row'
                CHECK (notify OPERATOR(pg_catalog.=) ANY (ARRAY['row', 'statement', 'none'])),
    created_at  pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE @extschema@.event_store IS
    'event stores of this database: events tables created by create_event_store()';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.event_store', '');
-- everyone may see which stores exist; only the extension owner writes here
-- (create_event_store and set_event_store_notify do it on the caller's behalf)
GRANT SELECT ON @extschema@.event_store TO PUBLIC;

-- Backends cache the registry; this tells them when it changed.
CREATE FUNCTION @extschema@.event_store_changed()
RETURNS trigger
LANGUAGE C
AS 'MODULE_PATHNAME', 'event_store_changed';
CREATE TRIGGER event_store_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @extschema@.event_store
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.event_store_changed();

-- Dropping an events table removes its registration.
CREATE FUNCTION @extschema@.event_store_sql_drop()
RETURNS event_trigger
LANGUAGE C
AS 'MODULE_PATHNAME', 'event_store_sql_drop';
CREATE EVENT TRIGGER schema_mgr_event_store_drop ON sql_drop
    EXECUTE FUNCTION @extschema@.event_store_sql_drop();

-- The append-only guard of source stores (BEFORE INSERT FOR EACH ROW and
-- BEFORE UPDATE OR DELETE OR TRUNCATE FOR EACH STATEMENT).
CREATE FUNCTION @extschema@.events_guard()
RETURNS trigger
LANGUAGE C
AS 'MODULE_PATHNAME', 'events_guard';

CREATE FUNCTION @extschema@.create_event_store(
    table_type      pg_catalog.text,
    store_schema    pg_catalog.name DEFAULT NULL,
    table_name      pg_catalog.name DEFAULT 'events',
    notify          pg_catalog.text DEFAULT 'row')
RETURNS pg_catalog.regclass
LANGUAGE C
AS 'MODULE_PATHNAME', 'create_event_store';
COMMENT ON FUNCTION @extschema@.create_event_store(pg_catalog.text, pg_catalog.name, pg_catalog.name, pg_catalog.text) IS
    'create an events table of kind source or destination and register it';

CREATE FUNCTION @extschema@.register_event_store(
    store       pg_catalog.regclass,
    table_type  pg_catalog.text,
    notify      pg_catalog.text DEFAULT 'row')
RETURNS pg_catalog.regclass
LANGUAGE C
AS 'MODULE_PATHNAME', 'register_event_store';
COMMENT ON FUNCTION @extschema@.register_event_store(pg_catalog.regclass, pg_catalog.text, pg_catalog.text) IS
    'make an existing events table (e.g. from init-slate-db) a registered event store';

CREATE FUNCTION @extschema@.set_event_store_notify(
    store   pg_catalog.regclass,
    notify  pg_catalog.text)
RETURNS void
LANGUAGE C
AS 'MODULE_PATHNAME', 'set_event_store_notify';
COMMENT ON FUNCTION @extschema@.set_event_store_notify(pg_catalog.regclass, pg_catalog.text) IS
    'choose what insert_events notifies on channel eventsinsert: row, statement or none';

-- The C functions below use only schema-qualified names in the SQL they run
-- (and run DDL under search_path "pg_catalog, pg_temp" once the target
-- schema is resolved), so they carry no SET search_path: create_event_store
-- must see the caller's creation schema, and insert_events keeps its cached
-- plan valid under the caller's setting without a per-call GUC switch.

-- The slate-compatible call: insert_events('($1[1], $2, ''{...}''), ...').
-- Runs with the caller's rights: the caller needs INSERT on the events table
-- (the guard trigger refuses any INSERT that does not come from here).
CREATE FUNCTION @extschema@.insert_events(
    insertValues    pg_catalog.text,
    store           pg_catalog.regclass DEFAULT NULL)
RETURNS pg_catalog.int4
LANGUAGE C
AS 'MODULE_PATHNAME', 'insert_events_text';
COMMENT ON FUNCTION @extschema@.insert_events(pg_catalog.text, pg_catalog.regclass) IS
    'append events given as a slate VALUES list; returns the number of rows inserted';

-- The typed call for new clients.
CREATE FUNCTION @extschema@.insert_events(
    events  pg_catalog.jsonb[],
    store   pg_catalog.regclass DEFAULT NULL,
    OUT first_id pg_catalog.int8,
    OUT last_id  pg_catalog.int8,
    OUT ts       pg_catalog.timestamptz)
RETURNS record
LANGUAGE C
AS 'MODULE_PATHNAME', 'insert_events_array';
COMMENT ON FUNCTION @extschema@.insert_events(pg_catalog.jsonb[], pg_catalog.regclass) IS
    'append events; returns the first and last id assigned and their timestamp';

-- ----------------------------------------------------------------------
-- restore.sql: disaster recovery over dblink: restore (src/restore.c), sync
-- (src/sync.c) and compare (src/compare.c), through src/remote.c
--
-- restore_events rebuilds an empty source store from an online backup,
-- sync_events brings a destination store up to date from a source, and
-- compare_events finds the first id at which two stores differ.  dblink
-- must be installed in the database (CREATE EXTENSION dblink); it is found
-- at call time, so schema_mgr does not require it.
--
-- Privileges: these functions run as the caller (no SECURITY DEFINER) and
-- are revoked from PUBLIC.  They connect with dblink_connect (not
-- dblink_connect_u), so a non-superuser must authenticate to the remote
-- server with a password (dblink's rule), e.g. one kept in a user mapping.
-- Restoring also needs INSERT on the store and, for the fast path that
-- rebuilds the secondary indexes after loading, ownership of it.
-- ----------------------------------------------------------------------

-- The slate-compatible form.  The password is part of the SQL text, so it
-- can reach the server log through log_statement or pg_stat_activity;
-- schema_mgr's own messages never contain it and hide the statement text.
-- Prefer the connection-string / foreign-server form below.
CREATE FUNCTION @extschema@.restore_events(
	fromHost text,
	fromDatabase text,
	fromDatabaseUser text,
	fromDatabasePassword text,
	store regclass DEFAULT NULL,
	fromPort integer DEFAULT NULL,
	remote_table text DEFAULT 'events',
	OUT rows_restored bigint,
	OUT next_insert_id bigint)
RETURNS record
AS 'MODULE_PATHNAME', 'sm_restore_events_password'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;

COMMENT ON FUNCTION @extschema@.restore_events(text, text, text, text, regclass, integer, text) IS
'restore an empty source event store from a backup database (slate-compatible; password in the SQL text)';

-- connection: a libpq connection string or the name of a dblink foreign
-- server (credentials in a user mapping, or .pgpass for a superuser).
CREATE FUNCTION @extschema@.restore_events(
	connection text,
	store regclass DEFAULT NULL,
	remote_table text DEFAULT 'events',
	OUT rows_restored bigint,
	OUT next_insert_id bigint)
RETURNS record
AS 'MODULE_PATHNAME', 'sm_restore_events'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;

COMMENT ON FUNCTION @extschema@.restore_events(text, regclass, text) IS
'restore an empty source event store from a backup database given by a connection string or foreign server';

CREATE FUNCTION @extschema@.sync_events(
	source text,
	store regclass DEFAULT NULL,
	remote_table text DEFAULT 'events',
	verify_all boolean DEFAULT false,
	OUT rows_copied bigint,
	OUT max_id bigint)
RETURNS record
AS 'MODULE_PATHNAME', 'sm_sync_events'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;

COMMENT ON FUNCTION @extschema@.sync_events(text, regclass, text, boolean) IS
'copy the events of a source store that a destination store does not have yet';

CREATE FUNCTION @extschema@.compare_events(
	other text,
	store regclass DEFAULT NULL,
	remote_table text DEFAULT 'events',
	OUT equal boolean,
	OUT first_difference bigint,
	OUT local_max_id bigint,
	OUT remote_max_id bigint)
RETURNS record
AS 'MODULE_PATHNAME', 'sm_compare_events'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;

COMMENT ON FUNCTION @extschema@.compare_events(text, regclass, text) IS
'compare an event store with the events table of another database; names the first differing id';

REVOKE ALL ON FUNCTION @extschema@.restore_events(text, text, text, text, regclass, integer, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.restore_events(text, regclass, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.sync_events(text, regclass, text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.compare_events(text, regclass, text) FROM PUBLIC;
