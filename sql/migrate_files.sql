--
-- Real migration files: empty and comment-only migrations are no-ops;
-- psql meta-commands, psql variables and COPY data blocks (psql input,
-- not SQL) get errors of their own that name the line.
--
CREATE EXTENSION schema_mgr;

-- Prisma writes "-- This is an empty migration." for an empty migration
SELECT register_migration('files', 1, 'empty', '');
SELECT register_migration('files', 2, 'blank', E'  \n\t ');
SELECT register_migration('files', 3, 'comments', E'-- This is an empty migration.\n/* and another */');
SELECT register_migration('files', 4, 'semicolons', ';;');
SELECT component, version, outcome FROM apply_migrations('files');
SELECT version, status FROM migration_status('files');

-- pg_dump 15.14 and later writes \restrict and \unrestrict
SELECT register_migration('files', 5, 'restrict',
    E'--\n-- PostgreSQL database dump\n--\n\n\\restrict abcdef123\n\nSET statement_timeout = 0;\nCREATE TABLE f5 (a int);\n\n\\unrestrict abcdef123\n');
SELECT register_migration('files', 5, 'set', E'\\set ON_ERROR_STOP on\nCREATE TABLE f5 (a int);');
SELECT register_migration('files', 5, 'include', E'CREATE TABLE f5 (a int);\n  \\i other.sql\n');
SELECT register_migration('files', 5, 'trailing', E'CREATE TABLE f5 (a int); \\gset\n');
SELECT register_migration('files', 5, 'variable', E'CREATE TABLE f5 (a int);\nINSERT INTO f5 VALUES (:value);');
SELECT register_migration('files', 5, 'quoted variable', E'CREATE TABLE f5 (a text);\nINSERT INTO f5 VALUES (:''value'');');
-- a COPY data block, as pg_dump writes data
SELECT register_migration('files', 5, 'copy data',
    E'CREATE TABLE f5 (a int, b text);\n\nCOPY public.f5 (a, b) FROM stdin;\n1\tone\n2\ttwo\n\\.\n\nSELECT 1;\n');
-- a backslash inside a string or a comment is SQL, and fine
SELECT register_migration('files', 5, 'backslashes',
    E'-- \\set in a comment\nCREATE TABLE f5 (a text DEFAULT E''\\\\x'');\n/* \\i x */ SELECT ''\\i not a command'';');
SELECT component, version, outcome FROM apply_migrations('files');

DROP TABLE f5;
SET schema_mgr.allow_drop = on;
DROP EXTENSION schema_mgr;
RESET schema_mgr.allow_drop;
