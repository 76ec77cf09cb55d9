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
-- (bin/schema_mgr_load_dir): Flyway's V<version>__<description>.sql, its
-- repeatable R__<description>.sql and its undo U<version>__<description>.sql,
-- golang-migrate's <version>_<description>.up.sql with the undo
-- <version>_<description>.down.sql, dbmate's <version>_<description>.sql
-- (the lines between "-- migrate:up" and "-- migrate:down", each ended by a
-- newline; the non-blank lines after "-- migrate:down" are its undo; an
-- up line saying transaction:false becomes the first line
-- "-- schema_mgr:no-transaction", which makes the migration
-- non-transactional),
-- Prisma's <version>_<description>/migration.sql (its migration_lock.toml
-- is not loaded).  Names starting with "." are not looked at; anything
-- else is an error unless ignore_unknown, and so is an undo file without
-- its migration.  migration_files() says what a directory holds, one row
-- per entry: the files to load with their version (NULL: repeatable),
-- description, SQL and undo SQL, and the entries it does not load itself
-- with why (an undo file is loaded with its migration).  Reading the
-- directory and the files takes the caller's own privileges (superuser or
-- pg_read_server_files).  A file that is not in the database's encoding
-- is an error that names it.
CREATE FUNCTION @extschema@.migration_files(path text, ignore_unknown boolean DEFAULT false)
RETURNS TABLE (version bigint, description text, file text, sql text, note text,
			   undo text)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	f text;
	dir text;
	m text[];
	v text;
	seen bigint[] := '{}';
	names text[] := '{}';
	unknown text[] := '{}';
	undo_versions bigint[] := '{}';
	undo_files text[] := '{}';
	undo_used boolean[] := '{}';
	dbmate boolean;
	t text;
	i integer;
	reading text;
	msg text;
