-- ----------------------------------------------------------------------
-- schema_mgr--1.0--1.1.sql
--	  Upgrade from 1.0 to 1.1.  A fresh CREATE EXTENSION schema_mgr runs
--	  schema_mgr--1.0.sql and then this script, so both paths end with the
--	  same objects (test: sql/oldextversions.sql).  Everything here must
--	  keep the data of a 1.0 installation working.
-- ----------------------------------------------------------------------
\echo Use "ALTER EXTENSION schema_mgr UPDATE TO '1.1'" to load this file. \quit

-- ----------------------------------------------------------------------
-- Migrations and version tracking
-- ----------------------------------------------------------------------

-- The DROP guard fires with session_replication_role = replica too: event
-- triggers enabled plain ORIGIN are skipped there, and SET
-- session_replication_role = replica; DROP EXTENSION schema_mgr would drop
-- the history unguarded.
ALTER EVENT TRIGGER schema_mgr_guard_drop ENABLE ALWAYS;

-- Components have owners.  A component belongs to the role that first
-- registered (or baselined) into it; roles with the privileges of the owner
-- (its members: GRANT owner TO role is the grant) and the extension's owner
-- may write into it.  Roles are kept by oid and by name: a role is the
-- owner or the registrant only while both still match, so a dropped and
-- re-created role of the same name (or a restore into another cluster)
-- is not taken for the original.
CREATE TABLE @extschema@.component (
	component		text PRIMARY KEY,
	owner			oid NOT NULL,
	owner_name		name NOT NULL,
	created_at		timestamptz NOT NULL DEFAULT pg_catalog.now(),
	CHECK (component OPERATOR(pg_catalog.<>) '')
);
SELECT pg_catalog.pg_extension_config_dump('@extschema@.component', '');
REVOKE ALL ON @extschema@.component FROM PUBLIC;
GRANT SELECT ON @extschema@.component TO PUBLIC;

-- Who registered a migration (registered_by stays its name), and who
-- approved its SQL, by checksum, for roles the registrant lacks the
-- privileges of.
ALTER TABLE @extschema@.migration
	ADD COLUMN registrant oid,
	ADD COLUMN approved_checksum text,
	ADD COLUMN approver oid,
	ADD COLUMN approved_by name,
	ADD COLUMN approved_at timestamptz;

-- 1.0 rows: registrants are the roles of that name that exist now (a
-- registrant that no longer exists stays NULL: its pending migrations need
-- an approval); each component belongs to its earliest registrant that
-- still exists, or else to the extension's owner.
UPDATE @extschema@.migration m SET registrant = r.oid
FROM pg_catalog.pg_roles r
WHERE r.rolname OPERATOR(pg_catalog.=) m.registered_by;

INSERT INTO @extschema@.component (component, owner, owner_name, created_at)
SELECT c.component, r.oid, r.rolname, c.created_at
FROM (SELECT x.component, pg_catalog.min(x.at) AS created_at
	  FROM (SELECT component, registered_at AS at FROM @extschema@.migration
			UNION ALL
			SELECT component, applied_at FROM @extschema@.schema_version) x
	  GROUP BY x.component) c
JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) COALESCE(
	(SELECT m.registrant FROM @extschema@.migration m
	 WHERE m.component OPERATOR(pg_catalog.=) c.component
	   AND m.registrant IS NOT NULL
	 ORDER BY m.registered_at, m.version LIMIT 1),
	(SELECT e.extowner FROM pg_catalog.pg_extension e
	 WHERE e.extname OPERATOR(pg_catalog.=) 'schema_mgr'));

-- Give a component a new owner (a group role, so that its members may
-- write into it).  Allowed to roles with the privileges of the current
-- owner that are members of the new one, and to the extension's owner.
CREATE FUNCTION @extschema@.set_component_owner(component text, new_owner regrole)
RETURNS void
AS 'MODULE_PATHNAME', 'sm_set_component_owner'
LANGUAGE C VOLATILE;

