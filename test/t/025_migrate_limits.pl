# ----------------------------------------------------------------------
# 025_migrate_limits.pl -- the lock table's limits are said before they
# are hit: applying more components, or more pending migrations, than the
# lock table holds locks gets a warning before anything is locked or run,
# naming the limit (and a target version to batch with), and the error,
# should it come, says how to batch.
# ----------------------------------------------------------------------
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use SchemaMgrTest;

my $node = PostgreSQL::Test::Cluster->new('limits');
$node->init;
# a small lock table, so that small numbers reach it
$node->append_conf('postgresql.conf', qq{
max_locks_per_transaction = 10
max_connections = 10
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION schema_mgr');
my $capacity = sm_lock_capacity($node);
note("lock table: about $capacity locks");

# far more components than that: a warning before locking, naming the
# limit, and an error that says how to batch
my $n = 100 * (int($capacity / 10) + 1);    # over ten times the limit
# registered 100 at a time: registering locks each component too
$node->safe_psql('postgres', join('', map { qq{
	SELECT count(register_migration('c' || g, 1, 'one', 'SELECT 1'))
	FROM generate_series($_, $_ + 99) g;} } grep { $_ % 100 == 1 } 1 .. $n));
my ($rc, $out, $err) = $node->psql('postgres', 'SELECT count(*) FROM apply_migrations()');
like($err, qr/WARNING:  locking $n migration components in one transaction may run out of lock table space/,
	'a warning before locking, naming how many');
# the server's own figure: how many backends share the lock table differs
# between majors (auxiliary processes, autovacuum worker slots)
my ($room) = $err =~ /room for about (\d+) locks in all \(max_locks_per_transaction = 10\)/;
ok(defined $room && $room % 10 == 0 && $room >= $capacity - 100 && $room <= $capacity + 200,
	"and the limit (about $capacity by the settings, " . ($room // 'none') . ' said)');
$capacity = $room if defined $room;
isnt($rc, 0, 'the call fails');
like($err, qr/ERROR:  could not lock migration component "c\d+": out of shared memory/,
	'running out of lock table space');
like($err, qr/DETAIL:  It was component \d+ of $n, each locked until the transaction ends/,
	'saying how far it got');
like($err, qr/HINT:  Apply or repair fewer components per call/, 'and how to batch');
is($node->safe_psql('postgres',
	q{SELECT count(*) FROM apply_migrations('c1')}), '1',
	'one component at a time works');
$node->safe_psql('postgres', q{
	SET schema_mgr.allow_drop = on;
	DROP EXTENSION schema_mgr;
	CREATE EXTENSION schema_mgr});

# more migrations (each keeping its table's locks) than the table holds
$n = $capacity + 50;
$node->safe_psql('postgres', qq{
	SELECT count(register_migration('tables', g, 'table ' || g,
	                                'CREATE TABLE t' || g || ' (a int)'))
	FROM generate_series(1, $n) g});
($rc, $out, $err) = $node->psql('postgres', 'SELECT count(*) FROM apply_migrations()');
like($err, qr/WARNING:  applying $n migrations in one transaction may run out of lock table space/,
	'a warning before running, naming how many');
# a batch of a quarter of the room: a CREATE TABLE keeps more than one
# lock, and from PostgreSQL 19 on the lock table never grows past its size
my $batch = int($capacity / 4) + 1;
like($err, qr/apply in batches with target_version, for example up to version $batch of component "tables" first/,
	'with a target version to batch with');
isnt($rc, 0, 'and the call fails');
like($err, qr/out of shared memory/, 'with out of shared memory');
like($err, qr/apply them in batches with target_version \(this call failed at version \d+ of component "tables"\)/,
	'saying how to batch');
is($node->safe_psql('postgres',
	qq{SELECT count(*) FROM apply_migrations('tables', $batch)}), $batch,
	'batches work');

$node->stop;
done_testing();
