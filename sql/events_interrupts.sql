--
-- Every loop of insert_events over its input checks for interrupts, so a
-- cancel or statement_timeout stops a large call at once.  Each input
-- below is valid up to its last element, which is bad, and takes far
-- longer to go through than the timeout: with the checks, the call ends
-- with the timeout; without them, the loop would run to the end and
-- report that element.  The inputs are stored compressed: reading one
-- checks for interrupts nowhere (decompression does not), so the first
-- check after the timeout is one of the parse's.  Which one is certain for
-- the rows (the parse checks per row), the conversion to jsonb (a longer
-- timeout lets the parse of its few rows finish first) and the INSERT;
-- the literal of doubled quotes and the list of comments take about as
-- long to read as to parse, so they show that such calls stop, not where.
--
CREATE EXTENSION schema_mgr;
SELECT create_event_store('source', notify => 'none');
CREATE TABLE input (name text PRIMARY KEY, v text);
-- 2,000,000 rows, then a syntax error (the parse loop)
INSERT INTO input VALUES ('rows',
	repeat('($1[1], $2, ''1''), ', 2000000) || '($1[1], $2, ''1'') x');
-- 30,000,000 doubled quotes in one literal that is never closed (the
-- loop over a literal's quotes)
INSERT INTO input VALUES ('quotes',
	'($1[1], $2, ''' || repeat('''''', 30000000));
-- 20,000,000 comments after a row, then a syntax error (the loop over
-- white space and comments)
INSERT INTO input VALUES ('comments',
	'($1[1], $2, ''1'')' || repeat(E'--\n', 20000000) || ' x');
-- 60 events of 300,000 array elements each, the last element of the last
-- one invalid JSON: parsed at once, then converted event by event (the
-- loop that makes the jsonb array)
INSERT INTO input SELECT 'json', string_agg(format('($1[%s], $2, ''[%s%s]'')',
	g, repeat('"", ', 300000), CASE WHEN g < 60 THEN '""' ELSE 'x' END), ', ')
FROM generate_series(1, 60) g;
-- 300,000 events, the last refused by a CHECK constraint (the INSERT)
CREATE TABLE typed AS SELECT array_agg(CASE WHEN g < 300000 THEN '{}'
	ELSE '{"last": true}' END::jsonb ORDER BY g) AS a
FROM generate_series(1, 300000) g;
ALTER TABLE events ADD CONSTRAINT not_last
	CHECK (NOT event OPERATOR(pg_catalog.?) 'last');

-- terse: where a timeout lands depends on the machine's speed, so no
-- context is shown
\set VERBOSITY terse
SET statement_timeout = '50ms';
SELECT insert_events(v) FROM input WHERE name = 'rows';
SELECT insert_events(v) FROM input WHERE name = 'quotes';
SELECT insert_events(v) FROM input WHERE name = 'comments';
SELECT last_id FROM typed, append_events(typed.a);
-- the parse of these 60 events takes a small part of the time their
-- conversion does: a longer timeout, so that it ends in the conversion
SET statement_timeout = '300ms';
SELECT insert_events(v) FROM input WHERE name = 'json';
\set VERBOSITY default
RESET statement_timeout;

-- nothing was written, and the store takes events again
SELECT count(*) FROM events;
SELECT insert_events($$($1[1], $2, '{"after": "timeouts"}')$$);
SELECT id, event FROM events;

DROP TABLE input, typed;
DROP TABLE events;
SET schema_mgr.allow_drop = on;
DROP EXTENSION schema_mgr;
RESET schema_mgr.allow_drop;