BEGIN
	IF path IS NULL OR path OPERATOR(pg_catalog.=) '' THEN
		RAISE EXCEPTION 'directory path must not be empty'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	dir := pg_catalog.rtrim(path, '/');
	-- the undo files first: each goes with the migration of its version
	FOR f, m IN SELECT d, COALESCE(pg_catalog.regexp_match(d, '^U([0-9]+)__(.+)[.]sql$'),
								   pg_catalog.regexp_match(d, '^([0-9]+)_(.+)[.]down[.]sql$'))
			 FROM pg_catalog.pg_ls_dir(path) AS d
			 WHERE d OPERATOR(pg_catalog.!~) '^[.]' ORDER BY d
	LOOP
		CONTINUE WHEN m IS NULL;
		v := pg_catalog.ltrim(m[1], '0');
		IF pg_catalog.length(v) NOT BETWEEN 1 AND 18 THEN
			RAISE EXCEPTION 'invalid migration version in file name "%"', f
				USING ERRCODE = 'invalid_parameter_value',
					  DETAIL = 'Migration versions must be positive integers below 10^18.';
		END IF;
		IF v::bigint OPERATOR(pg_catalog.=) ANY (undo_versions) THEN
			RAISE EXCEPTION 'the undo of migration version % appears in more than one file', v
				USING ERRCODE = 'duplicate_object',
					  DETAIL = pg_catalog.format('The second one is "%s".', f);
		END IF;
		undo_versions := undo_versions OPERATOR(pg_catalog.||) v::bigint;
		undo_files := undo_files OPERATOR(pg_catalog.||) f;
		undo_used := undo_used OPERATOR(pg_catalog.||) false;
	END LOOP;

	FOR f IN SELECT d FROM pg_catalog.pg_ls_dir(path) AS d
			 WHERE d OPERATOR(pg_catalog.!~) '^[.]' ORDER BY d
	LOOP
		CONTINUE WHEN f OPERATOR(pg_catalog.=) ANY (undo_files);
		reading := NULL;
		file := f;
		sql := NULL;
		undo := NULL;
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
		ELSIF f OPERATOR(pg_catalog.=) 'migration_lock.toml' THEN
			note := 'Prisma''s lock file, not loaded';
		ELSIF f OPERATOR(pg_catalog.~) '^R__.+[.]sql$' THEN
			-- a repeatable migration, named by its description
			description := pg_catalog.replace(pg_catalog.substr(f, 4,
				pg_catalog.length(f) OPERATOR(pg_catalog.-) 7), '_', ' ');
			IF description OPERATOR(pg_catalog.=) ANY (names) THEN
				RAISE EXCEPTION 'repeatable migration "%" appears in more than one file', description
					USING ERRCODE = 'duplicate_object',
						  DETAIL = pg_catalog.format('The second one is "%s".', f);
			END IF;
			names := names OPERATOR(pg_catalog.||) description;
			reading := f;
			sql := pg_catalog.pg_read_file(dir OPERATOR(pg_catalog.||) '/' OPERATOR(pg_catalog.||) f);
		ELSIF f OPERATOR(pg_catalog.~) '^[0-9]+_.+[.]sql$' AND f OPERATOR(pg_catalog.!~) '[.]up[.]sql$' THEN
			reading := f;
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
				reading := file;
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
					-- the lines after the "-- migrate:down" line: its undo,
					-- unless they are blank
					undo := pg_catalog.substr(t, i);
					t := pg_catalog.substr(t, 1, i OPERATOR(pg_catalog.-) 1);
					i := pg_catalog.strpos(undo, E'\n');
					undo := CASE WHEN i OPERATOR(pg_catalog.=) 0 THEN ''
								 ELSE pg_catalog.substr(undo, i OPERATOR(pg_catalog.+) 1) END;
					IF pg_catalog.btrim(undo, E' \t\r\n') OPERATOR(pg_catalog.=) '' THEN
						undo := NULL;
					ELSIF pg_catalog.right(undo, 1) OPERATOR(pg_catalog.<>) E'\n' THEN
						undo := undo OPERATOR(pg_catalog.||) E'\n';
					END IF;
				END IF;
				IF t OPERATOR(pg_catalog.<>) '' AND pg_catalog.right(t, 1) OPERATOR(pg_catalog.<>) E'\n' THEN
					t := t OPERATOR(pg_catalog.||) E'\n';
				END IF;
				sql := COALESCE(sql, '') OPERATOR(pg_catalog.||) t;
			END IF;
			i := pg_catalog.array_position(undo_versions, version);
			IF i IS NOT NULL THEN
				IF undo IS NOT NULL THEN
					RAISE EXCEPTION 'the undo of migration version % appears in more than one file', version
						USING ERRCODE = 'duplicate_object',
							  DETAIL = pg_catalog.format('"%s" has a "-- migrate:down" section, and there is "%s".',
														 f, undo_files[i]);
				END IF;
				reading := undo_files[i];
				undo := pg_catalog.pg_read_file(dir OPERATOR(pg_catalog.||) '/' OPERATOR(pg_catalog.||) undo_files[i]);
				undo_used[i] := true;
			END IF;
		END IF;
		RETURN NEXT;
	END LOOP;

	-- the undo files: loaded with their migrations, or without one
	FOR i IN 1 .. pg_catalog.cardinality(undo_files) LOOP
		IF NOT undo_used[i] THEN
			unknown := unknown OPERATOR(pg_catalog.||) pg_catalog.format(
				'"%s": the undo of version %s, which has no migration file',
				undo_files[i], undo_versions[i]);
			CONTINUE;
		END IF;
		version := undo_versions[i];
		description := NULL;
		file := undo_files[i];
		sql := NULL;
		undo := NULL;
		note := pg_catalog.format('the undo of version %s, loaded with it', version);
		RETURN NEXT;
	END LOOP;

	IF pg_catalog.cardinality(unknown) OPERATOR(pg_catalog.>) 0 THEN
		IF NOT ignore_unknown THEN
			-- the path as given, cut to 200 characters
			RAISE EXCEPTION 'cannot interpret % entr% of directory "%"',
				pg_catalog.cardinality(unknown),
				CASE WHEN pg_catalog.cardinality(unknown) OPERATOR(pg_catalog.=) 1 THEN 'y' ELSE 'ies' END,
				CASE WHEN pg_catalog.length(path) OPERATOR(pg_catalog.>) 200
					 THEN pg_catalog.left(path, 200) OPERATOR(pg_catalog.||) '...'
					 ELSE path END
				USING ERRCODE = 'invalid_parameter_value',
					  DETAIL = pg_catalog.array_to_string(unknown[1:10], E'\n'),
					  HINT = 'Name migrations V<version>__<description>.sql (undo: U<version>__<description>.sql, repeatable: R__<description>.sql), <version>_<description>.up.sql (undo: .down.sql), <version>_<description>.sql with -- migrate:up, or <version>_<description>/migration.sql, or pass ignore_unknown => true to ignore other files.';
		END IF;
		FOREACH f IN ARRAY unknown LOOP
			version := NULL; description := NULL; sql := NULL; undo := NULL;
			file := pg_catalog.split_part(f, '"', 2);
			note := 'ignored: ' OPERATOR(pg_catalog.||) pg_catalog.split_part(f, ': ', 2);
			RETURN NEXT;
		END LOOP;
	END IF;
