# ----------------------------------------------------------------------
# 030_events_crash.pl -- a crash in the middle of an insert_events load,
# for each commit mode: an immediate shutdown of a durable store's server,
# and a writer killed with SIGKILL (the postmaster then resets every
# backend and recovers, losing the WAL not yet written out) under a
# grouped store's load.  After recovery the ids are still exactly 1..N,
# every event a client was told was committed is there under the ids it
# was given, and the next insert gets N+1.
# ----------------------------------------------------------------------
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

sub crash_under_load
{
	my ($mode) = @_;
	my $node = PostgreSQL::Test::Cluster->new("crash_$mode");
	$node->init;
	# the test framework turns this off; a killed backend must reset them all
	$node->append_conf('postgresql.conf', 'restart_after_crash = on');
	$node->start;
	$node->safe_psql('postgres', qq{
		CREATE EXTENSION schema_mgr;
		SELECT create_event_store('source');
		SELECT set_event_store_commit('events', '$mode');
	});

	# each client appends 1..20 events, then writes down the ids it was
	# given: a line is only written once the commit was acknowledged
	my $acks = $node->basedir . '/acks';
	my $script = $node->basedir . '/load.sql';
	PostgreSQL::Test::Utils::append_to_file($script, qq{
\\set n random(1, 20)
SELECT first_id, last_id FROM append_events(ARRAY(SELECT jsonb_build_object('client', :client_id, 'k', g, 'entityName', 'crash') FROM generate_series(1, :n) g)) \\gset
\\shell echo :client_id :first_id :last_id >> $acks
});

	my ($out, $err) = ('', '');
	my $load = IPC::Run::start(
		[ 'pgbench', '-n', '-c', '6', '-j', '2', '-T', '60', '-f', $script,
		  '-h', $node->host, '-p', $node->port, 'postgres' ],
		'>', \$out, '2>', \$err);

	$node->poll_query_until('postgres',
		'SELECT count(*) > 2000 FROM events') or die 'load did not start';
	my $before = $node->safe_psql('postgres', 'SELECT max(id) FROM events');
	if ($mode eq 'durable')
	{
		$node->stop('immediate');
		$load->finish;    # pgbench fails once the server is gone
		$node->start;
	}
	else
	{
		my $pid = $node->safe_psql('postgres',
			q{SELECT pid FROM pg_stat_activity WHERE query LIKE '%append_events%' AND pid <> pg_backend_pid() LIMIT 1});
		kill 'KILL', $pid;
		$load->finish;    # every client loses its connection
		$node->poll_query_until('postgres', 'SELECT pg_is_in_recovery() = false')
		  or die 'server did not come back';
	}
	ok(1, "$mode: crashed at around id $before");

	my ($n, $max, $distinct) = split /\|/, $node->safe_psql('postgres',
		'SELECT count(*), max(id), count(DISTINCT id) FROM events');
	is($max, $n, "$mode: ids are 1..N after recovery (N = $n)");
	is($distinct, $n, "$mode: ids are distinct");
	# what a reader saw committed is only sure to survive in durable mode:
	# a grouped commit is visible before its flush
	cmp_ok($n, '>=', $before, "$mode: no event seen committed was lost ($n >= $before)")
	  if $mode eq 'durable';

	my @acked = map { [ split ' ' ] } grep { /^\d+ \d+ \d+$/ }
	  split /\n/, PostgreSQL::Test::Utils::slurp_file($acks);
	cmp_ok(scalar @acked, '>', 100, "$mode: clients acknowledged commits (" . scalar(@acked) . ')');
	my $values = join ', ', map { "($_->[0], $_->[1], $_->[2])" } @acked;
	is($node->safe_psql('postgres', qq{
		SELECT count(*) FROM (VALUES $values) a(client, first_id, last_id)
		WHERE (SELECT count(*) FROM events e
		       WHERE e.id BETWEEN a.first_id AND a.last_id
		         AND (e.event ->> 'client')::int = a.client
		         AND (e.event ->> 'k')::int = e.id - a.first_id + 1)
		      <> a.last_id - a.first_id + 1}),
		'0', "$mode: every acknowledged event is there, under the ids it was given");
	is($node->safe_psql('postgres',
		'SELECT count(*) FROM (SELECT ts < lag(ts) OVER (ORDER BY id) AS back FROM events) s WHERE back'),
		'0', "$mode: ts never decreases along the ids");
	is($node->safe_psql('postgres',
		q{SELECT insert_events($$($1[1], $2, '{"after": "crash"}')$$)}), '1',
		"$mode: insert after recovery works");
	is($node->safe_psql('postgres',
		q{SELECT id FROM events WHERE event ->> 'after' = 'crash'}), $n + 1,
		"$mode: the next insert continues at N+1");
	is($node->safe_psql('postgres',
		'SELECT last_id FROM append_events(ARRAY[\'{"typed": true}\'::jsonb, \'{}\'])'),
		$n + 3, "$mode: and the typed call after it at N+2..N+3");
	$node->stop;
}

crash_under_load('durable');
crash_under_load('grouped');
done_testing();
