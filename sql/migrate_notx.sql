-- Non-transactional migrations: a first line "-- schema_mgr:no-transaction"
-- runs the migration's one statement at top level, outside any
-- transaction block, from CALL apply_migrations_stepwise() only.
CREATE EXTENSION schema_mgr;
SET client_min_messages = notice;
CREATE TABLE notx_t (id int, v int);
INSERT INTO notx_t SELECT g, g FROM generate_series(1, 1000) g;

-- register-time checks
SELECT register_migration('notx', 1, 'two statements', E'-- schema_mgr:no-transaction\nCREATE INDEX CONCURRENTLY a ON notx_t (id);\nCREATE INDEX CONCURRENTLY b ON notx_t (v);');
SELECT register_migration('notx', 1, 'nothing', E'-- schema_mgr:no-transaction\n-- nothing here\n');
SELECT register_migration('notx', 1, 'not allowed', E'-- schema_mgr:no-transaction\nCREATE TABLE x (a int)');
SELECT register_migration('notx', 1, 'not allowed either', E'-- schema_mgr:no-transaction\nALTER SYSTEM SET work_mem = ''1MB''');
SELECT register_migration('notx', 1, 'no name', E'-- schema_mgr:no-transaction\nCREATE INDEX CONCURRENTLY ON notx_t (id)');
SELECT register_migration('notx', 1, 'misspelled', E'-- Schema_mgr:no-transaction\nCREATE INDEX CONCURRENTLY a ON notx_t (id)');
SELECT register_migration('notx', 1, 'not first', E'\n-- schema_mgr:no-transaction\nCREATE INDEX CONCURRENTLY a ON notx_t (id)');
SELECT register_migration('notx', 1, 'no space', E'--schema_mgr:no-transaction\nCREATE INDEX CONCURRENTLY a ON notx_t (id)');
SELECT register_migration('notx', 1, 'text after', E'-- schema_mgr:no-transaction please\nVACUUM notx_t');
-- only a versioned migration can be non-transactional
SELECT register_migration('notx', NULL, 'repeatable', E'-- schema_mgr:no-transaction\nVACUUM notx_t');
SELECT register_migration('notx', 1, 'undo', 'SELECT 1',
	undo => E'-- schema_mgr:no-transaction\nVACUUM notx_t');
-- in an ordinary migration, the hint names the marker
SELECT register_migration('notx', 1, 'ordinary', 'CREATE INDEX CONCURRENTLY a ON notx_t (id)');
SELECT register_migration('notx', 1, 'ordinary', 'VACUUM notx_t');
SELECT register_migration('notx', 1, 'ordinary', 'DROP INDEX CONCURRENTLY IF EXISTS a');
SELECT register_migration('notx', 1, 'ordinary', 'REINDEX TABLE CONCURRENTLY notx_t');
-- REINDEX CONCURRENTLY of a schema cannot be non-transactional either, so
-- the hint does not suggest the marker
SELECT register_migration('notx', 1, 'ordinary', 'REINDEX SCHEMA CONCURRENTLY public');
SELECT register_migration('notx', 1, 'marked', E'-- schema_mgr:no-transaction\nREINDEX SCHEMA CONCURRENTLY public');
SELECT register_migration('notx', 1, 'ordinary', 'REINDEX DATABASE somedb');

-- a chain: a table, a concurrent index on it, a later migration
SELECT register_migration('notx', 1, 'create', 'CREATE TABLE notx_u (id int, k int)');
SELECT register_migration('notx', 2, 'index it',
	E'-- schema_mgr:no-transaction \r\nCREATE UNIQUE INDEX CONCURRENTLY notx_u_k ON notx_u (k);\n');
SELECT register_migration('notx', 3, 'use it', 'INSERT INTO notx_u VALUES (1, 1)');
SELECT version, status FROM migration_status('notx');

-- apply_migrations() refuses before applying anything, dry run too
SELECT version, outcome FROM apply_migrations('notx');
SELECT version, outcome FROM apply_migrations('notx', dry_run => true);
SELECT count(*) FROM schema_version WHERE component = 'notx';
-- up to the version before it is fine
SELECT version, outcome FROM apply_migrations('notx', 1);

-- the procedure runs it at top level
CALL apply_migrations_stepwise('notx');
SELECT version, status FROM migration_status('notx');
SELECT indexrelid::regclass, indisvalid, indisunique FROM pg_index
WHERE indrelid = 'notx_u'::regclass;
SELECT version, kind, applied_by = current_user FROM schema_version
WHERE component = 'notx' ORDER BY version;
-- the marker is part of the checksum: changing it is changing the SQL
SELECT register_migration('notx', 2, 'index it',
	E'CREATE UNIQUE INDEX notx_u_k ON notx_u (k);\n');

-- a failure halfway: a unique index over duplicate rows stays INVALID
UPDATE notx_t SET v = 1 WHERE id = 2;
SELECT register_migration('dup', 1, 'unique v',
	E'-- schema_mgr:no-transaction\nCREATE UNIQUE INDEX CONCURRENTLY notx_t_v ON notx_t (v)');