-- Approve the SQL of a registered migration, by its checksum, so that
-- roles whose privileges the approver has may apply it.
CREATE FUNCTION @extschema@.approve_migration(component text, version bigint, checksum text)
RETURNS text
AS 'MODULE_PATHNAME', 'sm_approve_migration'
LANGUAGE C VOLATILE;

-- Read registered SQL: revoked from PUBLIC, since migrations can hold
-- secrets (CREATE ROLE ... PASSWORD); grant it to reviewers.
-- approved_by is shown only while the approval holds for the current SQL.
CREATE FUNCTION @extschema@.migration_sql(component text DEFAULT NULL)
RETURNS TABLE (component text, version bigint, description text,
			   checksum text, registered_by name, approved_by name, sql text)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT m.component, m.version, m.description, m.checksum, m.registered_by,
		   CASE WHEN m.approved_checksum OPERATOR(pg_catalog.=) m.checksum
				THEN m.approved_by END,
		   m.sql
	FROM @extschema@.migration m
	WHERE $1 IS NULL OR m.component OPERATOR(pg_catalog.=) $1
	ORDER BY m.component COLLATE "C", m.version
$$;

-- The registry's applied_checksum caches the history for the fast path;
-- deleting history rows by hand (to run a migration again) or truncating
-- the history makes those migrations pending again, so that
-- migration_status and apply_migrations agree.  Enabled ALWAYS, so that
-- replica mode does not skip it.
CREATE FUNCTION @extschema@.schema_version_forget()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF TG_OP OPERATOR(pg_catalog.=) 'TRUNCATE' THEN
		UPDATE @extschema@.migration SET applied_checksum = NULL
		WHERE applied_checksum IS NOT NULL;
	ELSE
		UPDATE @extschema@.migration m SET applied_checksum = NULL
		FROM forgotten f
		WHERE m.component OPERATOR(pg_catalog.=) f.component
		  AND m.version OPERATOR(pg_catalog.=) f.version
		  AND NOT EXISTS (SELECT FROM @extschema@.schema_version s
						  WHERE s.component OPERATOR(pg_catalog.=) m.component
							AND s.version OPERATOR(pg_catalog.=) m.version);
	END IF;
	RETURN NULL;
END
$$;
CREATE TRIGGER schema_version_forget
	AFTER DELETE ON @extschema@.schema_version
	REFERENCING OLD TABLE AS forgotten
	FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.schema_version_forget();
CREATE TRIGGER schema_version_forget_all
	AFTER TRUNCATE ON @extschema@.schema_version
	FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.schema_version_forget();
ALTER TABLE @extschema@.schema_version
	ENABLE ALWAYS TRIGGER schema_version_forget,
	ENABLE ALWAYS TRIGGER schema_version_forget_all;

-- Realign the registry with the history after edits that bypassed the
-- triggers above (Flyway's repair): registry rows marked applied without a
-- history row become pending again, and history rows of the same SQL
-- mark their registry rows applied.
CREATE FUNCTION @extschema@.repair(component text DEFAULT NULL)
RETURNS TABLE (component text, version bigint, action text)
AS 'MODULE_PATHNAME', 'sm_repair'
LANGUAGE C VOLATILE;

-- The server-side loader reads the layouts the client loader reads
-- (bin/schema_mgr_load_dir): Flyway's V<version>__<description>.sql,
-- golang-migrate's <version>_<description>.up.sql (the .down.sql files are
-- not loaded), dbmate's <version>_<description>.sql (the lines between
-- "-- migrate:up" and "-- migrate:down", each ended by a newline; an up
-- line saying transaction:false becomes the first line
-- "-- schema_mgr:no-transaction", which makes the migration
-- non-transactional), Prisma's
-- <version>_<description>/migration.sql (its migration_lock.toml is not
-- loaded).  Names starting with "." are
-- not looked at; anything else is an error unless ignore_unknown.
-- migration_files() says what a directory holds, one row per entry: the
-- files to load with their version, description and SQL, and the entries
-- it does not load with why.  Reading the directory and the files takes
-- the caller's own privileges (superuser or pg_read_server_files).
CREATE FUNCTION @extschema@.migration_files(path text, ignore_unknown boolean DEFAULT false)
RETURNS TABLE (version bigint, description text, file text, sql text, note text)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	f text;
	dir text;
	m text[];
	v text;
	seen bigint[] := '{}';
	unknown text[] := '{}';
	dbmate boolean;
	t text;
	i integer;
