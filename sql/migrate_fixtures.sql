--
-- Migrations: real schemas as chains, loaded from files on the server.
--
CREATE EXTENSION schema_mgr;
\getenv abs_srcdir PG_ABS_SRCDIR
\set fixtures :abs_srcdir '/test/fixtures'

SELECT version, description, file, result
FROM register_migrations_from_directory('iomanager', :'fixtures' || '/iomanager');
SELECT version, description, result
FROM register_migrations_from_directory('flogo', :'fixtures' || '/flogo');
SELECT version, description, result
FROM register_migrations_from_directory('pgedge', :'fixtures' || '/pgedge/');

SELECT component, version, description, outcome FROM apply_migrations();
SELECT apply_migrations();
-- loading the files again changes nothing
SELECT result, count(*)
FROM register_migrations_from_directory('iomanager', :'fixtures' || '/iomanager')
GROUP BY result;
SELECT component, current_version(component), count(*) AS applied
FROM migration_status() GROUP BY component ORDER BY component;

-- the resulting tables and their columns
SELECT c.relname, count(*) AS columns
FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0
     AND NOT a.attisdropped
WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r'
  AND NOT EXISTS (SELECT FROM pg_depend d  -- not schema_mgr's own tables
                  WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                    AND d.deptype = 'e')
GROUP BY c.relname ORDER BY c.relname;
SELECT conrelid::regclass, conname, contype FROM pg_constraint
WHERE connamespace = 'public'::regnamespace AND contype IN ('f', 'u')
  AND conrelid::regclass::text NOT IN ('migration', 'schema_version')
ORDER BY 1::text, 2;

-- loader errors
SELECT * FROM register_migrations_from_directory('x', '');
SELECT * FROM register_migrations_from_directory('x', '/nonexistent/schema_mgr');
-- a file that is no migration: an error unless ignored, which names the
-- directory by at most 200 characters of its path
SELECT * FROM register_migrations_from_directory('x', pg_catalog.repeat('/.', 150) || :'fixtures' || '/events', false);
SELECT * FROM register_migrations_from_directory('x', :'fixtures' || '/events', true);
-- the 1.0 two-argument form skips it with a notice, as 1.0 did
SELECT * FROM register_migrations_from_directory('x', :'fixtures' || '/events');

-- clean up: drop everything the chains created
SET schema_mgr.allow_drop = on;
DROP EXTENSION schema_mgr;
RESET schema_mgr.allow_drop;
DROP TABLE app, appstate, audit, blobs, commands, commands_for_version, crashes,
    feedback, flowstate, "glue42SystemConfig", groups, last_updated, layouts,
    machines, metrics, monitored_connections, prefs, probes, sessions, steps,
    users;
