# Migrations: pg_dump/pg_restore keeps the registry and the schema_version
# history, and the restored database has nothing pending.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('dump');
$node->init;
$node->start;

$node->safe_psql('postgres', 'CREATE DATABASE src');
$node->safe_psql('src', q{
	CREATE SCHEMA tools;
	CREATE EXTENSION schema_mgr SCHEMA tools;
	SELECT tools.register_migration('app', 1, 'create t', 'CREATE TABLE t (a int)');
	SELECT tools.register_migration('app', 2, 'add b', E'ALTER TABLE t\r\n  ADD COLUMN b int');
	SELECT tools.register_migration('app', 3, 'pending', 'ALTER TABLE t ADD COLUMN c int');
	SELECT tools.apply_migrations('app', 2);
	SELECT * FROM tools.baseline('legacy', 7);
});

my $history_q = q{
	SELECT string_agg(format('%s/%s/%s/%s/%s/%s/%s', component, version,
		description, checksum, applied_by, kind, applied_at), ';'
		ORDER BY component, version)
	FROM tools.schema_version};
my $registry_q = q{
	SELECT string_agg(format('%s/%s/%s/%s/%s/%s', component, version,
		description, md5(sql), checksum, applied_checksum), ';'
		ORDER BY component, version)
	FROM tools.migration};
my $history  = $node->safe_psql('src', $history_q);
my $registry = $node->safe_psql('src', $registry_q);

my $dump = $node->basedir . '/src.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-f', $dump, '-d', $node->connstr('src') ],
	'pg_dump');
$node->safe_psql('postgres', 'CREATE DATABASE dst');
$node->command_ok([ 'pg_restore', '-d', $node->connstr('dst'), $dump ],
	'pg_restore');

is($node->safe_psql('dst', $history_q), $history, 'schema_version rows survive');
is($node->safe_psql('dst', $registry_q), $registry, 'registry rows survive');
is($node->safe_psql('dst',
	"SELECT string_agg(component || version || status, ',' ORDER BY component, version) FROM tools.migration_status()"),
	'app1applied,app2applied,app3pending,legacy7baselined',
	'status after restore');
is($node->safe_psql('dst',
	"SELECT string_agg(version::text, ',') FROM tools.apply_migrations()"),
	'3', 'only the pending migration applies in the restored database');
is($node->safe_psql('dst', "SELECT tools.current_version('app')"), '3',
	'current version after applying');

$node->stop;
done_testing();