EXCEPTION WHEN character_not_in_repertoire THEN
	-- pg_read_file's error says what is wrong, not where
	IF reading IS NULL THEN
		RAISE;
	END IF;
	GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT;
	RAISE EXCEPTION 'migration file "%" is not valid %', reading,
		pg_catalog.getdatabaseencoding()
		USING ERRCODE = 'character_not_in_repertoire',
			  DETAIL = msg,
			  HINT = pg_catalog.format('Save the file as %s (a file written by Windows PowerShell''s ">" is UTF-16).',
									   pg_catalog.getdatabaseencoding());
END
$$;

-- The loaders: register every migration migration_files() finds (with
-- its undo SQL through the five-argument register_migration, only when it
-- has one, so that roles granted EXECUTE on the four-argument form alone
-- load directories without undo files); the entries not loaded are rows
-- too, with why.  The 1.0 two-argument form keeps a body of its own rather
-- than calling the new one, so that roles granted EXECUTE on it keep
-- working without a grant on the new form, and skips the entries it cannot
-- interpret with a notice, as 1.0 did (a README next to the migrations).
CREATE FUNCTION @extschema@.register_migrations_from_directory(
	component text, path text, ignore_unknown boolean)
RETURNS TABLE (version bigint, description text, file text, result text)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	f record;
BEGIN
	FOR f IN SELECT * FROM @extschema@.migration_files($2, $3) x
			 ORDER BY x.version NULLS LAST, x.sql IS NULL, x.file
	LOOP
		version := f.version;
		description := f.description;
		file := f.file;
		IF f.sql IS NULL THEN
			result := f.note;
		ELSIF f.undo IS NULL THEN
			result := @extschema@.register_migration($1, f.version, f.description, f.sql);
		ELSE
			result := @extschema@.register_migration($1, f.version, f.description, f.sql, f.undo);
		END IF;
		RETURN NEXT;
	END LOOP;
END
$$;

CREATE OR REPLACE FUNCTION @extschema@.register_migrations_from_directory(
	component text, path text)
RETURNS TABLE (version bigint, description text, file text, result text)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	f record;
BEGIN
	FOR f IN SELECT * FROM @extschema@.migration_files($2, true) x
			 ORDER BY x.version NULLS LAST, x.sql IS NULL, x.file
	LOOP
		IF pg_catalog.starts_with(f.note, 'ignored: ') THEN
			RAISE NOTICE 'skipping "%", %', f.file,
				pg_catalog.substr(f.note, 10);
			CONTINUE;
		END IF;
		version := f.version;
		description := f.description;
		file := f.file;
		IF f.sql IS NULL THEN
			result := f.note;
		ELSIF f.undo IS NULL THEN
			result := @extschema@.register_migration($1, f.version, f.description, f.sql);
		ELSE
			result := @extschema@.register_migration($1, f.version, f.description, f.sql, f.undo);
		END IF;
		RETURN NEXT;
	END LOOP;
END
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
	@extschema@.approve_migration(text, bigint, text)
	FROM PUBLIC;


-- ----------------------------------------------------------------------
-- Repeatable migrations, undo SQL and the history log
-- ----------------------------------------------------------------------

-- Undo SQL of a version: what revert_migrations runs to take it back.  An
-- approval holds for the undo while approved_undo_checksum matches it
-- (approve_migration with four arguments).
ALTER TABLE @extschema@.migration
	ADD COLUMN undo_sql text,
	ADD COLUMN undo_checksum text
		GENERATED ALWAYS AS (@extschema@.migration_checksum(undo_sql)) STORED,
	ADD COLUMN approved_undo_checksum text;

