--
-- What no role may change about a source store: the rows insert_events
-- assigned (triggers), the guard (replica mode, logical replication), the
-- registry (temporary tables); and what schema_mgr may not change for
-- anyone else (DROP of unrelated objects).
--
CREATE SCHEMA tools;
CREATE EXTENSION schema_mgr SCHEMA tools;
SELECT tools.create_event_store('source', 'public');
CREATE ROLE regress_event_app;
GRANT ALL ON public.events TO regress_event_app;
GRANT USAGE ON SCHEMA tools TO regress_event_app;
GRANT CREATE ON SCHEMA public TO regress_event_app;
SELECT tools.insert_events($$($1[1], $2, '{"n": 1}')$$);

-- a role with TRIGGER on the store (GRANT ALL) adds a BEFORE INSERT row
-- trigger that would shift the ids, or rewrite ts and the event: refused,
-- and nothing is written
SET ROLE regress_event_app;
CREATE FUNCTION public.shift() RETURNS trigger LANGUAGE plpgsql AS
$$BEGIN NEW.id := NEW.id + 1000; RETURN NEW; END$$;
CREATE TRIGGER zz_shift BEFORE INSERT ON public.events
    FOR EACH ROW EXECUTE FUNCTION public.shift();
SELECT tools.insert_events($$($1[1], $2, '{"n": 2}')$$);
SELECT * FROM tools.append_events(ARRAY['{"n": 2}']::jsonb[]);
RESET ROLE;
DROP TRIGGER zz_shift ON public.events;
SET ROLE regress_event_app;
CREATE FUNCTION public.rewrite() RETURNS trigger LANGUAGE plpgsql AS
$$BEGIN NEW.ts := '2000-01-01'; NEW.event := '{"forged": true}'; RETURN NEW; END$$;
CREATE TRIGGER aa_rewrite BEFORE INSERT ON public.events
    FOR EACH ROW EXECUTE FUNCTION public.rewrite();
SELECT tools.insert_events($$($1[1], $2, '{"n": 2}')$$);
RESET ROLE;
DROP TRIGGER aa_rewrite ON public.events;
SET ROLE regress_event_app;
-- an AFTER trigger or a statement trigger cannot change a row: allowed
CREATE TABLE public.seen (id bigint);
CREATE FUNCTION public.note() RETURNS trigger LANGUAGE plpgsql AS
$$BEGIN INSERT INTO public.seen VALUES (NEW.id); RETURN NULL; END$$;
CREATE TRIGGER note AFTER INSERT ON public.events
    FOR EACH ROW EXECUTE FUNCTION public.note();
SELECT tools.insert_events($$($1[1], $2, '{"n": 2}')$$);
RESET ROLE;
DROP TRIGGER note ON public.events;
SELECT * FROM public.seen;
SELECT id, event, ts > '2001-01-01' AS ts_now FROM public.events ORDER BY id;

-- replica mode (what a logical replication apply worker runs in) does not
-- switch the guard off: a subscriber's events table is a destination store
SET session_replication_role = replica;
INSERT INTO public.events VALUES (3, now(), '{"replicated": true}');
DELETE FROM public.events;
RESET session_replication_role;
SELECT tgname, tgenabled FROM pg_trigger
WHERE tgrelid = 'public.events'::regclass ORDER BY tgname;
SELECT count(*) FROM public.events;

-- a store attached as a partition: every row is checked against the
-- partition's bounds, whichever way it is written (none is stored where
-- the parent would not see it)
CREATE SCHEMA part;
SELECT tools.create_event_store('source', 'part');
CREATE TABLE part.all_events (id bigint NOT NULL, ts timestamptz NOT NULL, event jsonb NOT NULL)
    PARTITION BY RANGE (id);