BEGIN
	IF path IS NULL OR path OPERATOR(pg_catalog.=) '' THEN
		RAISE EXCEPTION 'directory path must not be empty'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	dir := pg_catalog.rtrim(path, '/');
	FOR f IN SELECT d FROM pg_catalog.pg_ls_dir(path) AS d
			 WHERE d OPERATOR(pg_catalog.!~) '^[.]' ORDER BY d
	LOOP
		file := f;
		sql := NULL;
		note := NULL;
		version := NULL;
		description := NULL;
		m := NULL;
		dbmate := false;
		IF (pg_catalog.pg_stat_file(dir OPERATOR(pg_catalog.||) '/' OPERATOR(pg_catalog.||) f)).isdir THEN
			m := pg_catalog.regexp_match(f, '^([0-9]+)_(.+)$');
			IF m IS NOT NULL AND pg_catalog.pg_stat_file(dir OPERATOR(pg_catalog.||) '/'
					OPERATOR(pg_catalog.||) f OPERATOR(pg_catalog.||) '/migration.sql', true) IS NULL THEN
				m := NULL;
			END IF;
			IF m IS NULL THEN
				unknown := unknown OPERATOR(pg_catalog.||) pg_catalog.format(
					'"%s": not a <version>_<name> directory with a migration.sql', f);
				CONTINUE;
			END IF;
			file := f OPERATOR(pg_catalog.||) '/migration.sql';
		ELSIF f OPERATOR(pg_catalog.~) '^[0-9]+_.+[.]down[.]sql$' THEN
			note := 'a down migration, not loaded';
		ELSIF f OPERATOR(pg_catalog.=) 'migration_lock.toml' THEN
			note := 'Prisma''s lock file, not loaded';
		ELSIF f OPERATOR(pg_catalog.~) '^[0-9]+_.+[.]sql$' AND f OPERATOR(pg_catalog.!~) '[.]up[.]sql$' THEN
			t := pg_catalog.pg_read_file(dir OPERATOR(pg_catalog.||) '/' OPERATOR(pg_catalog.||) f);
			IF t OPERATOR(pg_catalog.!~) '(^|\n)-- migrate:up' THEN
				unknown := unknown OPERATOR(pg_catalog.||) pg_catalog.format(
					'"%s": a <version>_<name>.sql file without a "-- migrate:up" line', f);
				CONTINUE;
			END IF;
			m := pg_catalog.regexp_match(f, '^([0-9]+)_(.+)[.]sql$');
			dbmate := true;
		ELSE
			m := COALESCE(pg_catalog.regexp_match(f, '^V([0-9]+)__(.+)[.]sql$'),
						  pg_catalog.regexp_match(f, '^([0-9]+)_(.+)[.]up[.]sql$'));
			IF m IS NULL THEN
				unknown := unknown OPERATOR(pg_catalog.||) pg_catalog.format(
					'"%s": not named as a migration', f);
				CONTINUE;
			END IF;
		END IF;
		IF m IS NOT NULL THEN
			-- as the client loader: leading zeros do not count
			v := pg_catalog.ltrim(m[1], '0');
			IF pg_catalog.length(v) NOT BETWEEN 1 AND 18 THEN
				RAISE EXCEPTION 'invalid migration version in file name "%"', f
					USING ERRCODE = 'invalid_parameter_value',
						  DETAIL = 'Migration versions must be positive integers below 10^18.';
			END IF;
			version := v::bigint;
			IF version OPERATOR(pg_catalog.=) ANY (seen) THEN
				RAISE EXCEPTION 'migration version % appears in more than one file', version
					USING ERRCODE = 'duplicate_object',
						  DETAIL = pg_catalog.format('The second one is "%s".', file);
			END IF;
			seen := seen OPERATOR(pg_catalog.||) version;
			description := pg_catalog.replace(m[2], '_', ' ');
			IF NOT dbmate THEN
				sql := pg_catalog.pg_read_file(dir OPERATOR(pg_catalog.||) '/' OPERATOR(pg_catalog.||) file);
			ELSE
				-- the lines after the "-- migrate:up" line, up to the
				-- "-- migrate:down" line, each ended by a newline
				i := pg_catalog.strpos(E'\n' OPERATOR(pg_catalog.||) t, E'\n-- migrate:up');
				t := pg_catalog.substr(t, i);
				i := pg_catalog.strpos(t, E'\n');
				-- the marker line first, when the up line says transaction:false
				sql := CASE WHEN (CASE WHEN i OPERATOR(pg_catalog.=) 0 THEN t
										ELSE pg_catalog.substr(t, 1, i) END)
								  OPERATOR(pg_catalog.~) '[ \t]transaction:false([ \t\r\n]|$)'
							 THEN E'-- schema_mgr:no-transaction\n' END;
				t := CASE WHEN i OPERATOR(pg_catalog.=) 0 THEN ''
						  ELSE pg_catalog.substr(t, i OPERATOR(pg_catalog.+) 1) END;
				i := pg_catalog.strpos(E'\n' OPERATOR(pg_catalog.||) t, E'\n-- migrate:down');
				IF i OPERATOR(pg_catalog.>) 0 THEN
					t := pg_catalog.substr(t, 1, i OPERATOR(pg_catalog.-) 1);
				END IF;
				IF t OPERATOR(pg_catalog.<>) '' AND pg_catalog.right(t, 1) OPERATOR(pg_catalog.<>) E'\n' THEN
					t := t OPERATOR(pg_catalog.||) E'\n';
				END IF;
				sql := COALESCE(sql, '') OPERATOR(pg_catalog.||) t;
			END IF;
		END IF;
		RETURN NEXT;
	END LOOP;
	IF pg_catalog.cardinality(unknown) OPERATOR(pg_catalog.>) 0 THEN
		IF NOT ignore_unknown THEN
			RAISE EXCEPTION 'cannot interpret % entr% of directory "%"',
				pg_catalog.cardinality(unknown),
				CASE WHEN pg_catalog.cardinality(unknown) OPERATOR(pg_catalog.=) 1 THEN 'y' ELSE 'ies' END,
				path
				USING ERRCODE = 'invalid_parameter_value',
					  DETAIL = pg_catalog.array_to_string(unknown[1:10], E'\n'),
					  HINT = 'Name migrations V<version>__<description>.sql, <version>_<description>.up.sql, <version>_<description>.sql with -- migrate:up, or <version>_<description>/migration.sql, or pass ignore_unknown => true to ignore other files.';
		END IF;
		FOREACH f IN ARRAY unknown LOOP
			version := NULL; description := NULL; sql := NULL;
			file := pg_catalog.split_part(f, '"', 2);
			note := 'ignored: ' OPERATOR(pg_catalog.||) pg_catalog.split_part(f, ': ', 2);
			RETURN NEXT;
		END LOOP;
	END IF;
