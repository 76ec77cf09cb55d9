# ----------------------------------------------------------------------
# 024_migrate_loader.pl -- bin/schema_mgr_load_dir: the psql input it
# writes finds the extension's schema itself and calls schema_mgr's
# functions qualified, so a function of the same name earlier on the
# search_path never runs; it says clearly when the extension is missing or
# not in the schema given with -s.  Both loaders read the layouts the
# same way: undo files go with their migrations (an undo file without one
# is an error), repeatable migrations follow the versions.  A file that is
# not UTF-8, or that cannot be read, is an error that names it.
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

# ------------------------------------------------------------------
# Layouts: both loaders read Flyway, golang-migrate/dbmate and Prisma
# directories the same way, and neither skips a file silently.
# ------------------------------------------------------------------
delete $ENV{PGOPTIONS};
my %layouts = (
	flyway => {
		'V1__create_l.sql' => "CREATE TABLE l_flyway (a int);\n",
		'V2__add_b.sql' => "ALTER TABLE l_flyway ADD b int;\n",
		'U2__add_b.sql' => "ALTER TABLE l_flyway DROP b;\n",
		'R__l_view.sql' => "CREATE OR REPLACE VIEW l_flyway_v AS SELECT a, b FROM l_flyway;\n",
		'R__l_view_2.sql' => "CREATE OR REPLACE VIEW l_flyway_v2 AS SELECT b FROM l_flyway_v;\n",
	},
	golang => {
		'000001_create_l.up.sql' => "CREATE TABLE l_golang (a int);\n",
		'000001_create_l.down.sql' => "DROP TABLE l_golang;\n",
		'000002_add_b.up.sql' => "ALTER TABLE l_golang ADD b int;\n",
		'000002_add_b.down.sql' => "ALTER TABLE l_golang DROP b;\n",
	},
	dbmate => {
		'20240101120000_create_l.sql' =>
		  "-- migrate:up\nCREATE TABLE l_dbmate (a int);\n\n-- migrate:down\nDROP TABLE l_dbmate;\n",
		'20240202120000_add_b.sql' =>
		  "-- migrate:up transaction:true\r\nALTER TABLE l_dbmate ADD b int;",
	},
	prisma => {
		'20240101120000_init/migration.sql' => "CREATE TABLE l_prisma (a int);\n",
		'20240202120000_add_b/migration.sql' => "ALTER TABLE l_prisma ADD b int;\n",
		'20240303120000_nothing/migration.sql' => "-- This is an empty migration.\n",
		'migration_lock.toml' => "provider = \"postgresql\"\n",
	},
);
$node->safe_psql('postgres', 'CREATE DATABASE layouts');
$node->safe_psql('layouts', 'CREATE EXTENSION schema_mgr');
my $q_registered = q{SELECT string_agg(coalesce(version::text, 'R') || ':' || description || ':'
		|| checksum || ':' || coalesce(undo_checksum, '-'), ',' ORDER BY version, description)
	FROM migration_sql('%s')};
foreach my $layout (sort keys %layouts)
{
	my $ldir = tempdir(CLEANUP => 1);
	chmod 0755, $ldir;
	foreach my $f (keys %{ $layouts{$layout} })
	{
		if ($f =~ m{^(.*)/})
		{
			mkdir "$ldir/$1";
			chmod 0755, "$ldir/$1";
		}
		write_file("$ldir/$f", $layouts{$layout}{$f});
	}
	my ($o, $e, $r, $le) = load('layouts', [ '-a', "client_$layout", $ldir ]);
	is($r, 0, "$layout: the client loader loads it") or diag($e, $le);
	like($le, qr/lock file, not loaded/, "$layout: and says what it does not load")
	  if $layout eq 'prisma';
	my $server = $node->safe_psql('layouts', qq{
		SELECT string_agg(coalesce(version::text, '-') || ':' || file || ':' || result, ',' ORDER BY version, file)
		FROM register_migrations_from_directory('server_$layout', '$ldir')});
	unlike($server, qr/error/, "$layout: the server loader loads it");
	is($node->safe_psql('layouts', sprintf($q_registered, "server_$layout")),
		$node->safe_psql('layouts', sprintf($q_registered, "client_$layout")),
		"$layout: both loaders register the same versions, descriptions and SQL");
	note("$layout server: $server");
}
is($node->safe_psql('layouts', q{
	SELECT string_agg(sql || '/' || coalesce(undo_sql, '-'), '|' ORDER BY version)
	FROM migration_sql('server_dbmate')}),
	"CREATE TABLE l_dbmate (a int);\n\n/DROP TABLE l_dbmate;\n|ALTER TABLE l_dbmate ADD b int;\n/-",
	'dbmate: the up section is the SQL, the down section its undo');