-- Repeatable migrations: no version, named by their description, applied
-- again whenever their SQL changes, after the versioned migrations, in name
-- order.  Registrants and approvals as in "migration"; only pending rows
-- are in the partial index, so finding that none is pending is one probe.
CREATE TABLE @extschema@.repeatable_migration (
	component		text NOT NULL,
	name			text NOT NULL,
	sql				text NOT NULL,
	checksum		text NOT NULL
		GENERATED ALWAYS AS (@extschema@.migration_checksum(sql)) STORED,
	registered_at	timestamptz NOT NULL DEFAULT pg_catalog.now(),
	registered_by	name NOT NULL,
	registrant		oid,
	approved_checksum text,
	approver		oid,
	approved_by		name,
	approved_at		timestamptz,
	applied_checksum text,
	applied_at		timestamptz,
	applied_by		name,
	execution_time	interval,
	PRIMARY KEY (component, name),
	CHECK (component OPERATOR(pg_catalog.<>) ''),
	CHECK (pg_catalog.octet_length(name) OPERATOR(pg_catalog.<=) 200
		   AND pg_catalog.btrim(name) OPERATOR(pg_catalog.<>) '')
);
CREATE INDEX repeatable_migration_pending_idx
	ON @extschema@.repeatable_migration (component, name)
	WHERE applied_checksum IS DISTINCT FROM checksum;
SELECT pg_catalog.pg_extension_config_dump('@extschema@.repeatable_migration', '');
REVOKE ALL ON @extschema@.repeatable_migration FROM PUBLIC;

-- The history log: one row per apply, baseline, revert, repeatable apply
-- and approval, never updated or deleted by schema_mgr.  schema_version
-- stays what is applied now (a revert deletes its row there).  An
-- approval's row names the approver (performed_by), the checksum it
-- approved and, with the undo SQL approved too, undo_checksum; it applies
-- nothing, so what reads the log for applies skips it.  The rows of a 1.0
-- schema_version start it.
CREATE TABLE @extschema@.migration_history (
	id				bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	component		text NOT NULL,
	version			bigint,
	name			text,
	action			text NOT NULL,
	description		text NOT NULL,
	checksum		text,
	performed_at	timestamptz NOT NULL DEFAULT pg_catalog.now(),
	performed_by	name NOT NULL,
	execution_time	interval NOT NULL DEFAULT '0',
	undo_checksum	text,
	CHECK (action OPERATOR(pg_catalog.=) ANY (ARRAY['apply', 'baseline', 'revert', 'repeat', 'approve'])),
	CHECK (action OPERATOR(pg_catalog.=) 'approve' OR
		   (action OPERATOR(pg_catalog.=) 'repeat') OPERATOR(pg_catalog.=) (version IS NULL)),
	CHECK ((version IS NULL) OPERATOR(pg_catalog.=) (name IS NOT NULL)),
	CHECK (undo_checksum IS NULL OR action OPERATOR(pg_catalog.=) 'approve')
);
CREATE INDEX migration_history_component_idx
	ON @extschema@.migration_history (component, id);
SELECT pg_catalog.pg_extension_config_dump('@extschema@.migration_history', '');
SELECT pg_catalog.pg_extension_config_dump(
	pg_catalog.pg_get_serial_sequence('@extschema@.migration_history', 'id'), '');
REVOKE ALL ON @extschema@.migration_history FROM PUBLIC;

INSERT INTO @extschema@.migration_history (component, version, action,
	description, checksum, performed_at, performed_by, execution_time)
SELECT s.component, s.version,
	   CASE WHEN s.kind OPERATOR(pg_catalog.=) 'baseline' THEN 'baseline' ELSE 'apply' END,
	   s.description, s.checksum, s.applied_at, s.applied_by, s.execution_time
FROM @extschema@.schema_version s
ORDER BY s.applied_at, s.component COLLATE "C", s.version;