END
$$;

-- The loaders: register every migration migration_files() finds; the
-- entries not loaded are rows too, with why.  The 1.0 two-argument form
-- keeps a body of its own rather than calling the new one, so that roles
-- granted EXECUTE on it keep working without a grant on the new form.
CREATE FUNCTION @extschema@.register_migrations_from_directory(
	component text, path text, ignore_unknown boolean)
RETURNS TABLE (version bigint, description text, file text, result text)
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT f.version, f.description, f.file,
		   CASE WHEN f.sql IS NULL THEN f.note
				ELSE @extschema@.register_migration($1, f.version, f.description, f.sql) END
	FROM @extschema@.migration_files($2, $3) f
	ORDER BY f.version NULLS LAST, f.file
$$;

CREATE OR REPLACE FUNCTION @extschema@.register_migrations_from_directory(
	component text, path text)
RETURNS TABLE (version bigint, description text, file text, result text)
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT f.version, f.description, f.file,
		   CASE WHEN f.sql IS NULL THEN f.note
				ELSE @extschema@.register_migration($1, f.version, f.description, f.sql) END
	FROM @extschema@.migration_files($2, false) f
	ORDER BY f.version NULLS LAST, f.file
$$;

REVOKE ALL ON FUNCTION @extschema@.register_migrations_from_directory(text, text, boolean)
	FROM PUBLIC;

