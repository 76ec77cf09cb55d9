# ----------------------------------------------------------------------
# 044_events_grouped_rules.pl -- which commits are grouped.  Under
# synchronous replication to a standby that never confirms, a commit
# waits for it: a grouped one after handing the allocator on (and the
# notification queue's lock), a durable one with every lock held.  What a
# waiting writer still holds says how it committed: savepoints rolled back,
# a durable store in the same transaction, more stores than the
# transaction keeps track of, sync_events, its own NOTIFY, a procedure's
# COMMIT, the extended query protocol, PREPARE TRANSACTION, the caller's
# synchronous_commit, and a serialization failure at commit, which must
# leave nothing behind for the session's next transaction.
# ----------------------------------------------------------------------
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use SchemaMgrTest;

my $node = PostgreSQL::Test::Cluster->new('main');
$node->init(allows_streaming => 1);
$node->append_conf('postgresql.conf', q{
max_prepared_transactions = 2
listen_addresses = '127.0.0.1'
});
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION dblink;
	CREATE EXTENSION schema_mgr;
	SELECT create_event_store('destination', 'public', 'copy');
	SELECT create_event_store('source', notify => 'none');
	SELECT set_event_store_commit('events', 'grouped');
	CREATE SCHEMA d;
	SELECT create_event_store('source', 'd', notify => 'none');
	CREATE TABLE t1 (x int);
	CREATE TABLE t2 (x int);
	CREATE PROCEDURE twice() LANGUAGE plpgsql AS $p$
	BEGIN
	  BEGIN
	    PERFORM insert_events($q$($1[1], $2, '{"in": "block"}')$q$, 'events');
	  EXCEPTION WHEN raise_exception THEN RAISE;
	  END;
	  COMMIT;
	  PERFORM insert_events($q$($1[1], $2, '{"after": "commit"}')$q$, 'events');
	END $p$;
});
for my $i (1 .. 8)
{
	$node->safe_psql('postgres', qq{
		CREATE SCHEMA g$i;
		SELECT create_event_store('source', 'g$i', notify => 'none');
		SELECT set_event_store_commit('g$i.events', 'grouped');
	});
}
# from here on a commit waits for the standby unless it says otherwise
$node->append_conf('postgresql.conf', q{synchronous_standby_names = 'nobody'});
$node->reload;

# an append to store s, as a statement
sub append
{
	my ($s) = @_;
	return qq{SELECT insert_events(\$\$(\$1[1], \$2, '{}')\$\$, '$s');};
}

# the allocator locks (and the notification queue's lock) that backend pid
# holds
sub locks_of
{
	my ($pid) = @_;
	return $node->safe_psql('postgres', qq{
		SELECT coalesce(string_agg(what, ',' ORDER BY what), 'none') FROM (
		  SELECT CASE WHEN locktype = 'advisory' THEN objid::regclass::text
		              ELSE 'notify queue' END AS what
		  FROM pg_locks WHERE pid = $pid AND granted
		  AND (locktype = 'advisory'
		       OR (locktype = 'object' AND classid = 'pg_database'::regclass
		           AND objid = 0))) l});
}

sub wait_for_syncrep
{
	my ($pid, $what) = @_;
	$node->poll_query_until('postgres',
		"SELECT wait_event = 'SyncRep' FROM pg_stat_activity WHERE pid = $pid")
	  or die "$what: not waiting for the standby";
}

# run sql, which commits, in session s (a new one if undef): what the
# backend holds while its commit waits for the standby.  The wait is then
# cancelled (the commit stands).
sub held_while_waiting
{
	my ($sql, $s) = @_;
	my $own = !defined $s;
	$s = $node->background_psql('postgres', on_error_stop => 0) if $own;
	$s->{stderr} = '';
	my $pid = $s->query_safe('SELECT pg_backend_pid()');
	$s->query_until(qr/sent/, "\\echo sent\n$sql\n");
	wait_for_syncrep($pid, $sql);
	my $held = locks_of($pid);
	$node->safe_psql('postgres', "SELECT pg_cancel_backend($pid)");
	$s->query('SELECT 1');
	$s->quit if $own;
	return $held;
}

sub gapless
{
	my ($s) = @_;
	return $node->safe_psql('postgres',
		"SELECT count(*) = coalesce(max(id), 0) FROM $s");
}

is(held_while_waiting('BEGIN; ' . append('events') . ' COMMIT;'),
	'none', 'grouped: the allocator is handed on before the wait');
is(held_while_waiting('BEGIN; ' . append('d.events') . ' COMMIT;'),
	'd.events', 'durable: the allocator is held through the wait');

# savepoints: a lock released by ROLLBACK TO does not count
is(held_while_waiting('BEGIN; SAVEPOINT a; ' . append('events')
	  . ' ROLLBACK TO SAVEPOINT a; ' . append('events') . ' COMMIT;'),
	'none', 'grouped, appended again after a savepoint rolled back: grouped');
