--
-- Privileges: an application role that may append events, and nothing else.
-- insert_events runs with the caller's rights; INSERT on the events table
-- is what lets a role append, and the guard trigger makes insert_events
-- the only way that INSERT privilege can be used.
--
CREATE EXTENSION schema_mgr;
SELECT create_event_store('source');
CREATE ROLE regress_event_writer;
CREATE ROLE regress_event_nobody;
GRANT INSERT, SELECT ON events TO regress_event_writer;

-- without the grant
SET ROLE regress_event_nobody;
SELECT insert_events($$($1[1], $2, '{"who": "nobody"}')$$);
SELECT * FROM append_events(ARRAY['{"who": "nobody"}']::jsonb[]);
RESET ROLE;

-- with it
SET ROLE regress_event_writer;
SELECT insert_events($$($1[1], $2, '{"who": "writer"}')$$);
SELECT first_id, last_id FROM append_events(ARRAY['{"who": "writer"}']::jsonb[]);
SELECT id, event FROM events ORDER BY id;
-- but no other write path
INSERT INTO events VALUES (3, now(), '{}');
UPDATE events SET event = '{}';
DELETE FROM events;
TRUNCATE events;
INSERT INTO event_store (relid, kind) VALUES ('events', 'destination');
UPDATE event_store SET kind = 'destination';
SELECT set_event_store_notify('events', 'none');
ALTER TABLE events DISABLE TRIGGER check_insert;
-- nor create a store where it may not create tables
SELECT create_event_store('source', 'public', 'mine');
RESET ROLE;
SELECT max(id), count(*) FROM events;

DROP TABLE events;
DROP ROLE regress_event_writer;
DROP ROLE regress_event_nobody;
SET schema_mgr.allow_drop = on;
DROP EXTENSION schema_mgr;
RESET schema_mgr.allow_drop;
