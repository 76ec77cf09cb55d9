# ----------------------------------------------------------------------
# 034_events_standby.pl -- a hot standby has the events (and the guard),
# and refuses insert_events with a clear error instead of failing somewhere
# inside.  A grouped store's load reaches the standby in id order (a
# reader there never skips), and under synchronous replication a grouped
# commit hands the allocator on before the standby confirms it (and is
# visible on the primary meanwhile), where a durable one keeps the next
# writer waiting; cancelling the wait leaves the commit in place.
# ----------------------------------------------------------------------
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use SchemaMgrTest;

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->start;
$primary->safe_psql('postgres', q{
	CREATE EXTENSION schema_mgr;
	SELECT create_event_store('source');
	SELECT insert_events($$($1[1], $2, '{"n": 1}'), ($1[2], $2, '{"n": 2}')$$);
});
$primary->backup('b');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'b', has_streaming => 1);
$standby->start;

$primary->safe_psql('postgres',
	q{SELECT last_id FROM append_events(ARRAY['{"n": 3}']::jsonb[])});
$primary->wait_for_catchup($standby);

is($standby->safe_psql('postgres', 'SELECT count(*), max(id) FROM events'),
	'3|3', 'the standby has the events');
my ($ret, $out, $err) = $standby->psql('postgres',
	q{SELECT insert_events($$($1[1], $2, '{}')$$)});
like($err, qr/ERROR:  cannot insert events during recovery/,
	'insert_events on a standby: clear error');
($ret, $out, $err) = $standby->psql('postgres',
	q{SELECT * FROM append_events(ARRAY['{}']::jsonb[])});
like($err, qr/ERROR:  cannot insert events during recovery/,
	'the typed call too');
is($primary->safe_psql('postgres',
	q{SELECT first_id FROM append_events(ARRAY['{"n": 4}']::jsonb[])}), '4',
	'the primary carries on');

# a grouped store under load: a reader on the standby polling id > last
# never skips, and the standby ends with what the primary has
$primary->safe_psql('postgres', q{SELECT set_event_store_commit('events', 'grouped')});
my $script = $primary->basedir . '/load.sql';
PostgreSQL::Test::Utils::append_to_file($script, q{
SELECT first_id FROM append_events(ARRAY(SELECT jsonb_build_object('client', :client_id, 'k', g) FROM generate_series(1, 1 + :client_id) g));
});
($out, $err) = ('', '');
my $load = IPC::Run::start(
	[ 'pgbench', '-n', '-c', '6', '-j', '2', '-t', '300', '-f', $script,
	  '-h', $primary->host, '-p', $primary->port, 'postgres' ],
	'>', \$out, '2>', \$err);
my (undef, $seen, $skips) = sm_poll_events($standby, $load);
like($out, qr{processed: 1800/1800}, 'grouped load on the primary');
cmp_ok($seen, '>', 5, "the standby reader saw the log grow ($seen times)");
is($skips, 0, 'the standby reader never skipped an id');
$primary->wait_for_catchup($standby);
my $on_primary = $primary->safe_psql('postgres', 'SELECT count(*), max(id) FROM events');
like($on_primary, qr/^(\d+)\|\1$/, 'the primary has 1..N');
is($standby->safe_psql('postgres', 'SELECT count(*), max(id) FROM events'),
	$on_primary, 'the standby has the same');

# synchronous replication to a standby that never confirms: the first
# writer waits for it after its commit
$primary->append_conf('postgresql.conf', q{synchronous_standby_names = 'nobody'});
$primary->reload;

sub wait_for_syncrep
{
	my ($mode) = @_;
	$primary->safe_psql('postgres',
		qq{SET synchronous_commit = local; SELECT set_event_store_commit('events', '$mode')});
	my $w1 = $primary->background_psql('postgres', on_error_stop => 0);
	my $pid = $w1->query_safe('SELECT pg_backend_pid()');
	$w1->query_until(qr/sent/, qq{\\echo sent\nSELECT insert_events(\$\$(\$1[1], \$2, '{"w": "$mode 1"}')\$\$);\n});
	$primary->poll_query_until('postgres',
		"SELECT wait_event = 'SyncRep' FROM pg_stat_activity WHERE pid = $pid")
	  or die 'the writer is not waiting for the standby';
	return ($w1, $pid);
}

