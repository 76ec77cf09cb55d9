
-- ----------------------------------------------------------------------
-- events.sql: gapless event stores (implemented in events.c and
-- event_text.c).
--
-- The registry below is an extension member (dropped with the extension,
-- its rows kept by pg_dump through pg_extension_config_dump).  The events
-- tables themselves are user data, created by create_event_store() and
-- owned by the caller: they are not extension members, so DROP EXTENSION
-- never takes them along.
-- ----------------------------------------------------------------------

CREATE TABLE @extschema@.event_store (
    relid       pg_catalog.regclass PRIMARY KEY,
    kind        pg_catalog.text NOT NULL
                CHECK (kind OPERATOR(pg_catalog.=) ANY (ARRAY['source', 'destination'])),
    notify      pg_catalog.text NOT NULL DEFAULT 'row'
                CHECK (notify OPERATOR(pg_catalog.=) ANY (ARRAY['row', 'statement', 'none'])),
    created_at  pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE @extschema@.event_store IS
    'event stores of this database: events tables created by create_event_store()';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.event_store', '');
-- everyone may see which stores exist; only the extension owner writes here
-- (create_event_store and set_event_store_notify do it on the caller's behalf)
GRANT SELECT ON @extschema@.event_store TO PUBLIC;

-- Backends cache the registry; this tells them when it changed.
CREATE FUNCTION @extschema@.event_store_changed()
RETURNS trigger
LANGUAGE C
AS 'MODULE_PATHNAME', 'event_store_changed';
CREATE TRIGGER event_store_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @extschema@.event_store
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.event_store_changed();

-- Dropping an events table removes its registration.
CREATE FUNCTION @extschema@.event_store_sql_drop()
RETURNS event_trigger
LANGUAGE C
AS 'MODULE_PATHNAME', 'event_store_sql_drop';
CREATE EVENT TRIGGER schema_mgr_event_store_drop ON sql_drop
    EXECUTE FUNCTION @extschema@.event_store_sql_drop();

-- The append-only guard of source stores (BEFORE INSERT FOR EACH ROW and
-- BEFORE UPDATE OR DELETE OR TRUNCATE FOR EACH STATEMENT).
CREATE FUNCTION @extschema@.events_guard()
RETURNS trigger
LANGUAGE C
AS 'MODULE_PATHNAME', 'events_guard';

CREATE FUNCTION @extschema@.create_event_store(
    table_type      pg_catalog.text,
    store_schema    pg_catalog.name DEFAULT NULL,
    table_name      pg_catalog.name DEFAULT 'events',
    notify          pg_catalog.text DEFAULT 'row')
RETURNS pg_catalog.regclass
LANGUAGE C
AS 'MODULE_PATHNAME', 'create_event_store';
COMMENT ON FUNCTION @extschema@.create_event_store(pg_catalog.text, pg_catalog.name, pg_catalog.name, pg_catalog.text) IS
    'create an events table of kind source or destination and register it';

CREATE FUNCTION @extschema@.register_event_store(
    store       pg_catalog.regclass,
    table_type  pg_catalog.text,
    notify      pg_catalog.text DEFAULT 'row')
RETURNS pg_catalog.regclass
LANGUAGE C
AS 'MODULE_PATHNAME', 'register_event_store';
COMMENT ON FUNCTION @extschema@.register_event_store(pg_catalog.regclass, pg_catalog.text, pg_catalog.text) IS
    'make an existing events table (e.g. from init-slate-db) a registered event store';

CREATE FUNCTION @extschema@.set_event_store_notify(
    store   pg_catalog.regclass,
    notify  pg_catalog.text)
RETURNS void
LANGUAGE C
AS 'MODULE_PATHNAME', 'set_event_store_notify';
COMMENT ON FUNCTION @extschema@.set_event_store_notify(pg_catalog.regclass, pg_catalog.text) IS
    'choose what insert_events notifies on channel eventsinsert: row, statement or none';

-- The C functions below use only schema-qualified names in the SQL they run
-- (and run DDL under search_path "pg_catalog, pg_temp" once the target
-- schema is resolved), so they carry no SET search_path: create_event_store
-- must see the caller's creation schema, and insert_events keeps its cached
-- plan valid under the caller's setting without a per-call GUC switch.

-- The slate-compatible call: insert_events('($1[1], $2, ''{...}''), ...').
-- Runs with the caller's rights: the caller needs INSERT on the events table
-- (the guard trigger refuses any INSERT that does not come from here).
CREATE FUNCTION @extschema@.insert_events(
    insertValues    pg_catalog.text,
    store           pg_catalog.regclass DEFAULT NULL)
RETURNS pg_catalog.int4
LANGUAGE C
AS 'MODULE_PATHNAME', 'insert_events_text';
COMMENT ON FUNCTION @extschema@.insert_events(pg_catalog.text, pg_catalog.regclass) IS
    'append events given as a slate VALUES list; returns the number of rows inserted';

-- The typed call for new clients.
CREATE FUNCTION @extschema@.insert_events(
    events  pg_catalog.jsonb[],
    store   pg_catalog.regclass DEFAULT NULL,
    OUT first_id pg_catalog.int8,
    OUT last_id  pg_catalog.int8,
    OUT ts       pg_catalog.timestamptz)
RETURNS record
LANGUAGE C
AS 'MODULE_PATHNAME', 'insert_events_array';
COMMENT ON FUNCTION @extschema@.insert_events(pg_catalog.jsonb[], pg_catalog.regclass) IS
    'append events; returns the first and last id assigned and their timestamp';
