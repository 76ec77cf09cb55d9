
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
