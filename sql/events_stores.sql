--
-- Several stores in one database, store arguments, big events, the call
-- forms slate clients use.
--
CREATE EXTENSION schema_mgr;
CREATE SCHEMA tenant_a;
CREATE SCHEMA tenant_b;
SELECT create_event_store('source', 'tenant_a');
SELECT create_event_store('source', 'tenant_b', 'log', notify => 'statement');
SELECT relid, kind, notify FROM event_store ORDER BY relid::text;
SELECT indexname FROM pg_indexes WHERE schemaname = 'tenant_b' ORDER BY 1;

-- with two source stores the store must be named
SELECT insert_events($$($1[1], $2, '{}')$$);
SELECT insert_events($$($1[1], $2, '{"a": 1}'), ($1[2], $2, '{"a": 2}')$$, 'tenant_a.events');
SELECT insert_events($$($1[1], $2, '{"b": 1}')$$, store => 'tenant_b.log');
SELECT first_id, last_id FROM append_events(ARRAY['{"b": 2}', '{"b": 3}']::jsonb[], 'tenant_b.log');
SELECT first_id, last_id FROM append_events(ARRAY['{"a": 3}']::jsonb[], store => 'tenant_a.events');
-- each store has its own gapless sequence
SELECT id, event FROM tenant_a.events ORDER BY id;
SELECT id, event FROM tenant_b.log ORDER BY id;
-- not a store, not a table
SELECT insert_events($$($1[1], $2, '{}')$$, 'pg_catalog.pg_class');
SELECT insert_events($$($1[1], $2, '{}')$$, 'no_such_table');

-- an unknown-typed literal resolves to the text version
SELECT pg_typeof(insert_events('($1[1], $2, ''{"a": 4}'')', 'tenant_a.events'));
-- a rolled-back insert leaves no gap
BEGIN;
SELECT insert_events($$($1[1], $2, '{"a": "rolled back"}')$$, 'tenant_a.events');
ROLLBACK;
BEGIN;
SAVEPOINT s;
SELECT insert_events($$($1[1], $2, '{"a": "rolled back too"}')$$, 'tenant_a.events');
ROLLBACK TO SAVEPOINT s;
SELECT insert_events($$($1[1], $2, '{"a": 5}')$$, 'tenant_a.events');
COMMIT;
-- REPEATABLE READ callers still continue the sequence
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT count(*) FROM tenant_a.events;
SELECT first_id FROM append_events(ARRAY['{"a": 6}']::jsonb[], 'tenant_a.events');
COMMIT;
SELECT id, event FROM tenant_a.events WHERE id > 3 ORDER BY id;

-- a 1 MB event inserts fine (its notification drops the event body; see
-- the TAP test 031_events_notify.pl for the payloads)
SELECT insert_events(format('($1[1], $2, %L)',
       json_build_object('entityName', 'big', 'blob', repeat('x', 1024 * 1024))),
       'tenant_a.events');
SELECT id, length(event ->> 'blob') FROM tenant_a.events WHERE id = 7;
SELECT last_id FROM append_events(ARRAY[jsonb_build_object('blob', repeat('y', 1024 * 1024)),
                                        '{"small": true}'], 'tenant_b.log');

-- the notification mode can be changed, by the owner only
SELECT set_event_store_notify('tenant_b.log', 'none');
SELECT set_event_store_notify('tenant_b.log', 'sometimes');
SELECT set_event_store_notify('pg_class', 'row');
SELECT relid, notify FROM event_store ORDER BY relid::text;

-- what the owner adds to a store is honoured: a trigger of its own and a
-- CHECK constraint (such stores take the SQL INSERT path, not the direct one)
CREATE TABLE tenant_a.audit (id bigint, by_trigger text);
CREATE FUNCTION tenant_a.audit_insert() RETURNS trigger LANGUAGE plpgsql AS
$$BEGIN INSERT INTO tenant_a.audit VALUES (NEW.id, TG_NAME); RETURN NULL; END$$;
CREATE TRIGGER audit AFTER INSERT ON tenant_a.events
    FOR EACH ROW EXECUTE FUNCTION tenant_a.audit_insert();