-- Apply pending migrations one transaction each: the procedure commits
-- after every migration (each still atomic with its history row, each
-- under its component's transaction-scoped lock), so a failure leaves the
-- migrations before it applied, a migration may use an enum value an
-- earlier one added, and long chains do not fill the lock table.  applied
-- is set to how many migrations the call applied.
CREATE PROCEDURE @extschema@.apply_migrations_stepwise(
	component text DEFAULT NULL,
	target_version bigint DEFAULT NULL,
	allow_out_of_order boolean DEFAULT false,
	INOUT applied integer DEFAULT NULL)
AS 'MODULE_PATHNAME', 'sm_apply_migrations_stepwise'
LANGUAGE C;

REVOKE ALL ON PROCEDURE @extschema@.apply_migrations_stepwise(text, bigint, boolean, integer)
	FROM PUBLIC;

REVOKE ALL ON FUNCTION @extschema@.set_component_owner(text, regrole),
	@extschema@.repair(text),
	@extschema@.schema_version_forget(),
	@extschema@.approve_migration(text, bigint, text),
	@extschema@.migration_sql(text)
	FROM PUBLIC;


-- ----------------------------------------------------------------------
-- Event stores
-- ----------------------------------------------------------------------

-- pg_dump keeps only the registrations of tables that exist and outlive a
-- session: a registration dumped without its table would come back as a
-- bare oid that a restored database may give to an unrelated table.
SELECT pg_catalog.pg_extension_config_dump('@extschema@.event_store',
    'WHERE EXISTS (SELECT FROM pg_catalog.pg_class c'
    ' WHERE c.oid OPERATOR(pg_catalog.=) relid'
    ' AND c.relpersistence OPERATOR(pg_catalog.<>) ''t'')');

-- Slate's tools find a source database by names: the replicator's
-- start-up check wants exactly one routine named insert_events and one
-- named restore_events (slate's), functions notify_event_insert and
-- filter_sql_command, and the triggers notify_insert and check_sql_command
-- on events.  The typed insert_events and the connection-string
-- restore_events get names of their own (the C functions stay the same).
ALTER FUNCTION @extschema@.insert_events(pg_catalog.jsonb[], pg_catalog.regclass)
    RENAME TO append_events;
ALTER FUNCTION @extschema@.restore_events(pg_catalog.text, pg_catalog.regclass, pg_catalog.text)
    RENAME TO restore_events_from;

-- check_sql_command's function, under slate's name
CREATE FUNCTION @extschema@.filter_sql_command()
RETURNS trigger
LANGUAGE C
AS 'MODULE_PATHNAME', 'events_guard';

-- notify_insert's function: insert_events sends the notifications itself,
-- so this one does nothing; it is there for the tools that look for it
CREATE FUNCTION @extschema@.notify_event_insert()
RETURNS trigger
LANGUAGE C
AS 'MODULE_PATHNAME', 'events_notify_insert';

-- the function of the view "id" that a source store named events gets
-- beside it (slate's id table, which slate's tools look for)
CREATE FUNCTION @extschema@.event_store_next_id(store pg_catalog.text)
RETURNS pg_catalog.int8
LANGUAGE C STABLE
AS 'MODULE_PATHNAME', 'event_store_next_id';
COMMENT ON FUNCTION @extschema@.event_store_next_id(pg_catalog.text) IS
    'the next id insert_events assigns in the store named';

-- Existing source stores get the same triggers as new ones: the guard
-- fires in replica mode too (ENABLE ALWAYS: a logical replication apply
-- worker runs in that mode, and a row it replicated into a source store
-- would take an id insert_events assigns), under slate's names.
DO $$
DECLARE
    t record;
BEGIN
    FOR t IN
        SELECT s.relid AS store,
               (SELECT tg.tgfoid OPERATOR(pg_catalog.=) '@extschema@.events_guard()'::pg_catalog.regprocedure
                FROM pg_catalog.pg_trigger tg
                WHERE tg.tgrelid OPERATOR(pg_catalog.=) s.relid
                  AND tg.tgname OPERATOR(pg_catalog.=) 'check_sql_command') AS ours,
               EXISTS (SELECT FROM pg_catalog.pg_trigger tg
                       WHERE tg.tgrelid OPERATOR(pg_catalog.=) s.relid
                         AND tg.tgname OPERATOR(pg_catalog.=) 'notify_insert') AS has_notify
        FROM @extschema@.event_store s
        WHERE s.kind OPERATOR(pg_catalog.=) 'source'
          AND EXISTS (SELECT FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) s.relid)
    LOOP
        IF t.ours THEN
            EXECUTE pg_catalog.format('CREATE OR REPLACE TRIGGER check_sql_command'
                ' BEFORE UPDATE OR DELETE OR TRUNCATE ON %s FOR EACH STATEMENT'
                ' EXECUTE FUNCTION @extschema@.filter_sql_command()', t.store);
            EXECUTE pg_catalog.format('ALTER TABLE %s ENABLE ALWAYS TRIGGER check_sql_command', t.store);
        END IF;
        IF EXISTS (SELECT FROM pg_catalog.pg_trigger tg
                   WHERE tg.tgrelid OPERATOR(pg_catalog.=) t.store
                     AND tg.tgname OPERATOR(pg_catalog.=) 'check_insert'
                     AND tg.tgfoid OPERATOR(pg_catalog.=) '@extschema@.events_guard()'::pg_catalog.regprocedure) THEN
            EXECUTE pg_catalog.format('ALTER TABLE %s ENABLE ALWAYS TRIGGER check_insert', t.store);
        END IF;
        IF NOT t.has_notify THEN
            EXECUTE pg_catalog.format('CREATE TRIGGER notify_insert AFTER INSERT ON %s'
                ' FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.notify_event_insert()', t.store);
        END IF;
    END LOOP;
END
$$;


-- When insert_events hands a store's allocator to the next writer: once
-- the commit is flushed ('durable', 1.0's behaviour), or once its commit
-- record is written and it is visible, the flush following before the
-- caller is answered ('grouped': concurrent commits share flushes).
ALTER TABLE @extschema@.event_store
    ADD COLUMN commit_mode pg_catalog.text NOT NULL DEFAULT 'durable'
    CHECK (commit_mode OPERATOR(pg_catalog.=) ANY (ARRAY['durable', 'grouped']));

CREATE FUNCTION @extschema@.set_event_store_commit(
    store       pg_catalog.regclass,
    commit_mode pg_catalog.text)
RETURNS void
LANGUAGE C
AS 'MODULE_PATHNAME', 'set_event_store_commit';
COMMENT ON FUNCTION @extschema@.set_event_store_commit(pg_catalog.regclass, pg_catalog.text) IS
    'choose when insert_events hands the allocator on: durable (after the flush) or grouped (before it)';

-- ----------------------------------------------------------------------
-- Restore, sync and compare
-- ----------------------------------------------------------------------

