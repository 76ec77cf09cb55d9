# ----------------------------------------------------------------------
# 050_pg_upgrade.pl -- pg_upgrade from an older major keeps schema_mgr's
# history and event stores working
#
# The old cluster runs the older major's installation named by
# SM_OLD_INSTALL (with schema_mgr installed into it); the new one runs the
# major under test.  The old cluster gets two migration chains (applied,
# one of them baselined first), a source store with events and a
# destination store synced from it over dblink; after pg_upgrade the
# history, checksums and events are all there, nothing is pending, new
# migrations apply, append_events continues the sequence and the
# destination still compares equal to the source.  Run by
# test/run_tests.sh's "upgrade" part, where an older major is at hand.
# ----------------------------------------------------------------------
use strict;
use warnings;
use File::Temp ();
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use SchemaMgrTest;

my $oldinst = $ENV{SM_OLD_INSTALL};
die "SM_OLD_INSTALL must name the older major's installation\n"
  unless $oldinst && -x "$oldinst/bin/postgres";

# ------------------------------------------------------------ old cluster
my $old = PostgreSQL::Test::Cluster->new('old', install_path => $oldinst);
$old->init;
$old->append_conf('postgresql.conf', "listen_addresses = '127.0.0.1'\n");
$old->start;
my $oldver = $old->safe_psql('postgres', 'SHOW server_version_num');

$old->safe_psql('postgres', 'CREATE DATABASE app');
$old->safe_psql('app', q{
CREATE EXTENSION dblink;
CREATE EXTENSION schema_mgr;
SELECT register_migration('app', 1, 'items', 'CREATE TABLE items (id int PRIMARY KEY, name text)');
SELECT register_migration('app', 2, 'price', 'ALTER TABLE items ADD price numeric');
SELECT register_migration('billing', 1, 'legacy', 'CREATE TABLE invoices (id int)');
SELECT register_migration('billing', 2, 'lines', 'CREATE TABLE lines (invoice int, amount numeric)');
SELECT * FROM baseline('billing', 1);
CREATE TABLE invoices (id int);
SELECT count(*) FROM apply_migrations();
SELECT create_event_store('source');
CREATE SCHEMA backup;
SELECT create_event_store('destination', 'backup');
});
$old->safe_psql('app', q{
SELECT append_events(ARRAY(SELECT pg_catalog.jsonb_build_object('n', i)
                           FROM generate_series(1, 500) i));
});
my $connstr = sm_tcp_connstr($old, 'app');
$old->safe_psql('app', "SELECT * FROM sync_events('$connstr', 'backup.events')");

# what must survive, read before the upgrade
my $history_sql = q{SELECT string_agg(component || ' ' || version || ' ' || kind || ' '
                                 || coalesce(checksum, '-'), ', ' ORDER BY component, version)
                    FROM schema_version};
my $events_sql = q{SELECT count(*), min(id), max(id), sum((event->>'n')::int) FROM events};
my $history = $old->safe_psql('app', $history_sql);
my $events = $old->safe_psql('app', $events_sql);
my $extversion = $old->safe_psql('app',
	"SELECT extversion FROM pg_extension WHERE extname = 'schema_mgr'");
is($events, '500|1|500|125250', 'the old cluster holds events 1..500');
$old->stop;

# ------------------------------------------------------------- pg_upgrade
my $new = PostgreSQL::Test::Cluster->new('new');
$new->init;
$new->append_conf('postgresql.conf', "listen_addresses = '127.0.0.1'\n");
my $newbindir = $new->config_data('--bindir');

# pg_upgrade runs the old binaries, which may need the libraries kept in
# the old installation's lib directory; it writes its reports into the
# current directory on older majors
my $workdir = File::Temp::tempdir(CLEANUP => 1);
{
	local $ENV{LD_LIBRARY_PATH} =
	  "$oldinst/lib" . ($ENV{LD_LIBRARY_PATH} ? ":$ENV{LD_LIBRARY_PATH}" : '');
	my $cwd = Cwd::getcwd();
	chdir $workdir or die "chdir $workdir: $!";
	$new->command_ok(
		[
			'pg_upgrade', '--no-sync',
			'-d', $old->data_dir, '-D', $new->data_dir,
			'-b', "$oldinst/bin", '-B', $newbindir,
			'-s', $new->host, '-p', $old->port, '-P', $new->port,
		],
		"pg_upgrade from $oldver to the new major");
	chdir $cwd or die "chdir $cwd: $!";
}
$new->start;
my $newver = $new->safe_psql('postgres', 'SHOW server_version_num');
cmp_ok(int($oldver / 10000), '<', int($newver / 10000),
	"the upgrade went from major " . int($oldver / 10000) . " to " . int($newver / 10000));

# ------------------------------------------------------------ afterwards
is($new->safe_psql('app', $history_sql), $history, 'the history is unchanged');
is($new->safe_psql('app', $events_sql), $events, 'the events are unchanged');
is($new->safe_psql('app', 'SELECT count(*), max(id) FROM backup.events'), '500|500',
	'the destination store is unchanged');
is($new->safe_psql('app',
		"SELECT extversion FROM pg_extension WHERE extname = 'schema_mgr'"),
	$extversion, 'the extension keeps its version');
is($new->safe_psql('app', 'SELECT count(*) FROM apply_migrations()'), '0',
	'nothing is pending after the upgrade');
is($new->safe_psql('app',
		"SELECT count(*) FROM migration_status() WHERE status NOT IN ('applied', 'baselined')"),
	'0', 'every migration is applied or baselined');
$new->safe_psql('app',
	"SELECT register_migration('app', 3, 'stock', 'ALTER TABLE items ADD stock int')");
is($new->safe_psql('app',
		"SELECT string_agg(component || ' ' || version || ' ' || outcome, ',') FROM apply_migrations()"),
	'app 3 applied', 'a new migration applies');
is($new->safe_psql('app', "SELECT current_version('app'), current_version('billing')"),
	'3|2', 'current versions');
is($new->safe_psql('app', q{SELECT first_id FROM append_events(ARRAY['{"n": 501}'::jsonb])}),
	'501', 'append_events continues the sequence');
my $newconn = sm_tcp_connstr($new, 'app');
is($new->safe_psql('app',
		"SELECT rows_copied FROM sync_events('$newconn', 'backup.events')"),
	'1', 'sync_events sends the new event to the destination');
is($new->safe_psql('app',
		"SELECT equal FROM compare_events('$newconn', 'backup.events')"),
	't', 'the destination compares equal to the source');

$new->stop;
done_testing();