CALL apply_migrations_stepwise('dup');
SELECT indisvalid FROM pg_index WHERE indexrelid = 'notx_t_v'::regclass;
SELECT version, status FROM migration_status('dup');
SELECT count(*) FROM schema_version WHERE component = 'dup';
-- fix the data; the next apply drops the invalid index and builds it again
UPDATE notx_t SET v = id;
CALL apply_migrations_stepwise('dup');
SELECT indisvalid FROM pg_index WHERE indexrelid = 'notx_t_v'::regclass;
SELECT version, status FROM migration_status('dup');

-- an index that exists and is valid (an attempt that built it and ended
-- before it was recorded) is recorded as applied without building it again
CREATE INDEX CONCURRENTLY notx_t_id ON notx_t (id);
SELECT register_migration('done', 1, 'index id',
	E'-- schema_mgr:no-transaction\nCREATE INDEX CONCURRENTLY notx_t_id ON notx_t (id)');
CALL apply_migrations_stepwise('done');
SELECT version, status FROM migration_status('done');
-- a valid index of that name that is another index is not taken for it
CREATE INDEX notx_t_other ON notx_t (v) WHERE v > 0;
SELECT register_migration('other', 1, 'index other',
	E'-- schema_mgr:no-transaction\nCREATE INDEX CONCURRENTLY notx_t_other ON notx_t (v)');
CALL apply_migrations_stepwise('other');
SELECT register_migration('other', 1, 'index other',
	E'-- schema_mgr:no-transaction\nCREATE INDEX CONCURRENTLY notx_t_other ON notx_t (id)');
CALL apply_migrations_stepwise('other');
DROP INDEX notx_t_other;
CALL apply_migrations_stepwise('other');

-- REINDEX CONCURRENTLY stopped halfway leaves an invalid "_ccnew" index
-- (here: a failed build of that name); the next attempt drops it first
\set VERBOSITY terse
CREATE UNIQUE INDEX CONCURRENTLY notx_t_v_ccnew ON notx_t ((v % 2));
-- (and the copy of another index, "notx_t", which stays)
CREATE UNIQUE INDEX CONCURRENTLY notx_t_ccnew ON notx_t ((v % 2));
\set VERBOSITY default
SELECT register_migration('re', 1, 'reindex v',
	E'-- schema_mgr:no-transaction\nREINDEX INDEX CONCURRENTLY notx_t_v');
SELECT version, status FROM migration_status('re');
CALL apply_migrations_stepwise('re');
SELECT c.relname, i.indisvalid FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid
WHERE c.relname LIKE 'notx_t_v%' OR c.relname = 'notx_t_ccnew' ORDER BY 1;
DROP INDEX notx_t_ccnew;

-- an error names the statement's line; the history stays as it was
SELECT register_migration('bad', 1, 'no such table',
	E'-- schema_mgr:no-transaction\n\nVACUUM notx_nope');
CALL apply_migrations_stepwise('bad');
SELECT version, status FROM migration_status('bad');
-- VACUUM, REINDEX CONCURRENTLY, DROP INDEX CONCURRENTLY
SELECT register_migration('bad', 1, 'vacuum',
	E'-- schema_mgr:no-transaction\nVACUUM (ANALYZE) notx_t');
SELECT register_migration('bad', 2, 'reindex',
	E'\xEF\xBB\xBF-- schema_mgr:no-transaction\nREINDEX INDEX CONCURRENTLY notx_t_id');
SELECT register_migration('bad', 3, 'drop',
	E'-- schema_mgr:no-transaction\nDROP INDEX CONCURRENTLY notx_t_id');
SELECT register_migration('bad', 3, 'drop',
	E'-- schema_mgr:no-transaction\nDROP INDEX CONCURRENTLY IF EXISTS notx_t_id');
CALL apply_migrations_stepwise('bad');
SELECT version, status FROM migration_status('bad');
SELECT count(*) FROM pg_class WHERE relname = 'notx_t_id';
-- ANALYZE in the worker uses the caller's statistics target
CREATE TABLE notx_stats AS SELECT g AS v FROM generate_series(1, 2000) g;
SELECT register_migration('stats', 1, 'analyze',
	E'-- schema_mgr:no-transaction\nANALYZE notx_stats');
SET default_statistics_target = 10;
CALL apply_migrations_stepwise('stats');
RESET default_statistics_target;
SELECT array_length(histogram_bounds, 1) AS histogram_bounds
  FROM pg_stats WHERE tablename = 'notx_stats' AND attname = 'v';

-- the worker runs as the caller's current user, with the caller's
-- search_path; the caller's settings are as before after the call
CREATE ROLE regress_notx_caller;
CREATE SCHEMA notx_s;
CREATE TABLE notx_s.hidden (a int);
GRANT USAGE ON SCHEMA notx_s TO regress_notx_caller;
GRANT EXECUTE ON PROCEDURE apply_migrations_stepwise(text, bigint, boolean, integer)
	TO regress_notx_caller;
SELECT register_migration('who', 1, 'index hidden',
	E'-- schema_mgr:no-transaction\nCREATE INDEX CONCURRENTLY hidden_a ON hidden (a)');