is(held_while_waiting('BEGIN; SAVEPOINT a; ' . append('events')
	  . ' ROLLBACK TO SAVEPOINT a; ' . append('d.events') . ' COMMIT;'),
	'd.events', 'grouped append rolled back, durable one kept: durable');
is(held_while_waiting('BEGIN; ' . append('events') . ' SAVEPOINT a; '
	  . append('d.events') . ' ROLLBACK TO SAVEPOINT a; COMMIT;'),
	'none', 'durable append rolled back, grouped one kept: grouped');
is(held_while_waiting('BEGIN; ' . append('events') . ' SAVEPOINT a; '
	  . append('events') . ' ROLLBACK TO SAVEPOINT a; '
	  . append('events') . ' COMMIT;'),
	'none', 'the same store inside and outside a savepoint: grouped');
is(held_while_waiting('BEGIN; ' . append('events') . ' SAVEPOINT a; '
	  . append('d.events') . ' RELEASE SAVEPOINT a; COMMIT;'),
	'd.events,events', 'a durable append in a released savepoint: durable');

# eight stores are tracked; a ninth makes the commit durable
my $eight = join(' ', map { append("g$_.events") } 1 .. 8);
is(held_while_waiting("BEGIN; $eight COMMIT;"),
	'none', 'eight grouped stores: grouped');
is(held_while_waiting('BEGIN; ' . append('events') . " $eight COMMIT;"),
	join(',', 'events', map { "g$_.events" } 1 .. 8),
	'nine grouped stores: durable');

# sync_events takes the allocator of the store it writes: the commit is
# durable (the copy's lock is held through the wait, and the grouped one's)
my $self = sm_tcp_connstr($node, 'postgres');
is(held_while_waiting('BEGIN; ' . append('events')
	  . " SELECT rows_copied > 0 FROM sync_events('$self', 'copy'); COMMIT;"),
	'copy,events', 'a grouped append and sync_events: durable');

# the caller's own NOTIFY: its queue lock goes with the allocator
is(held_while_waiting("BEGIN; NOTIFY app, 'x'; " . append('events') . ' COMMIT;'),
	'none', 'grouped, with a NOTIFY of the caller: both locks handed on');
is(held_while_waiting("BEGIN; NOTIFY app, 'x'; " . append('d.events') . ' COMMIT;'),
	'd.events,notify queue', 'durable, with a NOTIFY: both held');

# the caller's synchronous_commit: remote_apply waits (grouped); local and
# off do not wait for the standby at all
is(held_while_waiting('BEGIN; SET LOCAL synchronous_commit = remote_apply; '
	  . append('events') . ' COMMIT;'),
	'none', 'grouped under remote_apply: waits for the standby, handed on');
is($node->safe_psql('postgres', 'SET synchronous_commit = local; '
	  . append('events') . ' SET synchronous_commit = off; ' . append('events')),
	"1\n1", 'grouped under local and off: no wait for the standby');

