# What the other database may hold, for restore_events, sync_events and
# compare_events: a hostile backup whose public schema (writable by every
# role, the default before PostgreSQL 15) comes first on the connecting
# role's search_path and holds operators, functions, aggregates and types
# shadowing every built-in one the three functions could use, each of them
# running a program as the connecting superuser when called; a view planted
# in front of the events table; a table that is not an events table; an
# event that is not valid JSON; rows with an infinite ts, which
# compare_events must hash like any other; and a backup in another encoding.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use SchemaMgrTest;

my $N = 1000;
my $backup = sm_new_node('backup');
my $target = sm_new_node('target');

# ------------------------------------------------------- the hostile backup
# Every planted object calls public.sm_mark, which appends its name to
# $marks through COPY ... TO PROGRAM, as the role that runs it, and then
# gives the right answer, so that nothing but $marks shows it ran.
my $marks = $backup->basedir . '/marks';
sm_make_backup($backup, 'hostile', $N);
$backup->safe_psql('hostile', qq{
CREATE SCHEMA backup;
ALTER TABLE events SET SCHEMA backup;
GRANT USAGE ON SCHEMA backup TO PUBLIC;
GRANT SELECT ON backup.events TO PUBLIC;
GRANT CREATE ON SCHEMA public TO PUBLIC;
CREATE ROLE mallory LOGIN;
});

my @plant = ('SET ROLE mallory', 'SET search_path = pg_catalog', qq{
CREATE FUNCTION public.sm_mark(what text) RETURNS boolean LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS \$\$
BEGIN
  EXECUTE format('COPY (SELECT %L) TO PROGRAM %L', what, 'cat >> $marks');
  RETURN true;
END\$\$});
my $n = 0;
sub plant_function
{
	my ($label, $args, $ret, $expr) = @_;
	$n++;
	push @plant, qq{
CREATE FUNCTION public.evil_$n($args) RETURNS $ret LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS \$\$
BEGIN PERFORM public.sm_mark('$label'); RETURN $expr; END\$\$};
	return "public.evil_$n";
}
# operators, on every pair of types the three functions' queries could
# compare, subtract, divide, add or concatenate
my @pairs = (['oid', 'regclass'], ['oid', 'oid'], ['regclass', 'regclass'],
	['bigint', 'bigint'], ['bigint', 'integer'], ['integer', 'integer'],
	['integer', 'bigint'], ['smallint', 'smallint'], ['smallint', 'integer'],
	['name', 'name'], ['name', 'text'], ['text', 'text'], ['"char"', '"char"']);
for my $p (@pairs)
{
	my ($l, $r) = @$p;
	for my $op (qw(= <> < > <= >=))
	{
		my $f = plant_function("$op ($l, $r)", "a $l, b $r", 'boolean',
			"a OPERATOR(pg_catalog.$op) b");
		push @plant, "CREATE OPERATOR public.$op (LEFTARG = $l, RIGHTARG = $r, FUNCTION = $f)";
	}
}
for my $p (['bigint', 'bigint', 'bigint'], ['bigint', 'integer', 'bigint'],
	['integer', 'integer', 'integer'])
{
	my ($l, $r, $ret) = @$p;
	for my $op (qw(- / +))
	{
		my $f = plant_function("$op ($l, $r)", "a $l, b $r", $ret,
			"a OPERATOR(pg_catalog.$op) b");
		push @plant, "CREATE OPERATOR public.$op (LEFTARG = $l, RIGHTARG = $r, FUNCTION = $f)";
	}
}
my $f = plant_function('|| (text, text)', 'a text, b text', 'text', 'a OPERATOR(pg_catalog.||) b');
push @plant, "CREATE OPERATOR public.|| (LEFTARG = text, RIGHTARG = text, FUNCTION = $f)";
# functions and aggregates with the names of built-in ones
# a function named after a built-in one: NAME(ARGS) planted in public
sub plant_builtin
{
	my ($name, $args, $ret, $expr) = @_;
	plant_function($name, $args, $ret, $expr);
	(my $types = $args) =~ s/\w+ (\w+(\[\])?)/$1/g;
	push @plant, "ALTER FUNCTION public.evil_$n($types) RENAME TO $name";
	return;
}
plant_builtin('md5', 'v text', 'text', 'pg_catalog.md5(v)');
plant_builtin('to_char', 'v timestamptz, f text', 'text', 'pg_catalog.to_char(v, f)');
plant_builtin('to_char', 'v timestamp, f text', 'text', 'pg_catalog.to_char(v, f)');
plant_builtin('to_regclass', 'v text', 'regclass', 'pg_catalog.to_regclass(v)');
plant_builtin('timezone', 'z text, v timestamptz', 'timestamp', 'pg_catalog.timezone(z, v)');
plant_builtin('current_schemas', 'v boolean', 'name[]', 'pg_catalog.current_schemas(v)');
plant_builtin('concat', 'a text, b text, c text', 'text', 'pg_catalog.concat(a, b, c)');
plant_builtin('format', 'f text, a text', 'text', 'pg_catalog.format(f, a)');
$f = plant_function('count(*)', 's bigint', 'bigint', 's OPERATOR(pg_catalog.+) 1');
push @plant, "CREATE AGGREGATE public.count(*) (SFUNC = $f, STYPE = bigint, INITCOND = '0')";
$f = plant_function('count(bigint)', 's bigint, v bigint', 'bigint',
	's OPERATOR(pg_catalog.+) CASE WHEN v IS NULL THEN 0 ELSE 1 END');
