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

