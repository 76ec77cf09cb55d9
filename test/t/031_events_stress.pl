# ----------------------------------------------------------------------
# 031_events_stress.pl -- 8 concurrent writers through both call forms,
# about 10% of the transactions rolled back, some through a savepoint,
# and a reader polling "id > last_seen", for each commit mode: the reader
# never skips an id, and afterwards the ids are exactly 1..N, N is the
# number of events of the committed transactions, and ts never decreases
# along the ids.
# ----------------------------------------------------------------------
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use SchemaMgrTest;

sub stress
{
	my ($mode) = @_;
	my $node = PostgreSQL::Test::Cluster->new("stress_$mode");
	$node->init;
	$node->append_conf('postgresql.conf', 'max_connections = 30');
	$node->start;
	$node->safe_psql('postgres', qq{
		CREATE EXTENSION schema_mgr;
		SELECT create_event_store('source');
		SELECT set_event_store_commit('events', '$mode');
		-- what the clients believe they committed, written in the same
		-- transaction as the events (so it rolls back with them)
		CREATE TABLE committed (client int, n int);
	});

	# one transaction: 1 to 3 calls of 1 to 10 events; r = 1 rolls back,
	# r = 2 rolls back a savepoint around the last call
	my $script = $node->basedir . '/writer.sql';
	PostgreSQL::Test::Utils::append_to_file($script, q{
\set r random(1, 10)
\set a random(1, 10)
\set b random(1, 10)
BEGIN;
SELECT insert_events(format('($1[1], $2, %L)', jsonb_build_object('client', :client_id, 'entityName', 'stress')));
INSERT INTO committed VALUES (:client_id, 1);
SELECT first_id FROM append_events(ARRAY(SELECT jsonb_build_object('client', :client_id, 'k', g) FROM generate_series(1, :a) g));
INSERT INTO committed VALUES (:client_id, :a);
SAVEPOINT s;
SELECT first_id FROM append_events(ARRAY(SELECT jsonb_build_object('client', :client_id, 'k', g) FROM generate_series(1, :b) g));
INSERT INTO committed VALUES (:client_id, :b);
\if :r = 2
ROLLBACK TO SAVEPOINT s;
\endif
\if :r = 1
ROLLBACK;
\else
COMMIT;
\endif
});
	my ($out, $err) = ('', '');
	my $load = IPC::Run::start(
		[ 'pgbench', '-n', '-c', '8', '-j', '2', '-t', '250', '-f', $script,
		  '-h', $node->host, '-p', $node->port, 'postgres' ],
		'>', \$out, '2>', \$err);

	# a reader: each poll must return exactly last_seen+1 .. last_seen+k
	my ($last, $seen, $skips) = sm_poll_events($node, $load);
	like($out, qr{processed: 2000/2000}, "$mode: 8 writers, 10% rollbacks");
	cmp_ok($seen, '>', 10, "$mode: the reader saw the log grow during the load ($seen times)");
	is($skips, 0, "$mode: a reader polling id > last_seen never skipped (up to $last)");

	my ($n, $max, $min, $distinct, $expected) = split /\|/, $node->safe_psql('postgres',
		'SELECT count(*), max(id), min(id), count(DISTINCT id), (SELECT sum(n) FROM committed) FROM events');
	cmp_ok($n, '>', 0, "$mode: events were written ($n)");
	is($min, 1, "$mode: ids start at 1");
	is($max, $n, "$mode: the highest id is the number of events: no gap");
	is($distinct, $n, "$mode: ids are distinct");
	is($n, $expected, "$mode: exactly the events of committed transactions are there");
	is($node->safe_psql('postgres',
		'SELECT count(*) FROM (SELECT ts < lag(ts) OVER (ORDER BY id) AS back FROM events) s WHERE back'),
		'0', "$mode: ts never decreases along the ids");
	is($node->safe_psql('postgres',
		'SELECT count(*) FROM (SELECT xmin::text FROM events GROUP BY 1 HAVING count(DISTINCT ts) > 1) s'),
		'0', "$mode: one ts per transaction");
	$node->stop;
}

stress('durable');
stress('grouped');
done_testing();
