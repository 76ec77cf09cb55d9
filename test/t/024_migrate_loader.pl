# ----------------------------------------------------------------------
# 024_migrate_loader.pl -- bin/schema_mgr_load_dir: the psql input it
# writes finds the extension's schema itself and calls schema_mgr's
# functions qualified, so a function of the same name earlier on the
# search_path never runs; it says clearly when the extension is missing or
# not in the schema given with -s.
# ----------------------------------------------------------------------
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use File::Temp qw(tempdir);

my $node = PostgreSQL::Test::Cluster->new('loader');
$node->init;
$node->start;

my $loader = 'bin/schema_mgr_load_dir';

# load(DB, [loader options and arguments], [psql options]): psql's stdout,
# stderr and exit code, and the loader's stderr and exit code
sub load
{
	my ($db, $args, $psql_opts) = @_;
	my ($script, $lerr) = ('', '');
	IPC::Run::run([ 'sh', $loader, @$args ], '>', \$script, '2>', \$lerr);
	my $lrc = $? >> 8;
	my ($out, $err) = ('', '');
	IPC::Run::run([ 'psql', '-X', '-q', '-A', '-t', @{ $psql_opts || [] },
			'-d', $node->connstr($db) ],
		'<', \$script, '>', \$out, '2>', \$err);
	return ($out, $err, $? >> 8, $lerr, $lrc);
}

sub write_file
{
	my ($path, $content) = @_;
	open(my $fh, '>:raw', $path) or die "could not write \"$path\": $!";
	print $fh $content;
	close $fh;
}

my $dir = tempdir(CLEANUP => 1);
write_file("$dir/V1__create_t.sql", "CREATE TABLE t (a int);\n");
write_file("$dir/V2__add_b.sql", "ALTER TABLE t ADD COLUMN b int;\n");

# the extension in "tools"; an attacker's look-alikes in public, which the
# DBA's search_path lists first
$node->safe_psql('postgres', q{
CREATE ROLE attacker LOGIN;
GRANT CREATE ON SCHEMA public TO attacker;
CREATE SCHEMA tools;
CREATE EXTENSION schema_mgr SCHEMA tools;
});
$node->safe_psql('postgres', q{
SET ROLE attacker;
CREATE FUNCTION public.register_migration(text, bigint, text, text)
RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE 'ALTER ROLE attacker SUPERUSER';
	RETURN 'registered';
END $$;
CREATE FUNCTION public.apply_migrations(text)
RETURNS TABLE (component text, version bigint, description text, duration interval)
LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE 'ALTER ROLE attacker SUPERUSER';
END $$;
});

local $ENV{PGOPTIONS} = '-c search_path=public,tools';
my ($out, $err, $rc) = load('postgres', [ '-a', 'app', $dir ]);
is($rc, 0, 'loader output runs') or diag($err);
is($node->safe_psql('postgres',
	"SELECT rolsuper FROM pg_roles WHERE rolname = 'attacker'"),
	'f', 'the attacker\'s register_migration and apply_migrations never ran');
is($node->safe_psql('postgres', q{
	SELECT string_agg(version || ':' || kind, ',' ORDER BY version)
	FROM tools.schema_version WHERE component = 'app'}),
	'1:run,2:run', 'the migrations were registered and applied by schema_mgr');

# -s names the schema; a wrong one is an error, not a call of whatever
# function that schema holds
($out, $err, $rc) = load('postgres', [ '-s', 'public', 'app', $dir ]);
isnt($rc, 0, 'a wrong -s fails');
like($err, qr/extension "schema_mgr" is installed in schema "tools", not in schema "public"/,
	'and says where the extension is');
is($node->safe_psql('postgres',
	"SELECT rolsuper FROM pg_roles WHERE rolname = 'attacker'"),
	'f', 'still no escalation');
($out, $err, $rc) = load('postgres', [ '-s', 'tools', 'app', $dir ]);
is($rc, 0, 'the right -s works') or diag($err);
like($out, qr/^unchanged\nunchanged$/m, 'and registers the same files again as unchanged');

# a database without the extension
$node->safe_psql('postgres', 'CREATE DATABASE bare');
($out, $err, $rc) = load('bare', [ 'app', $dir ]);
isnt($rc, 0, 'no extension: fails');
like($err, qr/extension "schema_mgr" is not installed in database "bare"/,
	'no extension: says so');
like($err, qr/HINT:  Run CREATE EXTENSION schema_mgr/, 'no extension: hints');

$node->stop;
done_testing();
