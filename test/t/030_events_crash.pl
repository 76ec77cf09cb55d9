# ----------------------------------------------------------------------
# 030_events_crash.pl -- an immediate shutdown (a crash, as far as the data
# directory is concerned) in the middle of an insert_events load: after
# crash recovery the ids are still exactly 1..N and the next insert gets
# N+1.
# ----------------------------------------------------------------------
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(usleep);

my $node = PostgreSQL::Test::Cluster->new('crash');
$node->init;
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION schema_mgr;
	SELECT create_event_store('source');
});

my $script = $node->basedir . '/load.sql';
PostgreSQL::Test::Utils::append_to_file($script, q{
\set n random(1, 20)
SELECT first_id FROM append_events(ARRAY(SELECT jsonb_build_object('client', :client_id, 'k', g, 'entityName', 'crash') FROM generate_series(1, :n) g));
});

my ($out, $err) = ('', '');
my $load = IPC::Run::start(
	[ 'pgbench', '-n', '-c', '6', '-j', '2', '-T', '60', '-f', $script,
	  '-h', $node->host, '-p', $node->port, 'postgres' ],
	'>', \$out, '2>', \$err);

# let the load run until a few hundred transactions have committed
$node->poll_query_until('postgres',
	'SELECT count(*) > 2000 FROM events') or die 'load did not start';
my $before = $node->safe_psql('postgres', 'SELECT max(id) FROM events');
$node->stop('immediate');
$load->finish;    # pgbench fails once the server is gone; that is expected
ok(1, "server stopped in immediate mode at around id $before");

$node->start;
my ($n, $max, $distinct) = split /\|/, $node->safe_psql('postgres',
	'SELECT count(*), max(id), count(DISTINCT id) FROM events');
cmp_ok($n, '>=', $before, "no committed event was lost ($n >= $before)");
is($max, $n, "ids are 1..N after recovery (N = $n)");
is($distinct, $n, 'ids are distinct');
is($node->safe_psql('postgres',
	'SELECT count(*) FROM (SELECT ts < lag(ts) OVER (ORDER BY id) AS back FROM events) s WHERE back'),
	'0', 'ts never decreases along the ids');
is($node->safe_psql('postgres',
	q{SELECT insert_events($$($1[1], $2, '{"after": "crash"}')$$)}), '1',
	'insert after recovery works');
is($node->safe_psql('postgres',
	q{SELECT id FROM events WHERE event ->> 'after' = 'crash'}), $n + 1,
	'the next insert continues at N+1');
is($node->safe_psql('postgres',
	'SELECT last_id FROM append_events(ARRAY[\'{"typed": true}\'::jsonb, \'{}\'])'),
	$n + 3, 'and the typed call after it at N+2..N+3');

$node->stop;
done_testing();
