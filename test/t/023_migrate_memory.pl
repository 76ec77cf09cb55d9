# ----------------------------------------------------------------------
# 023_migrate_memory.pl -- rows returned by a migration's statements (a
# SELECT, an INSERT ... RETURNING in a data migration) are not kept in
# memory: the backend's peak resident size (VmHWM in /proc/self/status,
# Linux only) does not grow with them.
# ----------------------------------------------------------------------
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

plan skip_all => 'needs /proc/self/status' unless -r '/proc/self/status';

my $node = PostgreSQL::Test::Cluster->new('migmem');
$node->init;
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION schema_mgr;
SELECT register_migration('data', 1, 'report',
  $m$CREATE TABLE items (id int PRIMARY KEY);
INSERT INTO items SELECT g FROM generate_series(1, 1000) g RETURNING *;
SELECT g, repeat('x', 1000) FROM generate_series(1, 200000) g;$m$);
});

# about 200 MB of rows come back from the last statement (made on the fly,
# so that no shared buffers are touched and VmHWM shows private memory)
my $out = $node->safe_psql('postgres', q{
SELECT (regexp_match(pg_read_file('/proc/self/status'), 'VmHWM:\s+(\d+)'))[1]::int AS before \gset
SELECT outcome FROM apply_migrations();
SELECT (regexp_match(pg_read_file('/proc/self/status'), 'VmHWM:\s+(\d+)'))[1]::int - :before;
});
my ($outcome, $growth_kb) = split /\n/, $out;
is($outcome, 'applied', 'the migration applied');
is($node->safe_psql('postgres', 'SELECT count(*) FROM items'), '1000',
	'its rows are there');
note("peak resident size grew by $growth_kb kB");
cmp_ok($growth_kb, '<', 64 * 1024,
	'returned rows are not kept in memory (200 MB of them)');

$node->stop;
done_testing();
