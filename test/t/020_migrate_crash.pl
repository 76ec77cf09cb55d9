# Migrations: a backend killed in the middle of apply_migrations() leaves
# nothing behind -- no half-applied migration, no history row, no lock --
# and the next apply_migrations() succeeds.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $node = PostgreSQL::Test::Cluster->new('crash');
$node->init;
$node->append_conf('postgresql.conf', 'restart_after_crash = on');
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION schema_mgr;
	SELECT register_migration('app', 1, 'create t', 'CREATE TABLE t (a int)');
	SELECT register_migration('app', 2, 'fill and wait',
		'INSERT INTO t VALUES (1); SELECT pg_sleep(300);');
});

# apply in the background; it blocks in migration 2's pg_sleep
my ($out, $err) = ('', '');
my $h = IPC::Run::start(
	[ 'psql', '-X', '-d', $node->connstr('postgres'), '-c',
	  'SET application_name = crash_victim; SELECT * FROM apply_migrations()' ],
	'>', \$out, '2>', \$err);

ok($node->poll_query_until('postgres', q{
	SELECT count(*) = 1 FROM pg_stat_activity
	WHERE application_name = 'crash_victim' AND wait_event = 'PgSleep'}),
	'apply_migrations is in the middle of migration 2');

# the lock is visible while applying, and a second caller times out naming
# the holder
my $pid = $node->safe_psql('postgres', q{
	SELECT pid FROM pg_stat_activity WHERE application_name = 'crash_victim'});
my ($rc, $o2, $e2) = $node->psql('postgres',
	"SET schema_mgr.lock_timeout = '200ms'; SELECT apply_migrations('app')");
like($e2, qr/could not lock migration component "app"/, 'second caller times out');
like($e2, qr/held by process $pid \(application_name "crash_victim"\)/,
	'the error names the holder and its application_name');

kill 'KILL', $pid;
$h->finish;
like($err, qr/terminated|connection|closed/i, 'the applying session died');

ok($node->poll_query_until('postgres', 'SELECT 1', '1'),
	'server is back after crash recovery');

is($node->safe_psql('postgres', q{
	SELECT to_regclass('t') IS NULL,
	       (SELECT count(*) FROM schema_version),
	       (SELECT string_agg(status, ',' ORDER BY version) FROM migration_status('app')),
	       (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory')}),
	't|0|pending,pending|0',
	'nothing of the interrupted apply remains: no table, no history, no lock');

# the pending migration can be fixed and everything applies
$node->safe_psql('postgres', q{
	SELECT register_migration('app', 2, 'fill', 'INSERT INTO t VALUES (1)')});
is($node->safe_psql('postgres',
	"SELECT string_agg(version || ':' || outcome, ',') FROM apply_migrations()"),
	'1:applied,2:applied', 'apply succeeds after the restart');
is($node->safe_psql('postgres',
	"SELECT count(*) FROM t; SELECT current_version('app')"),
	"1\n2", 'the schema and the history are complete');

$node->stop;
done_testing();
