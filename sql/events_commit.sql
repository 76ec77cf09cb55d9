--
-- Commit modes of event stores: set_event_store_commit and what a grouped
-- commit leaves behind in the session.
--
CREATE EXTENSION schema_mgr;
CREATE SCHEMA commit_a;
SELECT create_event_store('source', 'commit_a');
SELECT create_event_store('destination', 'commit_a', 'copy');
-- new stores are durable
SELECT relid, kind, commit_mode FROM event_store ORDER BY relid::text;

SELECT set_event_store_commit('commit_a.events', 'grouped');
SELECT relid, commit_mode FROM event_store ORDER BY relid::text;

-- bad arguments
SELECT set_event_store_commit(NULL, 'grouped');
SELECT set_event_store_commit('commit_a.events', NULL);
SELECT set_event_store_commit('commit_a.events', 'later');
SELECT set_event_store_commit('commit_a.events', repeat('x', 10000));
SELECT set_event_store_commit('pg_class', 'grouped');
SELECT set_event_store_commit('commit_a.copy', 'grouped');
-- the registry refuses other values, even from its owner
\set VERBOSITY terse
UPDATE event_store SET commit_mode = 'later' WHERE relid = 'commit_a.events'::regclass;
\set VERBOSITY default
-- only the store's owner may change its mode
CREATE ROLE regress_commit_stranger;
GRANT USAGE ON SCHEMA commit_a TO regress_commit_stranger;
SET ROLE regress_commit_stranger;
SELECT set_event_store_commit('commit_a.events', 'durable');
RESET ROLE;
SELECT relid, commit_mode FROM event_store ORDER BY relid::text;

-- grouped appends: gapless, and the session's synchronous_commit is what
-- it was, inside the transaction and after it
SHOW synchronous_commit;
SELECT insert_events($$($1[1], $2, '{"a": 1}')$$, 'commit_a.events');
BEGIN;
SELECT first_id, last_id FROM append_events(ARRAY['{"a": 2}', '{"a": 3}']::jsonb[], 'commit_a.events');
SHOW synchronous_commit;
COMMIT;
SHOW synchronous_commit;
SET synchronous_commit = remote_write;
BEGIN;
SELECT insert_events($$($1[1], $2, '{"a": 4}')$$, 'commit_a.events');
SET LOCAL synchronous_commit = off;
SELECT insert_events($$($1[1], $2, '{"a": 5}')$$, 'commit_a.events');
COMMIT;
SHOW synchronous_commit;
RESET synchronous_commit;
-- a rolled-back grouped transaction, and one rolled back to a savepoint
BEGIN;
SELECT insert_events($$($1[1], $2, '{"a": "rolled back"}')$$, 'commit_a.events');
ROLLBACK;
BEGIN;
SAVEPOINT s;
SELECT insert_events($$($1[1], $2, '{"a": "rolled back to s"}')$$, 'commit_a.events');
ROLLBACK TO SAVEPOINT s;
SELECT insert_events($$($1[1], $2, '{"a": 6}')$$, 'commit_a.events');
COMMIT;
SHOW synchronous_commit;
-- an error at commit (a deferred constraint) after a grouped append
CREATE TABLE commit_a.deferred (x int UNIQUE DEFERRABLE INITIALLY DEFERRED);
BEGIN;
SELECT insert_events($$($1[1], $2, '{"a": "failed at commit"}')$$, 'commit_a.events');
INSERT INTO commit_a.deferred VALUES (1), (1);
COMMIT;
SHOW synchronous_commit;
SELECT id, event ->> 'a' AS a FROM commit_a.events ORDER BY id;

-- back to durable
SELECT set_event_store_commit('commit_a.events', 'durable');
SELECT insert_events($$($1[1], $2, '{"a": 7}')$$, 'commit_a.events');
SELECT count(*) = max(id) AS gapless, max(id) FROM commit_a.events;

DROP SCHEMA commit_a CASCADE;
DROP ROLE regress_commit_stranger;
SET schema_mgr.allow_drop = on;
DROP EXTENSION schema_mgr;
RESET schema_mgr.allow_drop;
