# ----------------------------------------------------------------------
# 027_migrate_stepwise.pl -- apply_migrations_stepwise commits after each
# migration: a backend killed in the middle of a migration leaves the ones
# before it applied and recorded, nothing of the one it was in and no lock,
# and the next call goes on from there; a chain of more CREATE TABLE
# migrations than the lock table holds locks applies, where one
# transaction runs out of shared memory.
# ----------------------------------------------------------------------
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use SchemaMgrTest;
use IPC::Run;

my $node = PostgreSQL::Test::Cluster->new('stepwise');
$node->init;
# a small lock table, so that a short chain overflows it
$node->append_conf('postgresql.conf', qq{
restart_after_crash = on
max_locks_per_transaction = 10
max_connections = 10
});
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION schema_mgr;
	SELECT register_migration('app', 1, 'create t', 'CREATE TABLE t (a int)');
	SELECT register_migration('app', 2, 'fill', 'INSERT INTO t VALUES (1)');
	SELECT register_migration('app', 3, 'fill and wait',
		'INSERT INTO t VALUES (2); SELECT pg_sleep(300);');
	SELECT register_migration('app', 4, 'more', 'INSERT INTO t VALUES (3)');
});

# apply in the background; it blocks in migration 3's pg_sleep
my ($out, $err) = ('', '');
my $h = IPC::Run::start(
	[ 'psql', '-X', '-d', $node->connstr('postgres'),
	  '-c', 'SET application_name = crash_victim',
	  '-c', "CALL apply_migrations_stepwise('app')" ],
	'>', \$out, '2>', \$err);

ok($node->poll_query_until('postgres', q{
	SELECT count(*) = 1 FROM pg_stat_activity
	WHERE application_name = 'crash_victim' AND wait_event = 'PgSleep'}),
	'the procedure is in the middle of migration 3');
is($node->safe_psql('postgres', q{
	SELECT string_agg(version || ':' || status, ',' ORDER BY version)
	FROM migration_status('app')}),
	'1:applied,2:applied,3:pending,4:pending',
	'migrations 1 and 2 are committed while 3 runs');

my $pid = $node->safe_psql('postgres', q{
	SELECT pid FROM pg_stat_activity WHERE application_name = 'crash_victim'});
kill 'KILL', $pid;
$h->finish;
like($err, qr/terminated|connection|closed/i, 'the applying session died');

ok($node->poll_query_until('postgres', 'SELECT 1', '1'),
	'server is back after crash recovery');

is($node->safe_psql('postgres', q{
	SELECT (SELECT string_agg(a::text, ',' ORDER BY a) FROM t),
	       (SELECT string_agg(version::text, ',' ORDER BY version) FROM schema_version),
	       (SELECT string_agg(status, ',' ORDER BY version) FROM migration_status('app')),
	       (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory')}),
	'1|1,2|applied,applied,pending,pending|0',
	'1 and 2 survive the crash, nothing of 3 remains, no lock');

# the interrupted migration can be fixed and the call goes on from it
$node->safe_psql('postgres', q{
	SELECT register_migration('app', 3, 'fill', 'INSERT INTO t VALUES (2)')});
is($node->safe_psql('postgres', "CALL apply_migrations_stepwise('app')"),
	'2', 'the next call applies the remaining two');
is($node->safe_psql('postgres', q{
	SELECT string_agg(a::text, ',' ORDER BY a) FROM t;
	SELECT current_version('app');
	SELECT count(*) FROM schema_version}),
	"1,2,3\n4\n4", 'the schema and the history are complete, each version once');

# more CREATE TABLE migrations than the lock table has room for
my $capacity = sm_lock_capacity($node);
my $n = $capacity + 50;
note("lock table: about $capacity locks; chain of $n tables");
$node->safe_psql('postgres', qq{
	SELECT count(register_migration('tables', g, 'table ' || g,
	                                'CREATE TABLE tab' || g || ' (a int PRIMARY KEY)'))
	FROM generate_series(1, $n) g});
my ($rc, $o, $e) = $node->psql('postgres', 'SELECT count(*) FROM apply_migrations()');
isnt($rc, 0, 'in one transaction the chain fails');
like($e, qr/out of shared memory/, 'out of shared memory');
is($node->safe_psql('postgres', q{SELECT count(*) FROM schema_version
	WHERE component = 'tables'}), '0', 'and nothing of it stays');
is($node->safe_psql('postgres', 'CALL apply_migrations_stepwise()'), $n,
	'one transaction per migration applies it all');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM pg_class WHERE relname ~ '^tab[0-9]+$' AND relkind = 'r';
	SELECT count(*) FROM schema_version WHERE component = 'tables';
	SELECT count(*) FROM migration_status('tables') WHERE status <> 'applied'}),
	"$n\n$n\n0", 'every table, every history row, nothing pending');

# Components go in byte order (COLLATE "C"), as apply_migrations() takes
# them, whatever the database's collation: in an ICU "en" database "Zeta"
# sorts after "alpha", in byte order before it.
$node->safe_psql('postgres', q{
	CREATE DATABASE icu TEMPLATE template0 LOCALE_PROVIDER = icu ICU_LOCALE = 'en'});
$node->safe_psql('icu', q{
	CREATE EXTENSION schema_mgr;
	CREATE TABLE applied_order (n serial, component text);
	SELECT register_migration(c, v, c || v,
		format('INSERT INTO applied_order (component) VALUES (%L)', c))
	FROM (VALUES ('beta', 1), ('Yak', 1), ('beta', 2)) r(c, v);
	SELECT count(*) FROM apply_migrations();
	SELECT register_migration(c, v, c || v,
		format('INSERT INTO applied_order (component) VALUES (%L)', c))
	FROM (VALUES ('alpha', 1), ('Zeta', 1), ('alpha', 2), ('Zeta', 2)) r(c, v);
	CALL apply_migrations_stepwise();
});
is($node->safe_psql('icu', q{
	SELECT string_agg(component, ',' ORDER BY n) FROM applied_order}),
	'Yak,beta,beta,Zeta,Zeta,alpha,alpha',
	'both forms take components in byte order, whatever the collation');

$node->stop;
done_testing();