is($node->safe_psql('layouts', q{
	SELECT string_agg(coalesce(version::text, description) || ':' || coalesce(undo_sql, '-'), '|'
		ORDER BY version, description)
	FROM migration_sql('server_golang')}),
	"1:DROP TABLE l_golang;\n|2:ALTER TABLE l_golang DROP b;\n",
	'golang-migrate: the .down.sql files are the undo');
is($node->safe_psql('layouts', q{
	SELECT string_agg(coalesce(version::text, description) || ':' || status, ',' ORDER BY version, description)
	FROM migration_status('client_flyway')}),
	'1:applied,2:applied,l view:applied,l view 2:applied',
	'Flyway: the repeatable migrations are applied after the versions, in name order');

# dbmate's transaction:false becomes the marker of a non-transactional
# migration, in both loaders
my $notx = tempdir(CLEANUP => 1);
chmod 0755, $notx;
write_file("$notx/20240101120000_index_a.sql",
	"-- migrate:up transaction:false\r\nCREATE INDEX CONCURRENTLY l_notx_a ON l_dbmate (a);\r\n-- migrate:down\nDROP INDEX l_notx_a;\n");
my ($no, $ne, $nr, $nle) = load('layouts', [ '-a', 'client_notx', $notx ]);
isnt($nr, 0, '-a with a non-transactional migration fails');
like($ne, qr/HINT:  .*apply_migrations_stepwise/, 'and hints at the stepwise apply');
is($node->safe_psql('layouts', q{
	SELECT count(*) FROM migration WHERE component = 'client_notx'}),
	'0', 'and registered nothing (one transaction)');
($no, $ne, $nr, $nle) = load('layouts', [ '-S', 'client_notx', $notx ]);
is($nr, 0, 'dbmate transaction:false: the client loader loads it, -S applies it') or diag($ne, $nle);
is($node->safe_psql('layouts', q{
	SELECT string_agg(s.status || ':' || i.indisvalid, ',')
	FROM migration_status('client_notx') s, pg_index i
	WHERE i.indexrelid = 'l_notx_a'::regclass}),
	'applied:true', '-S: the index is built and the migration recorded');
my $nlrc;
($no, $ne, $nr, $nle, $nlrc) = load('layouts', [ '-a', '-S', 'client_notx', $notx ]);
is($nlrc, 2, '-a and -S together: a usage error');
like($nle, qr/^usage: /, 'which says the usage');
$node->safe_psql('layouts', qq{
	SELECT register_migrations_from_directory('server_notx', '$notx')});
is($node->safe_psql('layouts', q{
	SELECT string_agg(component || ':' || sql, '|' ORDER BY component) FROM migration
	WHERE component IN ('client_notx', 'server_notx')}),
	"client_notx:-- schema_mgr:no-transaction\nCREATE INDEX CONCURRENTLY l_notx_a ON l_dbmate (a);\r\n"
	. "|server_notx:-- schema_mgr:no-transaction\nCREATE INDEX CONCURRENTLY l_notx_a ON l_dbmate (a);\r\n",
	'dbmate transaction:false: both loaders write the marker line first');
is($node->safe_psql('layouts', q{
	SELECT string_agg(version::text, ',' ORDER BY version) FROM migration
	WHERE component = 'client_prisma'}),
	'20240101120000,20240202120000,20240303120000',
	'Prisma: the timestamp is the version');