SELECT first_id, last_id FROM append_events(ARRAY['{"audited": 1}', '{"audited": 2}']::jsonb[], 'tenant_a.events');
SELECT * FROM tenant_a.audit ORDER BY id;
DROP TRIGGER audit ON tenant_a.events;
-- and a rule of its own (in a transaction rolled back: the ids below stay)
BEGIN;
CREATE RULE audit AS ON INSERT TO tenant_a.events
    DO ALSO INSERT INTO tenant_a.audit VALUES (NEW.id, 'rule');
SELECT first_id, last_id FROM append_events(ARRAY['{"ruled": 1}']::jsonb[], 'tenant_a.events');
SELECT * FROM tenant_a.audit WHERE by_trigger = 'rule';
ROLLBACK;
ALTER TABLE tenant_a.events ADD CONSTRAINT has_kind CHECK (event ? 'kind') NOT VALID;
\set VERBOSITY terse
SELECT insert_events($$($1[1], $2, '{"no": "kind"}')$$, 'tenant_a.events');
\set VERBOSITY default
SELECT insert_events($$($1[1], $2, '{"kind": "ok"}')$$, 'tenant_a.events');
ALTER TABLE tenant_a.events DROP CONSTRAINT has_kind;
SELECT insert_events($$($1[1], $2, '{"no": "kind"}')$$, 'tenant_a.events');
SELECT id, event FROM tenant_a.events WHERE id > 8 ORDER BY id;
-- a duplicate id can never be written, whichever path
SELECT count(*), count(DISTINCT id), max(id) FROM tenant_a.events;

-- once one of the two source stores is gone, the other is the default
DROP TABLE tenant_b.log;
-- and its registration went with it
SELECT relid, kind FROM event_store ORDER BY relid::text;
SELECT insert_events($$($1[1], $2, '{"a": 13}')$$);
SELECT max(id), count(*) FROM tenant_a.events;
-- a store whose table was dropped can be created again
SELECT create_event_store('destination', 'tenant_b', 'log');
SELECT relid, kind FROM event_store ORDER BY relid::text;

-- an existing events table (as init-slate-db made it) can be registered
CREATE SCHEMA legacy;
CREATE TABLE legacy.events (id bigint NOT NULL, ts timestamptz NOT NULL,
    event jsonb NOT NULL, CONSTRAINT events_pkey PRIMARY KEY (id));
INSERT INTO legacy.events SELECT g, now(), jsonb_build_object('old', g)
FROM generate_series(1, 3) g;
SELECT register_event_store('legacy.events', 'source', notify => 'none');
SELECT tgname FROM pg_trigger WHERE tgrelid = 'legacy.events'::regclass ORDER BY 1;
SELECT first_id, last_id FROM append_events(ARRAY['{"new": 4}']::jsonb[], 'legacy.events');
SELECT register_event_store('legacy.events', 'source');
-- only gapless tables can be source stores; the shape is checked
CREATE TABLE legacy.gappy (LIKE legacy.events INCLUDING ALL);
INSERT INTO legacy.gappy SELECT * FROM legacy.events WHERE id <> 2;
SELECT register_event_store('legacy.gappy', 'source');
SELECT register_event_store('legacy.gappy', 'destination');
CREATE TABLE legacy.notevents (id int PRIMARY KEY, payload text);
SELECT register_event_store('legacy.notevents', 'destination');
SELECT register_event_store('legacy.notevents', 'sink');
SELECT relid, kind, notify FROM event_store WHERE relid::text LIKE 'legacy.%' ORDER BY 1;
-- a table as init-slate-db made it still has slate's notification trigger
CREATE TABLE legacy.slate (LIKE legacy.events INCLUDING ALL);
CREATE FUNCTION legacy.notify_event_insert() RETURNS trigger LANGUAGE plpgsql AS
$$BEGIN PERFORM pg_notify('eventsinsert', json_build_object('table', TG_TABLE_NAME, 'id', NEW.id, 'event', NEW.event)::text); RETURN NEW; END$$;
CREATE TRIGGER notify_insert AFTER INSERT ON legacy.slate
    FOR EACH ROW EXECUTE FUNCTION legacy.notify_event_insert();
SELECT register_event_store('legacy.slate', 'source');
DROP SCHEMA legacy CASCADE;

DROP SCHEMA tenant_a CASCADE;
DROP SCHEMA tenant_b CASCADE;
SELECT count(*) FROM event_store;
SET schema_mgr.allow_drop = on;
DROP EXTENSION schema_mgr;
RESET schema_mgr.allow_drop;
