# ----------------------------------------------------------------------
# 039_events_lock_timeout.pl -- a writer that gives up waiting for a
# store's allocator lock (lock_timeout) is told which store and which
# session holds it, not a bare "canceling statement due to lock timeout";
# a SERIALIZABLE writer that loses is told which store it was appending
# to, not shown schema_mgr's internal statements.  schema_mgr.trace_allocator
# logs, as a backend exits, how its appending transactions spent their time.
# ----------------------------------------------------------------------
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $node = PostgreSQL::Test::Cluster->new('events_lock');
$node->init;
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION schema_mgr;
	SELECT create_event_store('source');
});

my $holder = $node->background_psql('postgres', on_error_stop => 1);
$holder->query_safe(q{SET application_name = 'slow_writer'});
my $pid = $holder->query_safe('SELECT pg_backend_pid()');
$holder->query_safe(q{BEGIN; SELECT insert_events($$($1[1], $2, '{"n": 1}')$$)});

my ($ret, $out, $err) = $node->psql('postgres',
	q{SET lock_timeout = '200ms'; SELECT insert_events($$($1[1], $2, '{"n": 2}')$$)});
like($err, qr/ERROR:  could not lock event store "public.events" within lock_timeout/,
	'the timeout names the store');
like($err, qr/DETAIL:  Its allocator lock is held by process $pid \(application_name "slow_writer"\)/,
	'and the session that holds its allocator lock');
($ret, $out, $err) = $node->psql('postgres',
	q{SET lock_timeout = '200ms'; SELECT * FROM append_events(ARRAY['{"n": 2}']::jsonb[])});
like($err, qr/could not lock event store "public.events" within lock_timeout/,
	'the typed call too');

$holder->query_safe('COMMIT');
is($node->safe_psql('postgres',
	q{SET lock_timeout = '200ms'; SELECT first_id FROM append_events(ARRAY['{"n": 2}']::jsonb[])}),
	'2', 'once the holder commits, the next writer continues the sequence');
$holder->quit;

# two SERIALIZABLE writers, the second of which read the store first
my $first = $node->background_psql('postgres', on_error_stop => 0);
my $second = $node->background_psql('postgres', on_error_stop => 0);
$first->query_safe('BEGIN ISOLATION LEVEL SERIALIZABLE');
$second->query_safe('BEGIN ISOLATION LEVEL SERIALIZABLE');
$second->query_safe('SELECT count(*) FROM events');
$first->query_safe(q{SELECT first_id FROM append_events(ARRAY['{"by": "first"}'::jsonb])});
$second->query_until(qr/started/,
	"\\echo started\nSELECT first_id FROM append_events(ARRAY['{\"by\": \"second\"}'::jsonb]);\n\\echo done\n");
$first->query_safe('COMMIT');
$second->query_until(qr/done/, '');
my $serr = $second->{stderr};
like($serr, qr/could not serialize access/, 'the second writer loses');
unlike($serr, qr/SQL statement|pg_catalog|unnest/,
	'no internal statement in its error');
like($serr, qr/CONTEXT:  appending to event store "public\.events"/,
	'the context names the store');
$first->quit;
$second->quit;

# schema_mgr.trace_allocator: superusers only
$node->safe_psql('postgres', 'CREATE ROLE tracer LOGIN');
($ret, $out, $err) = $node->psql('postgres', q{
	SELECT count(*) FROM append_events(ARRAY['{"loads": "schema_mgr"}'::jsonb]);
	SET ROLE tracer;
	SET schema_mgr.trace_allocator = on;
});
like($err, qr/permission denied to set parameter "schema_mgr.trace_allocator"/,
	'only superusers trace the allocator');

# three transactions append (one of them twice, two durable, one grouped);
# a rolled-back one and a reader are not counted
my $offset = -s $node->logfile;
$node->safe_psql('postgres', q{
	SET schema_mgr.trace_allocator = on;
	SELECT insert_events($$($1[1], $2, '{"t": 1}')$$);
	BEGIN;
	SELECT insert_events($$($1[1], $2, '{"t": 2}')$$);
	SELECT insert_events($$($1[1], $2, '{"t": 3}')$$);
	COMMIT;
	BEGIN;
	SELECT insert_events($$($1[1], $2, '{"t": 4}')$$);
	ROLLBACK;
	SELECT count(*) FROM events;
	SELECT set_event_store_commit('events', 'grouped');
	SELECT insert_events($$($1[1], $2, '{"t": 5}')$$);
	SELECT set_event_store_commit('events', 'durable');
});
my $log;
foreach my $try (1 .. 100)
{
	$log = slurp_file($node->logfile, $offset);
	last if $log =~ /allocator trace:/;
	usleep(100_000);
}
like($log,
	qr/LOG:  allocator trace: 3 transactions appended events; mean waiting [0-9.]+ us, writing [0-9.]+ us, until commit [0-9.]+ us, committing [0-9.]+ us/,
	'the backend logs its appending transactions as it exits');
$node->stop;
done_testing();