SET search_path = notx_s, public;
-- its step needs EXECUTE on apply_migrations, as a transactional step does
REVOKE EXECUTE ON FUNCTION apply_migrations(text, bigint, boolean, boolean) FROM PUBLIC;
SET ROLE regress_notx_caller;
CALL apply_migrations_stepwise('who');
RESET ROLE;
GRANT EXECUTE ON FUNCTION apply_migrations(text, bigint, boolean, boolean) TO PUBLIC;
SET ROLE regress_notx_caller;
CALL apply_migrations_stepwise('who');
RESET ROLE;
SET lock_timeout = '42s';
CALL apply_migrations_stepwise('who');
SELECT current_user = session_user, current_setting('search_path'), current_setting('lock_timeout');
SELECT indexrelid::regclass FROM pg_index WHERE indrelid = 'notx_s.hidden'::regclass;
RESET search_path;
RESET lock_timeout;

-- the worker builds with the caller's default_tablespace
SET allow_in_place_tablespaces = on;
CREATE TABLESPACE regress_notx_ts LOCATION '';
SELECT register_migration('ts', 1, 'index in ts',
	E'-- schema_mgr:no-transaction\nCREATE INDEX CONCURRENTLY notx_t_ts ON notx_t (v)');
SET default_tablespace = regress_notx_ts;
CALL apply_migrations_stepwise('ts');
RESET default_tablespace;
SELECT t.spcname FROM pg_class c JOIN pg_tablespace t ON t.oid = c.reltablespace
WHERE c.relname = 'notx_t_ts';
DROP INDEX notx_t_ts;
DROP TABLESPACE regress_notx_ts;

-- migration_status and migration_info (anyone may call them) for a role
-- without USAGE on the index's schema, and with SQL that does not parse
-- with the caller's standard_conforming_strings: no error, no SQL quoted
-- (PostgreSQL 19 no longer has standard_conforming_strings = off: the
-- alternative output migrate_notx_1.out)
CREATE SCHEMA notx_priv;
CREATE TABLE notx_priv.t (a int, b text);
SELECT register_migration('priv', 1, 'index t',
	E'-- schema_mgr:no-transaction\nCREATE INDEX CONCURRENTLY t_a ON notx_priv.t (a)');
SELECT register_migration('priv', 2, 'partial index',
	E'-- schema_mgr:no-transaction\nCREATE INDEX CONCURRENTLY t_b ON notx_priv.t (a) WHERE b <> ''secret\\''');
SET ROLE regress_notx_caller;
SET standard_conforming_strings = off;
SELECT version, status FROM migration_status('priv');
SELECT count(*) FROM migration_info('priv');
RESET standard_conforming_strings;
RESET ROLE;
DROP SCHEMA notx_priv CASCADE;

-- a read-only session (a standby's too) is refused before the worker
-- changes anything; an ordinary migration whose statements a read-only
-- transaction allows is refused before it runs too
SELECT register_migration('ro', 1, 'index',
	E'-- schema_mgr:no-transaction\nCREATE INDEX CONCURRENTLY notx_t_ro ON notx_t (v)');
SELECT register_migration('ro_tx', 1, 'analyze', 'ANALYZE notx_t');
SET default_transaction_read_only = on;
CALL apply_migrations_stepwise('ro');
CALL apply_migrations_stepwise('ro_tx');
SELECT version, outcome FROM apply_migrations('ro_tx');
RESET default_transaction_read_only;
SELECT count(*) FROM pg_class WHERE relname = 'notx_t_ro';
SELECT component, version, status FROM migration_status()
WHERE component IN ('ro', 'ro_tx') ORDER BY 1;

-- inside a transaction block the procedure refuses as before
BEGIN;
SELECT register_migration('tx', 1, 'idx',
	E'-- schema_mgr:no-transaction\nCREATE INDEX CONCURRENTLY notx_t_v2 ON notx_t (v)');
CALL apply_migrations_stepwise('tx');
ROLLBACK;

-- a superuser's session switched with SET SESSION AUTHORIZATION to a role
-- that may not log in (a group role, say): the worker runs the statement
-- as that session does, session user and all
CREATE ROLE regress_notx_nologin SUPERUSER NOLOGIN;
SET SESSION AUTHORIZATION regress_notx_nologin;
SELECT register_migration('nologin', 1, 'index',
	E'-- schema_mgr:no-transaction\nCREATE INDEX CONCURRENTLY notx_t_nologin ON notx_t (v)');
CALL apply_migrations_stepwise('nologin');
SELECT version, status FROM migration_status('nologin');
SELECT version, applied_by = session_user FROM schema_version WHERE component = 'nologin';
RESET SESSION AUTHORIZATION;
DROP INDEX notx_t_nologin;

SET schema_mgr.allow_drop = on;
DROP EXTENSION schema_mgr;
DROP TABLE notx_t, notx_u;
DROP SCHEMA notx_s CASCADE;
DROP ROLE regress_notx_caller;
DROP ROLE regress_notx_nologin;
