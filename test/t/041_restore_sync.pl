# sync_events and compare_events across two clusters on loopback: a
# destination store kept up to date from a source store, never splitting a
# source transaction (an open transaction, and a writer running during the
# syncs), refusals for a diverged or ahead destination, compare_events
# naming the first differing id, and reading one snapshot of the
# destination while a sync commits.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use SchemaMgrTest;

my $primary = sm_new_node('primary');
my $replica = sm_new_node('replica');

# the source: a source store with 50,000 events (restored from a backup
# on the same node, the quickest way to fill a source store)
sm_make_backup($primary, 'seed', 50000);
sm_new_store_db($primary, 'src', 'source');
$primary->safe_psql('src',
	"SELECT * FROM restore_events_from('" . sm_tcp_connstr($primary, 'seed') . "')");
my $src = sm_tcp_connstr($primary, 'src');

sm_new_store_db($replica, 'dst', 'destination');

# --------------------------------------------------------- first sync
is($replica->safe_psql('dst', "SELECT rows_copied, max_id FROM sync_events('$src')"),
	'50000|50000', 'the first sync copies everything');
is($replica->safe_psql('dst', "SELECT rows_copied, max_id FROM sync_events('$src')"),
	'0|50000', 'a second sync has nothing to copy');
is($replica->safe_psql('dst', "SELECT equal, first_difference IS NULL FROM compare_events('$src')"),
	't|t', 'compare_events: equal stores');
is($replica->safe_psql('dst',
	"SELECT count(*) FROM pg_indexes WHERE tablename = 'events' AND schemaname = 'public'"),
	'7', 'the destination keeps its seven indexes');

# ---------------------------------------- new events, in transactions of 3
sub insert_tx
{
	my ($tx) = @_;
	return "SELECT append_events(ARRAY['{\"tx\": $tx, \"n\": 1}', "
	  . "'{\"tx\": $tx, \"n\": 2}', '{\"tx\": $tx, \"n\": 3}']::jsonb[]);\n";
}
$primary->safe_psql('src', join('', map { insert_tx($_) } 1 .. 5));
is($replica->safe_psql('dst', "SELECT rows_copied, max_id FROM sync_events('$src')"),
	'15|50015', 'a sync copies only the new events');

# an open transaction on the source (two insert_events calls) is not
# copied, and not split
my $open = $primary->background_psql('src');
$open->query_safe('BEGIN');
$open->query_safe(insert_tx(1000));
$open->query_safe(insert_tx(1001));
is($replica->safe_psql('dst', "SELECT rows_copied, max_id FROM sync_events('$src')"),
	'0|50015', 'events of a transaction still in progress are not copied');
$open->query_safe('COMMIT');
is($replica->safe_psql('dst', "SELECT rows_copied, max_id FROM sync_events('$src')"),
	'6|50021', 'once committed, the whole transaction is copied');
$open->quit;

# a writer commits 3-event transactions while the destination syncs again
# and again: after every sync each transaction is there entirely or not at all
my $writer = $primary->background_psql('src');
$writer->query_until(qr/writing/,
	"\\echo writing\n" . join('', map { insert_tx($_) } 2001 .. 2400));
my $split = 0;
my $syncs = 0;
for (1 .. 20)
{
	$replica->safe_psql('dst', "SELECT * FROM sync_events('$src')");
	$syncs++;
	$split += $replica->safe_psql('dst', q{
SELECT count(*) FROM (SELECT event->'tx' FROM events WHERE event ? 'tx'
                      GROUP BY 1 HAVING count(*) <> 3) s});
}
$writer->query_safe('SELECT 1');
$writer->quit;
is($split, 0, "no source transaction was split over $syncs syncs during writes");
$replica->safe_psql('dst', "SELECT * FROM sync_events('$src')");
is($replica->safe_psql('dst', "SELECT count(*), max(id) FROM events"),
	'51221|51221', 'all 407 transactions arrived, ids 1..N');
is($replica->safe_psql('dst', "SELECT equal FROM compare_events('$src')"),
	't', 'compare_events: equal after the syncs');

# --------------------------------------------------------- compare
# a destination has no append-only guard, so it can be tampered with
$replica->safe_psql('dst', q{UPDATE events SET event = '{"tampered": true}' WHERE id = 12345});
is($replica->safe_psql('dst', "SELECT equal, first_difference FROM compare_events('$src')"),
	'f|12345', 'compare_events names the first differing id');
$replica->safe_psql('dst', q{UPDATE events SET ts = ts + interval '1 microsecond' WHERE id = 777});
is($replica->safe_psql('dst', "SELECT first_difference FROM compare_events('$src')"),
	'777', 'a timestamp differing by a microsecond is found');
is($replica->safe_psql('dst', "SELECT equal, first_difference FROM compare_events('$src', store := 'events', remote_table := 'public.events')"),
	'f|777', 'store and remote table can be named');

