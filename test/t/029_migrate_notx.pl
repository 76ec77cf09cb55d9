# ----------------------------------------------------------------------
# 029_migrate_notx.pl -- non-transactional migrations end to end:
# CREATE INDEX CONCURRENTLY applied by apply_migrations_stepwise on a table
# under concurrent inserts completes while the writers go on (counted, not
# timed); a cancelled caller takes its worker with it and leaves an
# INVALID index that migration_status shows and the next apply drops and
# builds again (for REINDEX CONCURRENTLY: its "_ccnew" copy); a worker
# killed with SIGKILL (the server restarts) leaves no history row, and the
# next apply retries cleanly: one history row.  While a worker builds, a
# session that would take the component's lock is refused at once; a
# caller terminated meanwhile takes its worker along; a worker terminated
# fails its caller with 57014, not the worker's 57P01; an index another
# session is building is not dropped as a leftover.
# ----------------------------------------------------------------------
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $node = PostgreSQL::Test::Cluster->new('notx');
$node->init;
$node->append_conf('postgresql.conf', qq{
restart_after_crash = on
});
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION schema_mgr;
	CREATE TABLE big (id bigserial, v int);
	INSERT INTO big (v) SELECT g FROM generate_series(1, 100000) g;
	CREATE PROCEDURE writer() LANGUAGE plpgsql AS $$
	BEGIN
		LOOP
			INSERT INTO big (v) VALUES (1);
			COMMIT;
		END LOOP;
	END $$;
	SELECT register_migration('app', 1, 'index v',
		E'-- schema_mgr:no-transaction\nCREATE INDEX CONCURRENTLY big_v ON big (v)');
	SELECT register_migration('app', 2, 'index id',
		E'-- schema_mgr:no-transaction\nCREATE INDEX CONCURRENTLY big_id ON big (id)');
	SELECT register_migration('app', 3, 'reindex id',
		E'-- schema_mgr:no-transaction\nREINDEX INDEX CONCURRENTLY big_id');
	SELECT register_migration('app', 4, 'index v and id',
		E'-- schema_mgr:no-transaction\nCREATE INDEX CONCURRENTLY big_v_id ON big (v, id)');
});

# a session whose snapshot CREATE INDEX CONCURRENTLY must wait for: holds
# each build at its last phase, for as long as the test needs
my $holder = $node->background_psql('postgres');
sub hold { $holder->query_safe('BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT 1;'); }
sub release { $holder->query_safe('COMMIT;'); }

sub start_caller
{
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start(
		[ 'psql', '-X', '-q', '-A', '-t', '-d', $node->connstr('postgres'),
		  '-c', 'SET application_name = notx_caller',
		  '-c', "CALL apply_migrations_stepwise('app', \$1)" =~ s/\$1/$_[0]/r ],
		'>', \$out, '2>', \$err);
	return ($h, \$out, \$err);
}

sub worker_waiting
{
	return $node->poll_query_until('postgres', q{
		SELECT count(*) = 1 FROM pg_stat_activity
		WHERE backend_type = 'schema_mgr migration'
		AND wait_event_type = 'Lock'});
}

# cancel_midway(VERSION, WHAT): the caller of VERSION is cancelled while
# its worker waits; the worker goes too
sub cancel_midway
{
	my ($version, $what) = @_;
	hold();
	my ($h, $out, $err) = start_caller($version);
	ok(worker_waiting(), "the worker of version $version ($what) waits");
	$node->safe_psql('postgres', q{
		SELECT pg_cancel_backend(pid) FROM pg_stat_activity
		WHERE application_name = 'notx_caller'});
	$h->finish;
	like($$err, qr/canceling statement due to user request/,
		"version $version: the caller is cancelled");
	ok($node->poll_query_until('postgres', q{
		SELECT count(*) = 0 FROM pg_stat_activity
		WHERE backend_type = 'schema_mgr migration'}),
		"version $version: the worker is gone");
	release();
}

# apply_again(VERSION, INDEX): the next call applies VERSION, after
# dropping the invalid INDEX
sub apply_again
{
	my ($version, $index) = @_;
	my ($h, $out, $err) = start_caller($version);
	$h->finish;
	is($$out, "1\n", "version $version: the next call applies it");
	like($$err, qr/dropping invalid index "$index"/,
		"version $version: ... after dropping the invalid index");
}

