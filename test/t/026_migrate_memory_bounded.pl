# ----------------------------------------------------------------------
# 026_migrate_memory_bounded.pl -- applying takes memory bounded by the
# largest pending migration, not by the sum of them, and a migration of
# many statements does not keep per-statement state to the end of the
# call.  Peak resident size (VmHWM in /proc/self/status, Linux only) of a
# fresh backend is measured around apply_migrations().
# ----------------------------------------------------------------------
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

plan skip_all => 'needs /proc/self/status' unless -r '/proc/self/status';

my $node = PostgreSQL::Test::Cluster->new('migmem2');
$node->init;
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION schema_mgr;
CREATE TABLE big (a int, b text);
-- a migration of 50,000 INSERT statements (about 5 MB): its SQL made by
-- a function, so that the test's own statements stay small
CREATE FUNCTION big_sql(first int) RETURNS text LANGUAGE sql AS $$
	SELECT string_agg(format('INSERT INTO big VALUES (%s, %L);', g, repeat('x', 60)), E'\n')
	FROM generate_series(first, first + 49999) g
$$;
});

# growth of the peak resident size (kB) of a fresh backend over $sql
sub peak_growth
{
	my ($sql) = @_;
	my $out = $node->safe_psql('postgres', qq{
SELECT (regexp_match(pg_read_file('/proc/self/status'), 'VmHWM:\\s+(\\d+)'))[1]::int AS before \\gset
$sql;
SELECT (regexp_match(pg_read_file('/proc/self/status'), 'VmHWM:\\s+(\\d+)'))[1]::int - :before;
});
	my @lines = split /\n/, $out;
	return $lines[-1];
}

# one migration of 50,000 statements
$node->safe_psql('postgres',
	q{SELECT register_migration('one', 1, 'many statements', big_sql(1))});
my $one = peak_growth(q{SELECT count(*) FROM apply_migrations('one')});
diag("one migration of 50,000 statements: peak grew by $one kB");

# three such migrations in one call
$node->safe_psql('postgres', q{
	SELECT register_migration('three', v, 'many statements', big_sql(v * 100000))
	FROM generate_series(1, 3) v});
my $three = peak_growth(q{SELECT count(*) FROM apply_migrations('three')});
diag("three migrations of 50,000 statements each: peak grew by $three kB");
is($node->safe_psql('postgres', 'SELECT count(*) FROM big'), '200000',
	'all of them applied');

cmp_ok($three, '<', 1.5 * $one + 8 * 1024,
	'three migrations take about the memory of one, not three times it');
# the SQL is about 5 MB: its text and one parse tree of it at a time (about
# 55 MB), not a parse tree built twice and kept to the end (over 100 MB)
cmp_ok($one, '<', 80 * 1024, 'a migration of 50,000 statements stays under 80 MB');

$node->stop;
done_testing();
