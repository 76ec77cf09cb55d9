# ----------------------------------------------------------------------
# 033_events_dump.pl -- event stores are user data: pg_dump keeps the rows
# and the registry (only the registrations of tables that exist: a bare
# oid restored elsewhere could name an unrelated table), a restore into a
# new database works (the guard
# triggers are created after the data is loaded), and insert_events
# continues at N+1 there; the view "id" goes with its table there too.  DROP EXTENSION leaves the tables alone: it is
# refused while a source store's guard depends on the extension, and a
# destination store simply survives it.
# ----------------------------------------------------------------------
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('dump');
$node->init;
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION schema_mgr;
	SELECT create_event_store('source');
	CREATE SCHEMA copies;
	SELECT create_event_store('destination', 'copies', notify => 'none');
	SELECT insert_events(format('($1[1], $2, %L), ($1[2], $2, %L)',
		'{"entityName": "a"}', '{"entityName": "b"}'));
	SELECT last_id FROM append_events(ARRAY['{"n": 3}', '{"n": 4}']::jsonb[]);
	INSERT INTO copies.events SELECT * FROM public.events;
	-- a registration whose table went without the sql_drop trigger seeing
	-- it (as a session's temporary table would, in 1.0)
	CREATE SCHEMA ghost;
	SELECT create_event_store('destination', 'ghost');
	ALTER EVENT TRIGGER schema_mgr_event_store_drop DISABLE;
	DROP SCHEMA ghost CASCADE;
	ALTER EVENT TRIGGER schema_mgr_event_store_drop ENABLE;
});
is($node->safe_psql('postgres', 'SELECT count(*) FROM event_store'), '3',
	'the registry holds a registration whose table is gone');

my $dump = $node->basedir . '/events.sql';
$node->command_ok([ 'pg_dump', '-d', $node->connstr('postgres'), '-f', $dump ],
	'pg_dump runs');
$node->safe_psql('postgres', 'CREATE DATABASE restored');
$node->command_ok([ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d',
	$node->connstr('restored'), '-f', $dump ], 'the dump restores');

is($node->safe_psql('restored', 'SELECT count(*), max(id) FROM events'), '4|4',
	'events restored');
is($node->safe_psql('restored', 'SELECT count(*) FROM copies.events'), '4',
	'destination store restored');
is($node->safe_psql('restored',
	'SELECT string_agg(relid::text || \':\' || kind || \':\' || notify, \',\' ORDER BY relid::text) FROM event_store'),
	'copies.events:destination:none,events:source:row', 'registry restored');
is($node->safe_psql('restored',
	q{SELECT first_id FROM append_events(ARRAY['{"after": "restore"}']::jsonb[])}),
	'5', 'insert_events continues at N+1 in the restored database');
my ($ret, $out, $err) = $node->psql('restored', 'DELETE FROM events');
like($err, qr/cannot perform SQL command on events table: DELETE/,
	'the guard is back after the restore');
($ret, $out, $err) = $node->psql('restored', q{INSERT INTO events VALUES (6, now(), '{}')});
like($err, qr/cannot insert into event store "public.events" directly/,
	'and refuses direct inserts');

# the view "id" goes with its table, in the restored database too (where
# the dependency that ties them is not restored)
is($node->safe_psql('restored', q{SELECT id FROM id}), '6',
	'the view id is restored and shows the next id');
$node->safe_psql('restored', q{
	CREATE ROLE regress_view_owner;
	CREATE SCHEMA other;
	CREATE VIEW other.id AS SELECT 1 AS id;
	ALTER VIEW public.id OWNER TO regress_view_owner});
$node->safe_psql('restored', 'DROP TABLE public.events');
is($node->safe_psql('restored', q{SELECT to_regclass('public.id') IS NULL, to_regclass('other.id') IS NULL}),
	't|f',
	'DROP TABLE of the store drops its view id, whoever owns it, and no other view');

# DROP EXTENSION never takes the stores with it
($ret, $out, $err) = $node->psql('postgres',
	'SET schema_mgr.allow_drop = on; DROP EXTENSION schema_mgr');
like($err, qr/cannot drop extension schema_mgr because other objects depend on it/,
	'DROP EXTENSION is refused while a source store is guarded');
$node->safe_psql('postgres', 'DROP TABLE public.events');
$node->safe_psql('postgres', 'SET schema_mgr.allow_drop = on; DROP EXTENSION schema_mgr');
is($node->safe_psql('postgres', 'SELECT count(*) FROM copies.events'), '4',
	'a destination store survives DROP EXTENSION with its rows');

$node->stop;
done_testing();