# a procedure that commits, with an append in an exception block (a
# subtransaction) and one after its COMMIT
{
	my $s = $node->background_psql('postgres', on_error_stop => 0);
	my $pid = $s->query_safe('SELECT pg_backend_pid()');
	$s->query_until(qr/sent/, "\\echo sent\nCALL twice();\n");
	wait_for_syncrep($pid, 'the procedure');
	is(locks_of($pid), 'none', 'a procedure\'s COMMIT: grouped');
	$node->safe_psql('postgres', "SELECT pg_cancel_backend($pid)");
	# the second transaction's event is visible once it waits (grouped)
	$node->poll_query_until('postgres', qq{
		SELECT wait_event = 'SyncRep' FROM pg_stat_activity WHERE pid = $pid
		AND EXISTS (SELECT FROM events WHERE event ? 'after')})
	  or die 'the procedure\'s second transaction is not waiting for the standby';
	is(locks_of($pid), 'none', 'and its second transaction too');
	$node->safe_psql('postgres', "SELECT pg_cancel_backend($pid)");
	$s->query('SELECT 1');
	unlike($s->{stderr}, qr/don't own a lock/, 'no lock owned by another');
	$s->quit;
}

# the extended query protocol (drivers with parameters): its unnamed
# portal lives until the commit
{
	my $script = $node->basedir . '/append.sql';
	PostgreSQL::Test::Utils::append_to_file($script,
		"SELECT first_id FROM append_events(ARRAY[jsonb_build_object('k', (:client_id)::int)], 'events');\n");
	my ($out, $err) = ('', '');
	my $bench = IPC::Run::start(
		[ 'pgbench', '-n', '-M', 'extended', '-t', '1', '-f', $script,
		  '-h', $node->host, '-p', $node->port, 'postgres' ],
		'>', \$out, '2>', \$err);
	my $writer = q{FROM pg_stat_activity WHERE query LIKE 'SELECT first_id%'
		AND pid <> pg_backend_pid()};
	$node->poll_query_until('postgres',
		"SELECT count(*) = 1 $writer AND wait_event = 'SyncRep'")
	  or die "pgbench is not waiting for the standby: $err";
	my $pid = $node->safe_psql('postgres', "SELECT pid $writer");
	is(locks_of($pid), 'none', 'extended protocol: grouped');
	$node->safe_psql('postgres', "SELECT pg_cancel_backend($pid)");
	$bench->finish;
	like($out, qr{processed: 1/1}, 'extended protocol: the append is done');
	unlike($err, qr/don't own a lock/, 'extended protocol: no lock owned by another');
}

# PREPARE TRANSACTION (the regression suite's cluster may not allow it):
# the prepared transaction holds the allocator, and a writer that gives up
# waiting names it; its COMMIT PREPARED waits for the standby with the
# allocator held (never grouped)
my $local = 'SET synchronous_commit = local; ';
{
	$node->safe_psql('postgres', $local . 'BEGIN; '
		  . append('events') . " PREPARE TRANSACTION 'p';");
	is($node->safe_psql('postgres', 'SHOW synchronous_commit'), 'on',
		'PREPARE TRANSACTION: synchronous_commit unchanged');
	my ($ret, $out, $err) = $node->psql('postgres',
		$local . "SET lock_timeout = '10ms'; " . append('events'));
	like($err,
		qr/DETAIL:  Its allocator lock is held by the prepared transaction "p" until COMMIT PREPARED or ROLLBACK PREPARED ends it/,
		'a writer that times out behind a prepared transaction names it');
	my $s = $node->background_psql('postgres', on_error_stop => 0);
	my $pid = $s->query_safe('SELECT pg_backend_pid()');
	$s->query_until(qr/sent/, "\\echo sent\nCOMMIT PREPARED 'p';\n");
	wait_for_syncrep($pid, 'COMMIT PREPARED');
	is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_locks
		WHERE locktype = 'advisory' AND pid IS NULL AND granted}),
		'1', 'COMMIT PREPARED waits with the allocator held');
	$node->safe_psql('postgres', "SELECT pg_cancel_backend($pid)");
	$s->query('SELECT 1');
	$s->{stderr} = '';
	is($s->query_safe('SHOW synchronous_commit'), 'on',
		'COMMIT PREPARED: synchronous_commit unchanged');
	$s->quit;
}

# ROLLBACK PREPARED leaves no gap; a transaction that notified cannot be
# prepared
{
	my $max = $node->safe_psql('postgres', 'SELECT max(id) FROM events');
	$node->safe_psql('postgres', $local . 'BEGIN; '
		  . append('events') . " PREPARE TRANSACTION 'r';");
	$node->safe_psql('postgres', $local . "ROLLBACK PREPARED 'r'");
	is($node->safe_psql('postgres', $local
		  . q{SELECT first_id FROM append_events(ARRAY['{}'::jsonb], 'events')}),
		$max + 1, 'ROLLBACK PREPARED: the next append takes the next id');
	$node->safe_psql('postgres',
		$local . q{SELECT set_event_store_notify('g8.events', 'statement')});
	my ($ret, $out, $err) = $node->psql('postgres', $local . 'BEGIN; '
		  . append('g8.events') . " PREPARE TRANSACTION 'n';");
	like($err, qr/cannot PREPARE a transaction that has executed LISTEN, UNLISTEN, or NOTIFY/,
		'an append that notified cannot be prepared');
}

# a serialization failure at commit, after the grouped pre-commit: the
# session's synchronous_commit is what it was, and its next grouped commit
# waits for the standby again
{
	my $a = $node->background_psql('postgres', on_error_stop => 0);
	my $b = $node->background_psql('postgres', on_error_stop => 0);
	$a->query_safe('BEGIN ISOLATION LEVEL SERIALIZABLE; SELECT count(*) FROM t1;');
	$b->query_safe('BEGIN ISOLATION LEVEL SERIALIZABLE; SELECT count(*) FROM t2;');
	$b->query_safe(append('events'));
	$a->query_safe('INSERT INTO t2 VALUES (1);');
	$b->query_safe('INSERT INTO t1 VALUES (1);');
	$a->query_safe('SET LOCAL synchronous_commit = local; COMMIT;');
	$b->query('COMMIT');
	like($b->{stderr}, qr/could not serialize access/,
		'the grouped transaction fails at commit');
	$b->{stderr} = '';
	is($b->query_safe('SHOW synchronous_commit'), 'on',
		'synchronous_commit is restored after the failure');
	is(held_while_waiting('BEGIN; ' . append('events') . ' COMMIT;', $b),
		'none', 'the next transaction is grouped and waits for the standby');
	$a->quit;
	$b->quit;
}

is(gapless('events'), 't', 'the grouped store is gapless');
is(gapless('d.events'), 't', 'the durable store is gapless');

$node->append_conf('postgresql.conf', q{synchronous_standby_names = ''});
$node->reload;
$node->stop;
done_testing();
