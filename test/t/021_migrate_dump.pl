# Migrations: pg_dump/pg_restore keeps the registry, the schema_version
# history, the history log (approvals included; its ids go on after it),
# undo SQL and repeatable migrations, and the restored database has nothing
# pending.
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
	SELECT tools.register_migration('app', 3, 'pending', 'ALTER TABLE t ADD COLUMN c int',
		undo => 'ALTER TABLE t DROP COLUMN c');
	SELECT tools.register_migration('app', NULL, 'view', 'CREATE VIEW v AS SELECT 1 AS one');
	SELECT tools.approve_migration('app', 3, checksum, undo_checksum)
	FROM tools.migration_sql('app') WHERE version = 3;
	SELECT tools.apply_migrations('app', 2);
	SELECT * FROM tools.baseline('legacy', 7);
	SELECT tools.register_migration('rep', NULL, 'view', 'CREATE VIEW w AS SELECT 1 AS one');
	SELECT tools.apply_migrations('rep');
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
my $log_q = q{
	SELECT string_agg(format('%s/%s/%s/%s/%s/%s/%s/%s/%s', id, component, version,
		name, action, checksum, undo_checksum, performed_by, performed_at), ';'
		ORDER BY id)
	FROM tools.migration_history};
my $repeatable_q = q{
	SELECT string_agg(format('%s/%s/%s/%s', component, name, checksum,
		applied_checksum), ';' ORDER BY component, name)
	FROM tools.repeatable_migration};
my $history  = $node->safe_psql('src', $history_q);
my $registry = $node->safe_psql('src', $registry_q);
my $log      = $node->safe_psql('src', $log_q);
my $repeatable = $node->safe_psql('src', $repeatable_q);

my $dump = $node->basedir . '/src.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-f', $dump, '-d', $node->connstr('src') ],
	'pg_dump');
$node->safe_psql('postgres', 'CREATE DATABASE dst');
$node->command_ok([ 'pg_restore', '-d', $node->connstr('dst'), $dump ],
	'pg_restore');

is($node->safe_psql('dst', $history_q), $history, 'schema_version rows survive');
is($node->safe_psql('dst', $registry_q), $registry, 'registry rows survive');
is($node->safe_psql('dst', $log_q), $log, 'history log rows survive');
is($node->safe_psql('dst',
	"SELECT string_agg(action || ':' || version, ',' ORDER BY id) FROM tools.migration_history WHERE undo_checksum IS NOT NULL"),
	'approve:3', 'an approval of SQL and undo SQL survives in the log');
is($node->safe_psql('dst', $repeatable_q), $repeatable,
	'repeatable migrations survive');
is($node->safe_psql('dst',
	"SELECT count(*) FROM tools.migration WHERE undo_sql IS NOT NULL"), '1',
	'undo SQL survives');
is($node->safe_psql('dst',
	"SELECT string_agg(component || coalesce(version::text, description || ':') || status, ',' ORDER BY component, version) FROM tools.migration_status()"),
	'app1applied,app2applied,app3pending,appview:pending,legacy7baselined,repview:applied',
	'status after restore');
is($node->safe_psql('dst',
	"SELECT string_agg(coalesce(version::text, description), ',') FROM tools.apply_migrations()"),
	'3,view', 'only the pending migrations apply in the restored database');
is($node->safe_psql('dst', q{
	SELECT string_agg(action || ':' || coalesce(version::text, name), ',' ORDER BY id)
	FROM tools.migration_history
	WHERE id > (SELECT count(*) FROM tools.migration_history) - 2}),
	'apply:3,repeat:view', 'the history log goes on after its restored rows');
is($node->safe_psql('dst', "SELECT tools.current_version('app')"), '3',
	'current version after applying');

$node->stop;
done_testing();