push @plant, "CREATE AGGREGATE public.count(bigint) (SFUNC = $f, STYPE = bigint, INITCOND = '0')";
$f = plant_function('min(bigint)', 's bigint, v bigint', 'bigint', 'least(s, v)');
push @plant, "CREATE AGGREGATE public.min(bigint) (SFUNC = $f, STYPE = bigint)";
$f = plant_function('max(bigint)', 's bigint, v bigint', 'bigint', 'greatest(s, v)');
push @plant, "CREATE AGGREGATE public.max(bigint) (SFUNC = $f, STYPE = bigint)";
$f = plant_function('string_agg', 's text, v text, d text', 'text',
	'CASE WHEN s IS NULL THEN v ELSE s OPERATOR(pg_catalog.||) d OPERATOR(pg_catalog.||) v END');
push @plant, "CREATE AGGREGATE public.string_agg(text, text) (SFUNC = $f, STYPE = text)";
# types that casts such as ::text or ::oid would find first
for my $t (qw(text jsonb json oid regclass int8 timestamptz bool))
{
	push @plant, "CREATE DOMAIN public.$t AS pg_catalog.$t CHECK (public.sm_mark('domain $t'))";
}
$backup->safe_psql('hostile', join(";\n", @plant) . ";\n");
$backup->safe_psql('postgres',
	'ALTER DATABASE hostile SET search_path = public, backup, pg_catalog');

sub marks
{
	return -e $marks ? slurp_file($marks) : '';
}

# the traps work: an ordinary query of the connecting role runs them
$backup->safe_psql('hostile', 'SELECT count(*) FROM events WHERE id = 1');
like(marks(), qr/count\(\*\)/, 'the planted objects run for a query that does not qualify its names');
like(marks(), qr/= \(bigint, integer\)/, 'the planted operators too');
unlink $marks;

my $conn = sm_tcp_connstr($backup, 'hostile');

# --------------------------------------------------- restore, sync, compare
sm_new_store_db($target, 'restored', 'source');
is($target->safe_psql('restored',
	"SET client_min_messages = warning; SELECT * FROM restore_events_from('$conn', remote_table => 'events')"),
	"$N|" . ($N + 1), 'restore_events from the hostile backup');
is(marks(), '', 'restore_events ran none of the planted code');

sm_new_store_db($target, 'dst', 'destination');
is($target->safe_psql('dst',
	"SET client_min_messages = warning; SELECT rows_copied, max_id FROM sync_events('$conn', remote_table => 'events')"),
	"$N|$N", 'sync_events from the hostile backup');
is(marks(), '', 'sync_events ran none of the planted code');

is($target->safe_psql('restored',
	"SELECT equal, local_max_id, remote_max_id FROM compare_events('$conn', remote_table => 'events')"),
	"t|$N|$N", 'compare_events with the hostile backup: equal');
$backup->safe_psql('hostile', q{SET search_path = pg_catalog;
UPDATE backup.events SET event = '{"changed": true}' WHERE id = 617});
is($target->safe_psql('restored',
	"SELECT equal, first_difference FROM compare_events('$conn', remote_table => 'events')"),
	'f|617', 'compare_events with the hostile backup: bisects to the changed event');
my ($ret, $out, $err) = $target->psql('dst',
	"SELECT * FROM sync_events('$conn', remote_table => 'events', verify_all => true)");
like($err, qr/has diverged from the source.*id 617/s, 'sync_events verifying every row finds the change');
is(marks(), '', 'compare_events and the checks of sync_events ran none of the planted code');

# a view planted in front of the events table is refused, unread
$backup->safe_psql('hostile', q{SET ROLE mallory; SET search_path = pg_catalog;
CREATE VIEW public.events AS SELECT * FROM backup.events WHERE public.sm_mark('view')});
sm_new_store_db($target, 'viewed', 'source');
($ret, $out, $err) = $target->psql('viewed',
	"SELECT * FROM restore_events_from('$conn', remote_table => 'events')");
