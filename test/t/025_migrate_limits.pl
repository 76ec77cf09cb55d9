# ----------------------------------------------------------------------
# 025_migrate_limits.pl -- the lock table's limits are said before they
# are hit: applying more components than the lock table can lock at once
# is refused up front, naming the limit; more pending migrations than it
# has locks get a warning naming a target version to batch with, and the
# error, should it come, says how to batch.
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

# more components than that: refused before anything is locked
my $n = $capacity + 50;
$node->safe_psql('postgres', qq{
	SELECT count(register_migration('c' || g, 1, 'one', 'SELECT 1'))
	FROM generate_series(1, $n) g});
my ($rc, $out, $err) = $node->psql('postgres', 'SELECT count(*) FROM apply_migrations()');
isnt($rc, 0, 'too many components in one call fail');
like($err, qr/cannot lock $n migration components in one transaction/,
	'before locking, naming how many');
like($err, qr/room for about $capacity locks in all \(max_locks_per_transaction = 10\)/,
	'and the limit');
like($err, qr/HINT:  Apply or repair fewer components per call/, 'and how to batch');
is($node->safe_psql('postgres',
	q{SELECT count(*) FROM apply_migrations('c1')}), '1',
	'one component at a time works');
$node->safe_psql('postgres', q{
	SET schema_mgr.allow_drop = on;
	DROP EXTENSION schema_mgr;
	CREATE EXTENSION schema_mgr});

# more migrations (each keeping its table's locks) than the table holds
$node->safe_psql('postgres', qq{
	SELECT count(register_migration('tables', g, 'table ' || g,
	                                'CREATE TABLE t' || g || ' (a int)'))
	FROM generate_series(1, $n) g});
($rc, $out, $err) = $node->psql('postgres', 'SELECT count(*) FROM apply_migrations()');
like($err, qr/WARNING:  applying $n migrations in one transaction may run out of lock table space/,
	'a warning before running, naming how many');
my $half = int($capacity / 2) + 1;
like($err, qr/apply in batches with target_version, for example up to version $half of component "tables" first/,
	'with a target version to batch with');
isnt($rc, 0, 'and the call fails');
like($err, qr/out of shared memory/, 'with out of shared memory');
like($err, qr/apply them in batches with target_version \(this call failed at version \d+ of component "tables"\)/,
	'saying how to batch');
is($node->safe_psql('postgres',
	qq{SELECT count(*) FROM apply_migrations('tables', $half)}), $half,
	'batches work');

$node->stop;
done_testing();