# ----------------------------------------------------- diverged: refused
my ($ret, $out, $err) = $replica->psql('dst', "SELECT * FROM sync_events('$src', verify_all := true)");
like($err, qr/event store "public.events" has diverged from the source.*id 777 differs/s,
	'sync_events with verify_all refuses a diverged destination');
$replica->safe_psql('dst', q{UPDATE events SET event = '{"tampered": true}' WHERE id = 51200});
$primary->safe_psql('src', insert_tx(3000));
($ret, $out, $err) = $replica->psql('dst', "SELECT * FROM sync_events('$src')");
like($err, qr/has diverged from the source.*id 51200 differs/s,
	'sync_events refuses a destination whose last events differ');
is($replica->safe_psql('dst', 'SELECT max(id) FROM events'), '51221', 'nothing was copied');

# ahead of the source: refused
sm_new_store_db($replica, 'ahead', 'destination');
$replica->safe_psql('ahead', "SELECT * FROM sync_events('$src')");
$replica->safe_psql('ahead', q{INSERT INTO events SELECT max(id) + 1, now(), '{}' FROM events});
($ret, $out, $err) = $replica->psql('ahead', "SELECT * FROM sync_events('$src')");
like($err, qr/event store "public.events" is ahead of the source.*51225.*51224/s,
	'sync_events refuses a destination that is ahead of the source');
is($replica->safe_psql('ahead', "SELECT equal, first_difference, local_max_id, remote_max_id FROM compare_events('$src')"),
	'f|51225|51225|51224', 'compare_events: a row present on one side only');

# a source row with a null ts or event is named, nothing is copied
$primary->safe_psql('src', q{
CREATE TABLE events_nullts AS SELECT * FROM events WHERE id <= 5;
UPDATE events_nullts SET ts = NULL WHERE id = 4;
});
sm_new_store_db($replica, 'nullts', 'destination');
($ret, $out, $err) = $replica->psql('nullts', "SELECT * FROM sync_events('$src', remote_table := 'events_nullts')");
like($err, qr/ERROR:  the event with id 4 in the source database has a null ts\n.*DETAIL:  Table public.events_nullts in the source database has 1 row with a null ts\.\n.*HINT:  Correct that event/s,
	'sync_events names a source event with a null ts');
is($replica->safe_psql('nullts', 'SELECT count(*) FROM events'), '0', 'nothing was copied');

# dblink installed in a schema that is not on the search_path
$replica->safe_psql('postgres', 'CREATE DATABASE otherschema');
$replica->safe_psql('otherschema', q{
CREATE SCHEMA ext;
CREATE EXTENSION dblink SCHEMA ext;
CREATE EXTENSION schema_mgr;
SELECT create_event_store('destination');
});
is($replica->safe_psql('otherschema', "SELECT rows_copied, max_id FROM sync_events('$src')"),
	'51224|51224', 'dblink is found in whatever schema it is installed in');

# ------------------------------------ one snapshot on each side of a compare
# compare_events reads the destination in one snapshot, as it reads the
# other database in one: a sync that commits while a compare runs does not
# show up in half of it.  The compare is held after its first read of the
# destination by a lock on the remote table it reads (a copy of the
# source's events), while a sync copies three new events.
sm_new_store_db($replica, 'midsync', 'destination');
$replica->safe_psql('midsync', "SELECT * FROM sync_events('$src')");
$primary->safe_psql('src', insert_tx(4000) . 'CREATE TABLE events_copy AS SELECT * FROM events;');
my $holder = $primary->background_psql('src');
$holder->query_safe('BEGIN; LOCK TABLE events_copy IN ACCESS EXCLUSIVE MODE;');
my $comparer = $replica->background_psql('midsync');
$comparer->query_until(qr/comparing/, "\\echo comparing\n"
	  . "CREATE TEMP TABLE mid_compare AS SELECT * FROM compare_events('$src', remote_table := 'events_copy');\n");
ok($primary->poll_query_until('src',
	"SELECT EXISTS (SELECT 1 FROM pg_locks WHERE relation = 'events_copy'::regclass AND NOT granted)"),
	'the compare waits for the remote table');
is($replica->safe_psql('midsync', "SELECT rows_copied, max_id FROM sync_events('$src')"),
	'3|51227', 'a sync copies three events while the compare waits');
$holder->query_safe('COMMIT');
$holder->quit;
$comparer->query_safe('SELECT 1');
is($comparer->query_safe(
	'SELECT equal, first_difference, local_max_id, remote_max_id FROM mid_compare'),
	'f|51225|51224|51227',
	'compare_events does not see the events of a sync that committed while it ran');
$comparer->quit;
is($replica->safe_psql('midsync', "SELECT equal, local_max_id, remote_max_id FROM compare_events('$src')"),
	't|51227|51227', 'the next compare sees them');

$primary->stop;
$replica->stop;
done_testing();