# a second writer (not waiting for standbys itself) that must wait for the
# allocator: returns its session, its call sent
sub second_writer_waits
{
	my ($label) = @_;
	my $w2 = $primary->background_psql('postgres');
	$w2->query_safe('SET synchronous_commit = local');
	$w2->query_until(qr/sent/, qq{\\echo sent\nSELECT first_id FROM append_events(ARRAY['{"w": "$label"}'::jsonb], 'events');\n});
	$primary->poll_query_until('postgres',
		q{SELECT count(*) = 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted})
	  or die 'the second writer is not waiting for the allocator';
	return $w2;
}

# durable: the second writer waits for the allocator, and nobody sees the
# first writer's event while it waits for the standby
my $max = $primary->safe_psql('postgres', 'SELECT max(id) FROM events');
my ($w1, $pid) = wait_for_syncrep('durable');
my $w2 = second_writer_waits('durable 2');
is($primary->safe_psql('postgres', "SELECT count(*) FROM events WHERE id > $max"), '0',
	'durable: the event waiting for the standby is not visible yet');
$primary->safe_psql('postgres', "SELECT pg_cancel_backend($pid)");
$w1->query('SELECT 1');
like($w1->{stderr}, qr/canceling wait for synchronous replication/,
	'durable: the wait can be cancelled');
$w1->quit;
$w2->query_safe('SELECT 1');
$w2->quit;
is($primary->safe_psql('postgres', "SELECT string_agg(event ->> 'w', ',' ORDER BY id) FROM events WHERE id > $max"),
	'durable 1,durable 2', 'durable: the cancelled commit stands, the second writer follows it');

# grouped: the second writer is handed the allocator while the first one
# still waits, and the first one's event is visible on the primary
$max = $primary->safe_psql('postgres', 'SELECT max(id) FROM events');
($w1, $pid) = wait_for_syncrep('grouped');
is($primary->safe_psql('postgres', q{SET synchronous_commit = local;
	SELECT first_id FROM append_events(ARRAY['{"w": "grouped 2"}'::jsonb])}), $max + 2,
	'grouped: the next writer goes ahead while the first waits for the standby');
is($primary->safe_psql('postgres', "SELECT string_agg(event ->> 'w', ',' ORDER BY id) FROM events WHERE id > $max"),
	'grouped 1,grouped 2', 'grouped: the waiting commit is visible on the primary');
is($primary->safe_psql('postgres', "SELECT wait_event FROM pg_stat_activity WHERE pid = $pid"),
	'SyncRep', 'grouped: the first writer has not been answered');
$primary->safe_psql('postgres', "SELECT pg_cancel_backend($pid)");
$w1->query('SELECT 1');
like($w1->{stderr}, qr/canceling wait for synchronous replication/,
	'grouped: the wait can be cancelled');
$w1->quit;
# a transaction that also appends to a durable store commits durably: the
# next writer of the grouped store waits, and sees nothing meanwhile
$primary->safe_psql('postgres', q{SET synchronous_commit = local;
	CREATE SCHEMA other; SELECT create_event_store('source', 'other')});
$max = $primary->safe_psql('postgres', 'SELECT max(id) FROM events');
$w1 = $primary->background_psql('postgres', on_error_stop => 0);
$pid = $w1->query_safe('SELECT pg_backend_pid()');
$w1->query_until(qr/sent/, q{\echo sent
BEGIN;
SELECT insert_events($$($1[1], $2, '{"w": "mixed 1"}')$$, 'events');
SELECT insert_events($$($1[1], $2, '{"w": "mixed 1"}')$$, 'other.events');
COMMIT;
});
$primary->poll_query_until('postgres',
	"SELECT wait_event = 'SyncRep' FROM pg_stat_activity WHERE pid = $pid")
  or die 'the writer is not waiting for the standby';
$w2 = second_writer_waits('mixed 2');
is($primary->safe_psql('postgres', "SELECT count(*) FROM events WHERE id > $max"), '0',
	'grouped and durable in one transaction: a durable commit');
$primary->safe_psql('postgres', "SELECT pg_cancel_backend($pid)");
$w1->query('SELECT 1');
$w1->quit;
$w2->query_safe('SELECT 1');
$w2->quit;
is($primary->safe_psql('postgres', "SELECT string_agg(event ->> 'w', ',' ORDER BY id) FROM events WHERE id > $max"),
	'mixed 1,mixed 2', 'and the next writer follows it');
$primary->append_conf('postgresql.conf', q{synchronous_standby_names = ''});
$primary->reload;

$standby->stop;
$primary->stop;
done_testing();