# a file neither loader can interpret is an error, unless asked to ignore it
my $mixed = tempdir(CLEANUP => 1);
chmod 0755, $mixed;
write_file("$mixed/V1__one.sql", "SELECT 1;\n");
write_file("$mixed/notes.txt", "not a migration\n");
write_file("$mixed/2_no_up_suffix.sql", "SELECT 2;\n");
write_file("$mixed/.gitkeep", "");
($out, $err, $rc, my $lerr, my $lrc) = load('layouts', [ 'mixed_client', $mixed ]);
isnt($lrc, 0, 'client loader: unknown files are an error');
like($lerr, qr/cannot interpret these entries.*\n"2_no_up_suffix.sql": a <version>_<name>.sql file without a "-- migrate:up" line\n"notes.txt"/,
	'client loader: names each of them');
unlike($lerr, qr/gitkeep/, 'client loader: does not look at hidden files');
my ($src, $sout, $serr) = $node->psql('layouts',
	"SELECT * FROM register_migrations_from_directory('mixed_server', '$mixed', false)");
isnt($src, 0, 'server loader: unknown files are an error');
like($serr, qr/cannot interpret 2 entries of directory/, 'server loader: says so');
like($serr, qr/"2_no_up_suffix.sql": a <version>_<name>.sql file without a "-- migrate:up" line\n"notes.txt"/,
	'server loader: names each of them');
($out, $err, $rc, $lerr) = load('layouts', [ '-i', 'mixed_client', $mixed ]);
is($rc, 0, 'client loader -i: loads the rest');
like($lerr, qr/ignoring "notes.txt"/, 'client loader -i: says what it ignored');
is($node->safe_psql('layouts', qq{
	SELECT string_agg(coalesce(version::text, '-') || ':' || result, ',' ORDER BY version, file)
	FROM register_migrations_from_directory('mixed_server', '$mixed', ignore_unknown => true)}),
	'1:registered,-:ignored: a <version>_<name>.sql file without a "-- migrate:up" line,-:ignored: not named as a migration',
	'server loader with ignore_unknown: loads the rest, and says what it ignored');

# the 1.0 two-argument form skips them with a notice, as 1.0 did
($src, $sout, $serr) = $node->psql('layouts',
	"SELECT coalesce(version::text, '-') || ':' || result FROM register_migrations_from_directory('mixed_1_0', '$mixed')");
is($src, 0, 'server loader, 1.0 form: unknown files are no error');
is($sout, '1:registered', 'server loader, 1.0 form: loads the rest, no row for the others');
like($serr, qr/NOTICE:  skipping "2_no_up_suffix.sql", a <version>_<name>.sql file without a "-- migrate:up" line\n.*NOTICE:  skipping "notes.txt", not named as a migration/s,
	'server loader, 1.0 form: a notice for each file skipped');

# an undo file without its migration is an error for both, unless ignored
my $orphan = tempdir(CLEANUP => 1);
chmod 0755, $orphan;
write_file("$orphan/V1__one.sql", "SELECT 1;\n");
write_file("$orphan/U1__one.sql", "SELECT -1;\n");
write_file("$orphan/U2__two.sql", "SELECT -2;\n");
write_file("$orphan/R__rep.sql", "SELECT 0;\n");
($out, $err, $rc, $lerr, $lrc) = load('layouts', [ 'orphan_client', $orphan ]);
isnt($lrc, 0, 'client loader: an undo without its migration is an error');
like($lerr, qr/"U2__two.sql": the undo of version 2, which has no migration file/,
	'client loader: names it');
($src, $sout, $serr) = $node->psql('layouts',
	"SELECT * FROM register_migrations_from_directory('orphan_server', '$orphan', false)");
isnt($src, 0, 'server loader: an undo without its migration is an error');
like($serr, qr/"U2__two.sql": the undo of version 2, which has no migration file/,
	'server loader: names it');