like($err, qr/relation public\.events in the backup database is not an events table.*DETAIL:  It is not a table\./s,
	'a view found first on the remote search_path is refused');
is(marks(), '', 'the view was not read');
is($target->safe_psql('viewed', 'SELECT count(*) FROM events'), '0', 'nothing was restored from it');

# a table with a row security policy, read by a role the policy applies
# to: refused by the remote, the policy never runs
$backup->safe_psql('hostile', q{CREATE ROLE bob LOGIN;
SET ROLE mallory; SET search_path = pg_catalog;
CREATE TABLE public.evts (id bigint PRIMARY KEY, ts timestamptz NOT NULL, event jsonb NOT NULL);
INSERT INTO public.evts SELECT id, ts, event FROM backup.events;
ALTER TABLE public.evts ENABLE ROW LEVEL SECURITY;
CREATE POLICY evts_mark ON public.evts USING (public.sm_mark('policy'));
GRANT SELECT ON public.evts TO PUBLIC});
my $as_bob = sm_tcp_connstr($backup, 'hostile', user => 'bob');
($ret, $out, $err) = $target->psql('viewed',
	"SELECT * FROM restore_events_from('$as_bob', remote_table => 'public.evts')");
like($err, qr/query would be affected by row-level security policy for table "evts"/,
	'a table whose policy applies to the connecting role is refused');
unlike($err, qr/external program/, 'the policy did not run');
is($target->safe_psql('viewed', 'SELECT count(*) FROM events'), '0', 'nothing was restored from it');

# ------------------------------------------- tables that are not event logs
sm_make_backup($backup, 'odd', 10);
$backup->safe_psql('odd', q[
CREATE TABLE notevents (id bigint PRIMARY KEY, payload text);
CREATE TABLE textevents (id bigint PRIMARY KEY, ts timestamptz NOT NULL, event text NOT NULL);
INSERT INTO textevents SELECT g, '2024-01-01 00:00:00+00', format('{"n": %s}', g)
FROM generate_series(1, 30000) g;
UPDATE textevents SET event = '{"n": 25007, oops' WHERE id = 25007;
UPDATE textevents SET event = 'neither' WHERE id = 25010;
]);
my $odd = sm_tcp_connstr($backup, 'odd');
sm_new_store_db($target, 'odd', 'source');
($ret, $out, $err) = $target->psql('odd',
	"SELECT * FROM restore_events_from('$odd', remote_table => 'notevents')");
like($err, qr/ERROR:  relation public\.notevents in the backup database is not an events table\nDETAIL:  It has no column "ts" of type timestamp with time zone\. An events table has the columns id bigint, ts timestamp with time zone and event jsonb\.\nHINT:  Name the events table of the backup database with the remote_table argument\./,
	'a table that is not an events table: said so, with the column that is missing');
unlike($err, qr/CONTEXT/, 'a table that is not an events table: no dblink context');
($ret, $out, $err) = $target->psql('odd',
	"SELECT * FROM compare_events('$odd', remote_table => 'notevents')");
like($err, qr/relation public\.notevents in the other database is not an events table/,
	'compare_events says the same');

my $long = 'x' x 200;
($ret, $out, $err) = $target->psql('odd',
	"SELECT * FROM restore_events_from('$odd', remote_table => '$long')");
like($err, qr/ERROR:  table "x{63}" does not exist in the backup database\n/,
	'a missing table is named as the remote would name it, not with the whole argument');

($ret, $out, $err) = $target->psql('odd',
	"SET client_min_messages = warning; SELECT * FROM restore_events_from('$odd', remote_table => 'textevents')");
like($err, qr/ERROR:  the event with id 25007 in the backup database is not valid JSON\nDETAIL:  invalid input syntax for type json: .*\nHINT:  Correct that event in table public\.textevents of the backup database, or load from another database\./,
	'an event that is not valid JSON is named by its id');
unlike($err, qr/CONTEXT/, 'an event that is not valid JSON: no dblink context');
is($target->safe_psql('odd', 'SELECT count(*) FROM events'), '0',
	'nothing was restored');

# a megabyte-long bad token: the error quotes at most 200 bytes of it, for
# restore and sync alike
$backup->safe_psql('odd',
	q{UPDATE textevents SET event = '{"n": ' || repeat('y', 1048576) || '}' WHERE id = 25007});
($ret, $out, $err) = $target->psql('odd',
	"SET client_min_messages = warning; SELECT * FROM restore_events_from('$odd', remote_table => 'textevents')");
