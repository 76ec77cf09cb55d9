--
-- Hostile input to the slate text API: every string that is not a list of
-- ($1[n], $2, '<json>') tuples is refused and nothing is written.  The
-- string is never executed: the table "victim" must survive all of it.
--
CREATE EXTENSION schema_mgr;
SELECT create_event_store('source');
CREATE TABLE victim (x int);
INSERT INTO victim VALUES (1);
SELECT insert_events($$($1[1], $2, '{"n": 1}')$$);

-- SQL after the VALUES list
SELECT insert_events($$($1[1], $2, '{}'); DROP TABLE victim; --$$);
SELECT insert_events($$($1[1], $2, '{}'); DELETE FROM victim$$);
SELECT insert_events($$($1[1], $2, '{}') RETURNING (SELECT count(*) FROM victim)$$);
SELECT insert_events($$($1[1], $2, '{}') ON CONFLICT DO NOTHING$$);
SELECT insert_events($$($1[1], $2, '{}'),$$);
SELECT insert_events($$($1[1], $2, '{}'); ;; SELECT 1$$);
SELECT insert_events($$($1[1], $2, '{}') /* unterminated$$);
SELECT insert_events($$($1[1], $2, '{}') /* /* nested */ still open$$);
SELECT insert_events($$($1[1], $2, '{}') - - not a comment$$);
SELECT insert_events($$;$$);
-- subqueries, function calls, casts, other columns
SELECT insert_events($$($1[1], $2, (SELECT '{}'::jsonb))$$);
SELECT insert_events($$($1[1], $2, pg_sleep(10)::text::jsonb)$$);
SELECT insert_events($$($1[1], $2, '{}'::jsonb)$$);
SELECT insert_events($$($1[1], $2, '{}', 42)$$);
SELECT insert_events($$($1[1], now(), '{}')$$);
SELECT insert_events($$(1, $2, '{}')$$);
SELECT insert_events($$($1[1] + 1, $2, '{}')$$);
SELECT insert_events($$($1[1], $2, '{}' || '{}')$$);
SELECT insert_events($$($1[1], $2, '{}' '{}')$$);
SELECT insert_events($$($1[1], $2, NULL)$$);
-- other string syntaxes
SELECT insert_events($$($1[1], $2, E'{}')$$);
SELECT insert_events($$($1[1], $2, $x${}$x$)$$);
SELECT insert_events($$($1[1], $2, U&'{}')$$);
-- unbalanced quotes and parentheses
SELECT insert_events($$($1[1], $2, '{}$$);
SELECT insert_events($$($1[1], $2, '{}'$$);
SELECT insert_events($$($1[1], $2, '{"a": "it's"}')$$);
SELECT insert_events($$(($1[1], $2, '{}'))$$);
-- bad placeholders
SELECT insert_events($$($1[0], $2, '{}')$$);
SELECT insert_events($$($1[-1], $2, '{}')$$);
SELECT insert_events($$($1[99999999999999999999999], $2, '{}')$$);
SELECT insert_events($$($1[2147483648], $2, '{}')$$);
SELECT insert_events($$($1[], $2, '{}')$$);
SELECT insert_events($$($10[1], $2, '{}')$$);
SELECT insert_events($$($1[1], $20, '{}')$$);
SELECT insert_events($$($1[1], $3, '{}')$$);
SELECT insert_events($$($1[1], $2, $2, '{}')$$);
-- binary junk (NUL-free) and non-ASCII
SELECT insert_events(convert_from('\x28c3a9e282ac0b0c'::bytea, 'UTF8'));
SELECT insert_events(E'($1[1], $2, \x01''{}'')');
SELECT insert_events(E'\x01\x02\x7f');
SELECT insert_events($$($1[1], $2, '{}') ✓$$);
SELECT insert_events(repeat('(', 100000));
-- invalid JSON, in any row
SELECT insert_events($$($1[1], $2, 'not json')$$);
SELECT insert_events($$($1[1], $2, '{}'), ($1[2], $2, '{"a": [1, 2}')$$);
SELECT insert_events($$($1[1], $2, '')$$);
-- a megabyte-long bad token: the error names the event, keeps PostgreSQL's
-- SQLSTATE, quotes its message and at most 200 bytes of the token
SELECT insert_events(format($$($1[1], $2, '{}'), ($1[2], $2, '{"a": %s}')$$,
                            repeat('x', 1048576)));
DO $$
DECLARE
    state text;
    message text;
    detail text;
    hint text;
BEGIN
    PERFORM insert_events(format($f$($1[1], $2, '[1]'), ($1[2], $2, '[2]'), ($1[3], $2, '[%s]')$f$,
                                 repeat('é', 1048576)));
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT,
        detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
    RAISE NOTICE 'SQLSTATE %: %', state, message;
    RAISE NOTICE 'detail: % bytes, ends in "%"', octet_length(detail), right(detail, 6);
    RAISE NOTICE 'hint: %', hint;
END
$$;
SELECT insert_events(NULL);

-- nothing was written and nothing ran
SELECT max(id), count(*) FROM events;
SELECT * FROM victim;

-- placeholders inside the JSON text are data, not placeholders (the
-- original counted them and refused this, or worse)
SELECT insert_events($$($1[1], $2, '{"note": "($1[7], $2, ''x''); DROP TABLE victim; --", "s": "$2,"}')$$);
SELECT id, event FROM events WHERE id = 2;
-- standard_conforming_strings off would make the original read escapes
SET standard_conforming_strings = off;
SELECT insert_events('($1[1], $2, ''{"a": "back\\slash"}'')');
RESET standard_conforming_strings;
SELECT insert_events($$($1[1], $2, '{"a": "back\\slash"}')$$);
SELECT id, event FROM events WHERE id = 3;
SELECT max(id), count(*) FROM events;

-- what slate ran without effect is accepted: a trailing semicolon, SQL
-- comments wherever white space may be (data inside the JSON literal)
SELECT insert_events($$($1[1], $2, '{"inert": 1}');$$);
SELECT insert_events(E'($1[1], $2, ''{"inert": 2}'') ;\n');
SELECT insert_events($$($1[1], $2, '{"inert": 3}') -- note$$);
SELECT insert_events(E'-- first line\n($1[1], $2, ''{"inert": 4}''), -- a note\n($1[2], $2, ''{"inert": 5}'');  -- done');
SELECT insert_events($$/* c */ ($1[1], /* c */ $2, /* c /* nested */ c */ '{"inert": 6, "x": "/* data */ -- data"}') /* c */;$$);
SELECT id, event FROM events WHERE event ? 'inert' ORDER BY id;

DROP TABLE victim;
DROP TABLE events;
SET schema_mgr.allow_drop = on;
DROP EXTENSION schema_mgr;
RESET schema_mgr.allow_drop;