# whether the index is valid, and how many history rows the version has
sub index_and_history
{
	my ($index, $version) = @_;
	return $node->safe_psql('postgres', qq{
	SELECT indisvalid FROM pg_index WHERE indexrelid = '$index'::regclass;
	SELECT count(*) FROM schema_version WHERE version = $version});
}

sub status_of
{
	return $node->safe_psql('postgres',
		"SELECT status FROM migration_status('app') WHERE version = $_[0]");
}

# ------------------------------------------------ under an insert load
my ($wout, $werr) = ('', '');
my $writer = IPC::Run::start(
	[ 'psql', '-X', '-d', $node->connstr('postgres'),
	  '-c', 'SET application_name = notx_writer', '-c', 'CALL writer()' ],
	'>', \$wout, '2>', \$werr);
ok($node->poll_query_until('postgres',
	'SELECT count(*) > 100100 FROM big'), 'the writer inserts');

hold();
my ($h, $out, $err) = start_caller(1);
ok(worker_waiting(), 'the worker builds the index, then waits for an older snapshot');
my $before = $node->safe_psql('postgres', 'SELECT count(*) FROM big');
ok($node->poll_query_until('postgres',
	"SELECT count(*) > $before + 1000 FROM big"),
	'the writer goes on while CREATE INDEX CONCURRENTLY runs');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM pg_stat_activity
	WHERE backend_type = 'schema_mgr migration'}), '1',
	'... the build still running');
release();
$h->finish;
is($$out, "1\n", 'the caller applied it') or diag($$err);
is(index_and_history('big_v', 1),
	"t\n1", 'the index is valid, one history row');

# ------------------------------------------------ cancel
cancel_midway(2, 'CREATE INDEX CONCURRENTLY');
is(index_and_history('big_id', 2),
	"f\n0", 'an invalid index and no history row are left');
is(status_of(2), 'pending (invalid index)', 'migration_status shows it');
apply_again(2, 'big_id');
is(index_and_history('big_id', 2),
	"t\n1", 'the index is valid, one history row');

# ------------------------------------------------ REINDEX CONCURRENTLY cancelled
cancel_midway(3, 'REINDEX CONCURRENTLY');
is($node->safe_psql('postgres', q{
	SELECT string_agg(relname, ',' ORDER BY relname) FROM pg_class c
	JOIN pg_index i ON i.indexrelid = c.oid WHERE NOT i.indisvalid}),
	'big_id_ccnew', 'REINDEX left its invalid copy');
is(status_of(3), 'pending (invalid index)', 'migration_status shows it');
apply_again(3, 'big_id_ccnew');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM pg_index WHERE NOT indisvalid;
	SELECT count(*) FROM schema_version WHERE version = 3}),
	"0\n1", 'no invalid index is left, one history row');

# ------------------------------------------------ crash
hold();
($h, $out, $err) = start_caller(4);
ok(worker_waiting(), 'the worker of version 4 waits');
my $wpid = $node->safe_psql('postgres', q{
	SELECT pid FROM pg_stat_activity WHERE backend_type = 'schema_mgr migration'});
kill 'KILL', $wpid;
$h->finish;
$writer->finish;
eval { $holder->quit; };
ok($node->poll_query_until('postgres', 'SELECT 1', '1'),
	'the server is back after crash recovery');
is(index_and_history('big_v_id', 4),
	"f\n0", 'an invalid index and no history row are left');
is(status_of(4), 'pending (invalid index)', 'migration_status shows it');
is($node->safe_psql('postgres', "CALL apply_migrations_stepwise('app')"),
	'1', 'the next call applies it');
is($node->safe_psql('postgres', q{
	SELECT indisvalid FROM pg_index WHERE indexrelid = 'big_v_id'::regclass;
	SELECT string_agg(version::text, ',' ORDER BY version) FROM schema_version;
	SELECT count(*) FROM big WHERE v = 1}),
	"t\n1,2,3,4\n" . $node->safe_psql('postgres',
		'SELECT count(*) FROM big WHERE v + 0 = 1'),
	'valid, each version once, the index finds every row');

