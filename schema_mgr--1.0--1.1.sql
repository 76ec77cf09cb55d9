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

-- The guard of source stores fires in replica mode too (ENABLE ALWAYS): a
-- logical replication apply worker runs in that mode, and a row it
-- replicated into a source store would take an id insert_events assigns.
DO $$
DECLARE
    t record;
BEGIN
    FOR t IN
        SELECT tg.tgrelid::pg_catalog.regclass AS store, tg.tgname
        FROM @extschema@.event_store s
        JOIN pg_catalog.pg_trigger tg ON tg.tgrelid OPERATOR(pg_catalog.=) s.relid
        WHERE s.kind OPERATOR(pg_catalog.=) 'source'
          AND tg.tgfoid OPERATOR(pg_catalog.=) '@extschema@.events_guard()'::pg_catalog.regprocedure
          AND tg.tgenabled OPERATOR(pg_catalog.<>) 'A'
    LOOP
        EXECUTE pg_catalog.format('ALTER TABLE %s ENABLE ALWAYS TRIGGER %I', t.store, t.tgname);
    END LOOP;
END
$$;


-- ----------------------------------------------------------------------
-- Restore, sync and compare
-- ----------------------------------------------------------------------

