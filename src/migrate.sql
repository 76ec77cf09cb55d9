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