ALTER TABLE part.all_events ATTACH PARTITION part.events FOR VALUES FROM (1) TO (3);
\set VERBOSITY terse
SELECT * FROM tools.append_events(ARRAY['{"p": 1}', '{"p": 2}', '{"p": 3}']::jsonb[], 'part.events');
SELECT tools.insert_events($$($1[1], $2, '{"p": 1}'), ($1[2], $2, '{"p": 2}'), ($1[3], $2, '{"p": 3}')$$, 'part.events');
\set VERBOSITY default
SELECT first_id, last_id FROM tools.append_events(ARRAY['{"p": 1}', '{"p": 2}']::jsonb[], 'part.events');
SELECT (SELECT count(*) FROM part.events) AS in_store,
       (SELECT count(*) FROM part.all_events WHERE id >= 1) AS seen_through_parent;
DROP SCHEMA part CASCADE;

-- a store in a temporary schema would outlive its table in the registry
CREATE TEMP TABLE events (id bigint PRIMARY KEY, ts timestamptz NOT NULL, event jsonb NOT NULL);
SELECT tools.create_event_store('source', 'pg_temp', 'log');
SELECT tools.register_event_store('pg_temp.events', 'destination');
DROP TABLE pg_temp.events;
-- the registry rows pg_dump keeps are those of tables that exist
SELECT pg_catalog.array_to_string(e.extcondition, '') FROM pg_extension e
WHERE e.extname = 'schema_mgr';

-- a role that may not even look into the extension's schema drops its own
-- tables, columns and temporary tables as before
CREATE ROLE regress_event_stranger;
GRANT CREATE ON SCHEMA public TO regress_event_stranger;
SET ROLE regress_event_stranger;
CREATE TABLE public.mine (a int, b int);
ALTER TABLE public.mine DROP COLUMN b;
DROP TABLE public.mine;
CREATE TEMP TABLE scratch (a int);
DROP TABLE scratch;
RESET ROLE;
-- what slate's replicator checks before it starts: one of each
SELECT (SELECT count(*) FROM information_schema.triggers
        WHERE event_object_table = 'events' AND trigger_name = 'notify_insert') AS notify_insert,
       (SELECT count(*) FROM information_schema.triggers
        WHERE event_object_table = 'events' AND trigger_name = 'check_sql_command') AS check_sql_command,
       (SELECT count(*) FROM information_schema.routines
        WHERE routine_name = 'notify_event_insert' AND routine_type = 'FUNCTION') AS notify_event_insert,
       (SELECT count(*) FROM information_schema.routines
        WHERE routine_name = 'filter_sql_command' AND routine_type = 'FUNCTION') AS filter_sql_command,
       (SELECT count(*) FROM information_schema.routines
        WHERE routine_name = 'insert_events' AND routine_type = 'FUNCTION') AS insert_events,
       (SELECT count(*) FROM information_schema.routines
        WHERE routine_name = 'restore_events' AND routine_type = 'FUNCTION') AS restore_events,
       (SELECT count(*) FROM information_schema.tables
        WHERE table_name = 'id' AND table_schema = 'public') AS id;
-- the view id is slate's id table: the next id
SELECT * FROM public.id;
SELECT tools.event_store_next_id('public.no_such_table');

-- and dropping a store still forgets it, and takes the view id along
SELECT count(*) FROM tools.event_store;
DROP TABLE public.events;
SELECT count(*) FROM tools.event_store;
SELECT pg_catalog.to_regclass('public.id');

DROP TABLE public.seen;
DROP FUNCTION public.shift(), public.rewrite(), public.note();
REVOKE CREATE ON SCHEMA public FROM regress_event_app;
REVOKE CREATE ON SCHEMA public FROM regress_event_stranger;
DROP ROLE regress_event_stranger;
REVOKE USAGE ON SCHEMA tools FROM regress_event_app;
DROP ROLE regress_event_app;
SET schema_mgr.allow_drop = on;
DROP EXTENSION schema_mgr;
RESET schema_mgr.allow_drop;
DROP SCHEMA tools;
