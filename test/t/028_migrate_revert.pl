# ----------------------------------------------------------------------
# 028_migrate_revert.pl -- undo SQL on a real chain: a fixture loaded with
# its undo files (U<version>__*.sql) and a repeatable migration
# (R__*.sql) by bin/schema_mgr_load_dir, reverted to nothing and applied
# again, gives the same schema; the history log tells every step.  A
# backend killed in the middle of revert_migrations() leaves everything as
# it was before the call, and a later revert succeeds.
# ----------------------------------------------------------------------
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use File::Copy;
use File::Temp qw(tempdir);
use IPC::Run;

my $node = PostgreSQL::Test::Cluster->new('revert');
$node->init;
$node->append_conf('postgresql.conf', 'restart_after_crash = on');
$node->start;

sub write_file
{
	my ($path, $content) = @_;
	open(my $fh, '>:raw', $path) or die "could not write \"$path\": $!";
	print $fh $content;
	close $fh;
}

sub schema_dump
{
	my ($db) = @_;
	my $out = `pg_dump --schema-only --no-owner -n public -d '${\ $node->connstr($db)}'`;
	die "pg_dump failed" if $?;
	my @lines = grep { !/^(--|SET |SELECT pg_catalog\.set_config|\\(un)?restrict )/ && /\S/ }
	  split /\n/, $out;
	return join("\n", @lines) . "\n";
}

# Flogo's chain, with an undo file per version and a repeatable function
my $dir = tempdir(CLEANUP => 1);
copy($_, $dir) or die "copy $_: $!" foreach glob('test/fixtures/flogo/V*.sql');
write_file("$dir/U1__create_steps.sql", "DROP TABLE public.steps;\n");
write_file("$dir/U2__create_flowstate.sql", "DROP TABLE public.flowstate;\n");
write_file("$dir/U3__create_appstate.sql", "DROP TABLE public.appstate;\n");
write_file("$dir/R__flow_count.sql",
	"CREATE OR REPLACE FUNCTION public.flow_count() RETURNS bigint\n"
	  . "LANGUAGE sql AS 'SELECT 3';\n");

$node->safe_psql('postgres', 'CREATE EXTENSION schema_mgr');
my ($script, $stderr);
IPC::Run::run([ 'sh', 'bin/schema_mgr_load_dir', '-a', 'flogo', $dir ],
	'>', \$script, '2>', \$stderr)
  or die "loader failed: $stderr";
my ($out, $err) = ('', '');
IPC::Run::run([ 'psql', '-X', '-q', '-A', '-t', '-d', $node->connstr('postgres') ],
	'<', \$script, '>', \$out, '2>', \$err);
is($err, '', 'the chain with its undo files loads and applies');
is($node->safe_psql('postgres', q{
	SELECT string_agg(coalesce(version::text, description) || ':' || status
		|| ':' || has_undo, ',' ORDER BY version)
	FROM migration_info('flogo')}),
	'1:applied:true,2:applied:true,3:applied:true,flow count:applied:false',
	'every version has its undo; the repeatable migration is applied');
my $applied = schema_dump('postgres');

is($node->safe_psql('postgres', q{
	SELECT string_agg(version || ':' || outcome, ',')
	FROM revert_migrations('flogo', 0)}),
	'3:reverted,2:reverted,1:reverted', 'reverted newest first');
is($node->safe_psql('postgres', q{
	SELECT to_regclass('public.steps') IS NULL AND to_regclass('public.flowstate') IS NULL
	   AND to_regclass('public.appstate') IS NULL,
	   current_version('flogo') IS NULL}),
	't|t', 'the tables are gone and nothing is applied');

is($node->safe_psql('postgres', q{
	SELECT string_agg(version || ':' || outcome, ',') FROM apply_migrations('flogo')}),
	'1:applied,2:applied,3:applied', 'applied again');
is(schema_dump('postgres'), $applied, 'the same schema as before the revert');
is($node->safe_psql('postgres', q{
	SELECT string_agg(action || ':' || coalesce(version::text, name), ',' ORDER BY id)
	FROM migration_history WHERE component = 'flogo'}),
	'apply:1,apply:2,apply:3,repeat:flow count,revert:3,revert:2,revert:1,'
	  . 'apply:1,apply:2,apply:3',
	'the history log tells every step');

# a revert killed in its undo SQL
$node->safe_psql('postgres', q{
	SELECT register_migration('app', 1, 'create t', 'CREATE TABLE t (a int)',
		undo => 'DROP TABLE t');
	SELECT register_migration('app', 2, 'fill', 'INSERT INTO t VALUES (1)',
		undo => 'DELETE FROM t; SELECT pg_sleep(300);');
	SELECT count(*) FROM apply_migrations('app');
});
my $before = $node->safe_psql('postgres', q{
	SELECT (SELECT count(*) FROM t),
	       (SELECT string_agg(version::text, ',' ORDER BY version) FROM schema_version
	        WHERE component = 'app'),
	       (SELECT count(*) FROM migration_history),
	       (SELECT string_agg(version || status, ',' ORDER BY version)
	        FROM migration_status('app'))});
($out, $err) = ('', '');
my $h = IPC::Run::start(
	[ 'psql', '-X', '-d', $node->connstr('postgres'), '-c',
	  "SET application_name = revert_victim; SELECT * FROM revert_migrations('app', 0)" ],
	'>', \$out, '2>', \$err);
ok($node->poll_query_until('postgres', q{
	SELECT count(*) = 1 FROM pg_stat_activity
	WHERE application_name = 'revert_victim' AND wait_event = 'PgSleep'}),
	'revert_migrations is in the middle of the undo of version 2');
my $pid = $node->safe_psql('postgres', q{
	SELECT pid FROM pg_stat_activity WHERE application_name = 'revert_victim'});
kill 'KILL', $pid;
$h->finish;
like($err, qr/terminated|connection|closed/i, 'the reverting session died');
ok($node->poll_query_until('postgres', 'SELECT 1', '1'),
	'server is back after crash recovery');

is($node->safe_psql('postgres', q{
	SELECT (SELECT count(*) FROM t),
	       (SELECT string_agg(version::text, ',' ORDER BY version) FROM schema_version
	        WHERE component = 'app'),
	       (SELECT count(*) FROM migration_history),
	       (SELECT string_agg(version || status, ',' ORDER BY version)
	        FROM migration_status('app'))}),
	$before, 'everything is as it was before the revert');
is($node->safe_psql('postgres',
	"SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"), '0',
	'no lock is left');

$node->safe_psql('postgres', q{
	SELECT register_migration('app', 2, 'fill', 'INSERT INTO t VALUES (1)',
		undo => 'DELETE FROM t')});
is($node->safe_psql('postgres', q{
	SELECT string_agg(version || ':' || outcome, ',') FROM revert_migrations('app', 0)}),
	'2:reverted,1:reverted', 'a later revert succeeds');

$node->stop;
done_testing();