# ------------------------------------------------ another session meanwhile
# While the worker builds an index, a session that wants the component's
# lock with a snapshot of its own (the build would wait for it, and it for
# the build's caller) is refused at once rather than left waiting.
$node->safe_psql('postgres', q{
	SELECT register_migration('app', 5, 'index v again',
		E'-- schema_mgr:no-transaction\nCREATE INDEX CONCURRENTLY big_v5 ON big (v)');
	SELECT register_migration('app', 6, 'index id again',
		E'-- schema_mgr:no-transaction\nCREATE INDEX CONCURRENTLY big_id6 ON big (id)');
});
$holder = $node->background_psql('postgres');
hold();
($h, $out, $err) = start_caller(5);
ok(worker_waiting(), 'the worker of version 5 waits');
my ($rc, $stdout, $stderr) = $node->psql('postgres', q{
	SET schema_mgr.lock_timeout = 5000;
	SELECT register_migration('app', 7, 'column w', 'ALTER TABLE big ADD w int');
});
like($stderr,
	qr/could not lock migration component "app": a non-transactional migration of it is running/,
	'a register call meanwhile is refused');
like($stderr, qr/HINT:  Retry when it is done/, '... with a hint');
release();
$h->finish;
is($$out, "1\n", 'the caller of version 5 applied it') or diag($$err);

# ------------------------------------------------ caller terminated
# A caller that exits (FATAL) while its worker runs takes the worker along.
hold();
($h, $out, $err) = start_caller(6);
ok(worker_waiting(), 'the worker of version 6 waits');
$node->safe_psql('postgres', q{
	SELECT pg_terminate_backend(pid) FROM pg_stat_activity
	WHERE application_name = 'notx_caller'});
$h->finish;
like($$err, qr/terminating connection/, 'the caller of version 6 is terminated');
ok($node->poll_query_until('postgres', q{
	SELECT count(*) = 0 FROM pg_stat_activity
	WHERE backend_type = 'schema_mgr migration'}),
	'its worker is gone');
release();
is(status_of(6), 'pending (invalid index)', 'migration_status shows it');
apply_again(6, 'big_id6');
is(index_and_history('big_id6', 6),
	"t\n1", 'the index is valid, one history row');

# ------------------------------------------------ worker terminated
# The worker's "terminating connection" (57P01) would read as the caller's
# own shutdown: it comes back as 57014, naming the worker's code.
$node->safe_psql('postgres', q{
	SELECT register_migration('app', 7, 'index v7',
		E'-- schema_mgr:no-transaction\nCREATE INDEX CONCURRENTLY big_v7 ON big (v)');
});
hold();
my ($vout, $verr) = ('', '');
$h = IPC::Run::start(
	[ 'psql', '-X', '-q', '-A', '-t', '-v', 'VERBOSITY=verbose',
	  '-d', $node->connstr('postgres'),
	  '-c', "CALL apply_migrations_stepwise('app', 7)" ],
	'>', \$vout, '2>', \$verr);
ok(worker_waiting(), 'the worker of version 7 waits');
$node->safe_psql('postgres', q{
	SELECT pg_terminate_backend(pid) FROM pg_stat_activity
	WHERE backend_type = 'schema_mgr migration'});
$h->finish;
like($verr, qr/ERROR:  57014: .*terminating background worker/,
	'a terminated worker fails the caller with 57014');
like($verr, qr/ended with SQLSTATE 57P01/, '... naming the worker\'s code');
release();
is($node->safe_psql('postgres', "CALL apply_migrations_stepwise('app', 7)"),
	'1', 'version 7 applies on retry');

# ------------------------------------------------ a build of another session
# An index that another session is building now is invalid too: it is not
# taken for a leftover and dropped under that session.
$node->safe_psql('postgres', q{
	SELECT register_migration('app', 8, 'index v8',
		E'-- schema_mgr:no-transaction\nCREATE INDEX CONCURRENTLY big_v8 ON big (v)');
});
hold();
my ($bout, $berr) = ('', '');
my $builder = IPC::Run::start(
	[ 'psql', '-X', '-q', '-d', $node->connstr('postgres'),
	  '-c', 'CREATE INDEX CONCURRENTLY big_v8 ON big (v)' ],
	'>', \$bout, '2>', \$berr);
ok($node->poll_query_until('postgres', q{
	SELECT count(*) = 1 FROM pg_stat_activity
	WHERE query LIKE 'CREATE INDEX CONCURRENTLY big_v8%'
	AND wait_event_type = 'Lock'}), 'another session builds big_v8');
($rc, $stdout, $stderr) = $node->psql('postgres',
	"CALL apply_migrations_stepwise('app', 8)");
like($stderr,
	qr/could not drop the invalid index left by an earlier attempt of migration "app" version 8/,
	'the apply does not drop the index being built');
release();
$builder->finish;
is($node->safe_psql('postgres', "CALL apply_migrations_stepwise('app', 8)"),
	'1', 'once built, the index is recorded as applied');
$holder->quit;

$node->stop;
done_testing();
