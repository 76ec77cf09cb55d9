--
-- The extension installs into the default schema and into a named one.
--
CREATE EXTENSION schema_mgr;
SELECT extname, extversion, nspname
FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
WHERE extname = 'schema_mgr';
DROP EXTENSION schema_mgr;

CREATE SCHEMA sm;
CREATE EXTENSION schema_mgr SCHEMA sm;
SELECT nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
WHERE extname = 'schema_mgr';
DROP EXTENSION schema_mgr;
DROP SCHEMA sm;
