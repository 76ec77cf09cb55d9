--
-- Event stores: creation, the slate-compatible insert_events, the typed
-- insert_events, the append-only guard.
--
CREATE EXTENSION schema_mgr;

-- a source store in the current creation schema, as init-slate-db makes it
SELECT create_event_store('source');
SELECT relid, kind, notify FROM event_store;
SELECT indexname, indexdef FROM pg_indexes
WHERE tablename = 'events' ORDER BY indexname;
SELECT tgname FROM pg_trigger WHERE tgrelid = 'events'::regclass ORDER BY tgname;
-- the events table is user data, not part of the extension
SELECT count(*) FROM pg_depend
WHERE classid = 'pg_class'::regclass AND objid = 'events'::regclass AND deptype = 'e';

-- the slate call, unchanged
SELECT insert_events($$($1[1], $2, '{"entityName": "a", "n": 1}'), ($1[2], $2, '{"entityName": "b", "it''s": "quoted"}')$$);
SELECT insert_events(insertValues := $$($1[1], $2, '{"n": 3}')$$);
SELECT insert_events(E'(\n  $1 [ 1 ] ,\t$2 ,\r\n''{"n": 4}''  )  ,($1[2],$2,''{"n": 5}'')\n');
SELECT id, event FROM events ORDER BY id;
-- one ts per transaction, never decreasing along the ids
SELECT count(DISTINCT ts) AS distinct_ts,
       bool_and(ts >= coalesce(prev, ts)) AS non_decreasing
FROM (SELECT ts, lag(ts) OVER (ORDER BY id) AS prev FROM events) s;
BEGIN;
SELECT insert_events($$($1[1], $2, '{"n": 6}')$$);
SELECT insert_events($$($1[1], $2, '{"n": 7}')$$);
SELECT count(DISTINCT ts) FROM events WHERE id IN (6, 7);
COMMIT;

-- several calls in one statement, and a call undone by an EXCEPTION block
SELECT insert_events(format('($1[1], $2, %L)', jsonb_build_object('g', g)))
FROM generate_series(1, 2) g;
DO $$
BEGIN
  BEGIN
    PERFORM insert_events($q$($1[1], $2, '{"x": "undone"}')$q$);
    RAISE EXCEPTION 'boom';
  EXCEPTION WHEN raise_exception THEN
    NULL;
  END;
  PERFORM insert_events($q$($1[1], $2, '{"x": "kept"}')$q$);
END $$;
SELECT id, event FROM events WHERE id > 7 ORDER BY id;

-- slate's validation errors, with slate's texts
\set VERBOSITY default
SELECT insert_events('');
SELECT insert_events($$($1[1], $2, '{}'), ($1[3], $2, '{}')$$);
SELECT insert_events($$($1[2], $2, '{}'), ($1[3], $2, '{}')$$);
SELECT insert_events($$($1[1], $2, '{}'), ($1[2], '{}')$$);
SELECT insert_events($$($1[5], $2, '{}')$$);
-- invalid JSON
SELECT insert_events($$($1[1], $2, '{"a": 1}'), ($1[2], $2, '{"a": }')$$);
SELECT max(id), count(*) FROM events;

-- read-only transactions (and hot standbys) cannot append
BEGIN READ ONLY;
SELECT insert_events($$($1[1], $2, '{}')$$);
ROLLBACK;
BEGIN READ ONLY;
SELECT * FROM append_events(ARRAY['{}']::jsonb[]);
ROLLBACK;

-- the typed call
SELECT first_id, last_id, ts IS NOT NULL AS has_ts
FROM append_events(ARRAY['{"n": 8}', '{"n": 9}']::jsonb[]);
SELECT * FROM append_events('{}'::jsonb[]);
SELECT * FROM append_events(ARRAY['{"n": 1}', NULL]::jsonb[]);
SELECT max(id), count(*) FROM events;

-- append-only
UPDATE events SET event = '{}' WHERE id = 1;
DELETE FROM events WHERE id = 1;
TRUNCATE events;
-- an INSERT that bypasses the allocator
INSERT INTO events VALUES (10, now(), '{}');
INSERT INTO events SELECT max(id) + 1, now(), '{}' FROM events;
COPY events FROM STDIN;
11	2020-01-01 00:00:00+00	{}
\.
SELECT max(id), count(*) FROM events;

-- creation errors
SELECT create_event_store('sink');
SELECT create_event_store(NULL);
SELECT create_event_store('source');
SELECT create_event_store('source', 'no_such_schema');
SELECT create_event_store('source', table_name => 'bad name');
SELECT create_event_store('source', table_name => '');
SELECT create_event_store('source', table_name => 'a_name_that_is_far_too_long_for_its_indexes');
SELECT create_event_store('source', table_name => 'other', notify => 'sometimes');

-- a destination store: no allocator, no guard
CREATE SCHEMA dest;
SELECT create_event_store('destination', 'dest');
SELECT tgname FROM pg_trigger WHERE tgrelid = 'dest.events'::regclass;
INSERT INTO dest.events SELECT * FROM events;
SELECT insert_events($$($1[1], $2, '{}')$$, 'dest.events');
SELECT insert_events($$($1[1], $2, '{}')$$, 'pg_class');
-- a store argument of OID 0 is no store, not "the only one"
SELECT insert_events($$($1[1], $2, '{"to": "store 0"}')$$, store => 0);
SELECT * FROM append_events(ARRAY['{"to": "store 0"}']::jsonb[], 0);
SELECT count(*) FROM events WHERE event ? 'to';
-- with one source store, no name is needed even though another store exists
SELECT insert_events($$($1[1], $2, '{"n": 10}')$$);
SELECT max(id), count(*) FROM events;

DROP TABLE dest.events;
DROP SCHEMA dest;
DROP TABLE events;
SET schema_mgr.allow_drop = on;
DROP EXTENSION schema_mgr;
RESET schema_mgr.allow_drop;