-- Read registered SQL: revoked from PUBLIC, since migrations can hold
-- secrets (CREATE ROLE ... PASSWORD); grant it to reviewers.  Repeatable
-- migrations are the rows without a version.  approved_by is shown only
-- while the approval holds for the current SQL, undo_approved_by while it
-- holds for the current undo SQL too.
CREATE FUNCTION @extschema@.migration_sql(component text DEFAULT NULL)
RETURNS TABLE (component text, version bigint, description text,
			   checksum text, registered_by name, approved_by name, sql text,
			   undo_checksum text, undo_approved_by name, undo_sql text)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT * FROM (
	SELECT m.component, m.version, m.description, m.checksum, m.registered_by,
		   CASE WHEN m.approved_checksum OPERATOR(pg_catalog.=) m.checksum
				THEN m.approved_by END AS approved_by,
		   m.sql, m.undo_checksum,
		   CASE WHEN m.approved_checksum OPERATOR(pg_catalog.=) m.checksum
				 AND m.approved_undo_checksum OPERATOR(pg_catalog.=) m.undo_checksum
				THEN m.approved_by END AS undo_approved_by,
		   m.undo_sql
	FROM @extschema@.migration m
	WHERE $1 IS NULL OR m.component OPERATOR(pg_catalog.=) $1
	UNION ALL
	SELECT r.component, NULL, r.name, r.checksum, r.registered_by,
		   CASE WHEN r.approved_checksum OPERATOR(pg_catalog.=) r.checksum
				THEN r.approved_by END,
		   r.sql, NULL, NULL, NULL
	FROM @extschema@.repeatable_migration r
	WHERE $1 IS NULL OR r.component OPERATOR(pg_catalog.=) $1) x
	ORDER BY x.component COLLATE "C", x.version NULLS LAST, x.description COLLATE "C"
$$;

-- Undo SQL: the 1.0 four-argument form stays as it is (roles were granted
-- EXECUTE on it); this form, by the same C function, also sets the undo
-- SQL (NULL: none).
CREATE FUNCTION @extschema@.register_migration(
	component text, version bigint, description text, sql text, undo text)
RETURNS text
AS 'MODULE_PATHNAME', 'sm_register_migration'
LANGUAGE C VOLATILE;

-- Approve a migration's SQL and its undo SQL, by their checksums.
CREATE FUNCTION @extschema@.approve_migration(component text, version bigint,
	checksum text, undo_checksum text)
RETURNS text
AS 'MODULE_PATHNAME', 'sm_approve_migration'
LANGUAGE C VOLATILE;

-- Approve the SQL of a repeatable migration, by its checksum.
CREATE FUNCTION @extschema@.approve_repeatable(component text, name text, checksum text)
RETURNS text
AS 'MODULE_PATHNAME', 'sm_approve_repeatable'
LANGUAGE C VOLATILE;

-- Run the undo SQL of every applied version above to_version, newest
-- first, in the caller's transaction.
CREATE FUNCTION @extschema@.revert_migrations(
	component text,
	to_version bigint,
	dry_run boolean DEFAULT false)
RETURNS TABLE (component text, version bigint, description text,
			   duration interval, checksum text, outcome text, error text)
AS 'MODULE_PATHNAME', 'sm_revert_migrations'
LANGUAGE C VOLATILE;

-- migration_status() with repeatable migrations told apart and whether a
-- version has undo SQL.  Readable by whoever may read migration_status
-- (see the grant below).
CREATE FUNCTION @extschema@.migration_info(component text DEFAULT NULL)
RETURNS TABLE (component text, version bigint, description text, status text,
			   checksum text, applied_at timestamptz, applied_by name,
			   execution_time interval, repeatable boolean, has_undo boolean)
AS 'MODULE_PATHNAME', 'sm_migration_info'
LANGUAGE C STABLE;

REVOKE ALL ON FUNCTION @extschema@.migration_sql(text),
	@extschema@.register_migration(text, bigint, text, text, text),
	@extschema@.approve_migration(text, bigint, text, text),
	@extschema@.approve_repeatable(text, text, text),
	@extschema@.revert_migrations(text, bigint, boolean),
	@extschema@.migration_info(text)
	FROM PUBLIC;

-- migration_info() is open to everyone exactly when migration_status() is
-- (a database that revoked migration_status from PUBLIC keeps it closed).
DO $$
BEGIN
	IF pg_catalog.has_function_privilege('public',
			'@extschema@.migration_status(pg_catalog.text)', 'EXECUTE') THEN
		GRANT EXECUTE ON FUNCTION @extschema@.migration_info(pg_catalog.text) TO PUBLIC;
	END IF;
END
$$;


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