($out, $err, $rc, $lerr) = load('layouts', [ '-i', 'orphan_client', $orphan ]);
is($rc, 0, 'client loader -i: loads the rest') or diag($err);
is($node->safe_psql('layouts', qq{
	SELECT string_agg(coalesce(version::text, '-') || ':' || file || ':' || result, ',' ORDER BY version, file)
	FROM register_migrations_from_directory('orphan_server', '$orphan', ignore_unknown => true)}),
	'1:U1__one.sql:the undo of version 1, loaded with it,1:V1__one.sql:registered,'
	  . '-:R__rep.sql:registered,-:U2__two.sql:ignored: the undo of version 2, which has no migration file',
	'server loader with ignore_unknown: loads the rest, and says what it ignored');
is($node->safe_psql('layouts', sprintf($q_registered, 'orphan_server')),
	$node->safe_psql('layouts', sprintf($q_registered, 'orphan_client')),
	'both loaders register the same migrations, undo and repeatable');

# a file that is not valid UTF-8 (Latin-1, or UTF-16 as Windows
# PowerShell's ">" writes it): both loaders name it, nothing is registered
$node->safe_psql('postgres',
	"CREATE DATABASE utf8 ENCODING 'UTF8' LOCALE 'C' TEMPLATE template0");
$node->safe_psql('utf8', 'CREATE EXTENSION schema_mgr');
my $latin = tempdir(CLEANUP => 1);
chmod 0755, $latin;
write_file("$latin/V1__one.sql", "SELECT 1;\n");
write_file("$latin/V2__cafe.sql", "-- caf\xe9\nSELECT 2;\n");
($out, $err, $rc, $lerr, $lrc) = load('utf8', [ 'latin_client', $latin ]);
isnt($lrc, 0, 'client loader: a file that is not UTF-8 is an error');
like($lerr, qr/"V2__cafe.sql" is not valid UTF-8/, 'client loader: names it');
($src, $sout, $serr) = $node->psql('utf8',
	"SELECT * FROM register_migrations_from_directory('latin_server', '$latin', false)");
isnt($src, 0, 'server loader: a file that is not UTF-8 is an error');
like($serr, qr/ERROR:  migration file "V2__cafe.sql" is not valid UTF8\nDETAIL:  invalid byte sequence for encoding "UTF8": 0xe9 0x0a 0x53\nHINT:  Save the file as UTF8/,
	'server loader: names it, and what is wrong with it');
write_file("$latin/V2__cafe.sql", "\xff\xfeS\0E\0L\0E\0C\0T\0 \0002\0;\0\n\0");
($src, $sout, $serr) = $node->psql('utf8',
	"SELECT * FROM register_migrations_from_directory('latin_server', '$latin', false)");
like($serr, qr/ERROR:  migration file "V2__cafe.sql" is not valid UTF8\n/,
	'server loader: a UTF-16 file too');
is($node->safe_psql('utf8',
	"SELECT count(*) FROM migration WHERE component LIKE 'latin%'"),
	'0', 'nothing was registered');

# a migration file the loader cannot read (a link to a file that is gone,
# or no read permission) is an error that names it, -i or not: it is
# neither skipped nor registered as an empty migration
my $gone = tempdir(CLEANUP => 1);
chmod 0755, $gone;
write_file("$gone/V1__one.sql", "CREATE TABLE gone_1 (a int);\n");
symlink("$gone/nowhere.sql", "$gone/V2__two.sql") or die "symlink: $!";
symlink("$gone/nowhere.sql", "$gone/20240101120000_three.sql") or die "symlink: $!";
for my $opts ([ '-a', 'gone' ], [ '-a', '-i', 'gone' ])
{
	($out, $err, $rc, $lerr, $lrc) = load('utf8', [ @$opts, $gone ]);
	isnt($lrc, 0, "client loader @$opts: a file it cannot read is an error");
	like($lerr, qr/cannot read "V2__two.sql"\n.*cannot read "20240101120000_three.sql"/,
		"client loader @$opts: names each one");
}
is($node->safe_psql('utf8', "SELECT count(*) FROM migration WHERE component = 'gone'"),
	'0', 'nothing was registered');

$node->stop;
done_testing();