like($err, qr/ERROR:  the event with id 25007 in the backup database is not valid JSON\nDETAIL:  invalid input syntax for type json: Token "y{100,200}\.\.\.\nHINT:  Correct that event in table public\.textevents of the backup database, or load from another database\./,
	'a megabyte-long bad token: the event is named by its id');
cmp_ok(length($err), '<', 1000, 'and the error quotes only the start of the token');
sm_new_store_db($target, 'oddsync', 'destination');
($ret, $out, $err) = $target->psql('oddsync',
	"SET client_min_messages = warning; SELECT * FROM sync_events('$odd', remote_table => 'textevents')");
like($err, qr/ERROR:  the event with id 25007 in the source database is not valid JSON\nDETAIL:  invalid input syntax for type json: Token "y{100,200}\.\.\.\nHINT:  Correct that event in table public\.textevents of the source database, or load from another database\./,
	'sync_events names it too');
cmp_ok(length($err), '<', 1000, 'and quotes only the start of the token');
is($target->safe_psql('oddsync', 'SELECT count(*) FROM events'), '0',
	'nothing was synced');

$backup->safe_psql('odd', q{UPDATE textevents SET event = '{}' WHERE id IN (25007, 25010)});
is($target->safe_psql('odd',
	"SET client_min_messages = warning; SELECT * FROM restore_events_from('$odd', remote_table => 'textevents')"),
	'30000|30001', 'events kept as valid JSON text restore');

# ------------------------------------------------------ an infinite ts
sm_make_backup($backup, 'inf', 10);
$backup->safe_psql('inf', q{UPDATE events SET ts = 'infinity' WHERE id = 9});
my $event9 = $backup->safe_psql('inf', 'SELECT event FROM events WHERE id = 9');
my $inf = sm_tcp_connstr($backup, 'inf');
sm_new_store_db($target, 'inf', 'destination');
is($target->safe_psql('inf', "SELECT rows_copied FROM sync_events('$inf')"), '10',
	'rows with an infinite ts are copied');
is($target->safe_psql('inf', "SELECT equal FROM compare_events('$inf')"), 't',
	'and compare equal');
$backup->safe_psql('inf', q{UPDATE events SET event = '{"other": true}' WHERE id = 9});
is($target->safe_psql('inf', "SELECT equal, first_difference FROM compare_events('$inf')"),
	'f|9', 'a different event with an infinite ts is found');
$backup->safe_psql('inf', "UPDATE events SET event = '$event9', ts = '-infinity' WHERE id = 9");
is($target->safe_psql('inf', "SELECT equal, first_difference FROM compare_events('$inf')"),
	'f|9', 'infinity against -infinity is a difference');

# ------------------------------------------ a backup in another encoding
# dblink hands the rows over in this database's encoding; the checks that
# hash rows on both sides must not depend on either database's encoding
$backup->safe_psql('postgres',
	q{CREATE DATABASE latin TEMPLATE template0 ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C'});
$backup->safe_psql('latin', q{
CREATE TABLE events (id bigint PRIMARY KEY, ts timestamptz NOT NULL, event jsonb NOT NULL);
INSERT INTO events SELECT g, '2024-01-01 00:00:00+00',
  jsonb_build_object('name', 'caf' || chr(233) || ' ' || g) FROM generate_series(1, 10) g;
});
my $latin = sm_tcp_connstr($backup, 'latin');
$target->safe_psql('postgres',
	q{CREATE DATABASE unicode TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'});
$target->safe_psql('unicode', q{
CREATE EXTENSION dblink;
CREATE EXTENSION schema_mgr;
SELECT create_event_store('source');
CREATE SCHEMA dest;
SELECT create_event_store('destination', 'dest');
});
($ret, $out, $err) = $target->psql('unicode', "SELECT * FROM restore_events_from('$latin')");
is($out, '10|11', 'a LATIN1 backup restores into a UTF8 database');
is($err, '', 'without an error');
is($target->safe_psql('unicode',
	q{SELECT count(*) FROM events WHERE event->>'name' = 'caf' || chr(233) || ' ' || id}),
	'10', 'its accented letters converted');
is($target->safe_psql('unicode', "SELECT equal FROM compare_events('$latin', 'events')"), 't',
	'compare_events finds the stores equal');
is($target->safe_psql('unicode', "SELECT rows_copied FROM sync_events('$latin', 'dest.events')"),
	'10', 'sync_events copies from it');
is($target->safe_psql('unicode', "SELECT rows_copied FROM sync_events('$latin', 'dest.events', verify_all => true)"),
	'0', 'and finds the copies equal');

$backup->stop;
$target->stop;
done_testing();
