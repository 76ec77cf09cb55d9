# ----------------------------------------------------------------------
# 037_events_memory.pl -- insert_events and append_events take at most
# about twice the call's data in backend memory, plus a constant: 100,000
# events of about 330 bytes, through the typed call and through the slate
# text call.  With a notification per row, PostgreSQL's NOTIFY keeps its
# own copy of every payload until commit (about 1 kB a notification, in
# its pending list and duplicate-check table), on top of that.  Measured
# as the growth of the backend's peak resident size (VmHWM in
# /proc/self/status, Linux only) during the call; shared_buffers is kept
# small, since the buffers a backend touches count in its resident size
# too (they are part of the constant).
# ----------------------------------------------------------------------
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

plan skip_all => 'needs /proc/self/status' unless -r '/proc/self/status';

my $node = PostgreSQL::Test::Cluster->new('eventmem');
$node->init;
$node->append_conf('postgresql.conf', "shared_buffers = 16MB\nwal_buffers = 1MB");
$node->start;
$node->safe_psql('postgres', q{CREATE EXTENSION schema_mgr; SELECT create_event_store('source', notify => 'none')});

my $constant_kb = 48 * 1024;

# many small events: the text parse keeps a few numbers per row, not a
# buffer per row
# 200,000 events of 3 bytes each: about 4 MB of text
my $out = $node->safe_psql('postgres', q{
CREATE TEMP TABLE call AS
SELECT string_agg(format('($1[%s], $2, ''{}'')', g), ',' ORDER BY g) AS v
FROM generate_series(1, 200000) g;
SELECT (regexp_match(pg_read_file('/proc/self/status'), 'VmHWM:\s+(\d+)'))[1]::int AS before \gset
SELECT insert_events(v) FROM call;
SELECT (regexp_match(pg_read_file('/proc/self/status'), 'VmHWM:\s+(\d+)'))[1]::int - :before;
});
my ($rows, $growth_kb) = split /\n/, $out;
is($rows, '200000', 'all events inserted');
note("peak resident size grew by $growth_kb kB");
cmp_ok($growth_kb, '<', 120 * 1024, 'parsing 200,000 events takes well under 1 kB per event');


my $event = q{jsonb_build_object('entityName', 'Person', 'entityId', 'p-' || g,
	'operation', 'propertyChanged', 'propertyName', 'address.city',
	'value', repeat('v', 60) || g, 'metadata', jsonb_build_object('command',
	'updatePersonAddress', 'initiator', jsonb_build_object('id', 'user-' || g,
	'name', 'memory test'), 'correlationId', 'c-' || g))};

# measure SETUP SIZE CALL: the data are made in one session, the call runs
# in a fresh one; returns the call's data in bytes and the peak's growth
# in kB
sub measure
{
	my ($setup, $size, $call) = @_;
	$node->safe_psql('postgres', $setup);
	my $out = $node->safe_psql('postgres', qq{
SELECT $size AS size \\gset
SELECT (regexp_match(pg_read_file('/proc/self/status'), 'VmHWM:\\s+(\\d+)'))[1]::int AS before \\gset
$call
SELECT :size, (regexp_match(pg_read_file('/proc/self/status'), 'VmHWM:\\s+(\\d+)'))[1]::int - :before;
});
	my @lines = split /\n/, $out;
	return split /\|/, $lines[-1];
}

my $make_array = "CREATE TABLE a AS SELECT array_agg($event ORDER BY g) AS ev FROM generate_series(1, 100000) g;";
my $array_size = '(SELECT sum(pg_column_size(e)) FROM a, unnest(a.ev) e)';
my ($bytes, $growth) = measure($make_array, $array_size,
	'SELECT last_id FROM a, append_events(a.ev);');
note(sprintf('append_events, 100,000 events (%.1f MB): peak grew by %.1f MB',
	$bytes / 1048576, $growth / 1024));
cmp_ok($growth, '<', 2 * $bytes / 1024 + $constant_kb,
	'typed call: at most twice its data plus a constant');

($bytes, $growth) = measure(
	"CREATE TABLE t AS SELECT string_agg(format('(\$1[%s], \$2, %L)', g, $event), ', ' ORDER BY g) AS v FROM generate_series(1, 100000) g;",
	'(SELECT octet_length(v) FROM t)',
	'SELECT insert_events(t.v) FROM t;');
note(sprintf('insert_events, 100,000 events as text (%.1f MB): peak grew by %.1f MB',
	$bytes / 1048576, $growth / 1024));
cmp_ok($growth, '<', 2 * $bytes / 1024 + $constant_kb,
	'text call: at most twice its data plus a constant');

# with a notification per row: NOTIFY's own copies come on top
$node->safe_psql('postgres', q{SELECT set_event_store_notify('events', 'row'); DROP TABLE a});
($bytes, $growth) = measure($make_array, $array_size,
	'SELECT last_id FROM a, append_events(a.ev);');
note(sprintf('append_events, 100,000 events (%.1f MB), notify row: peak grew by %.1f MB',
	$bytes / 1048576, $growth / 1024));
cmp_ok($growth, '<', 2 * $bytes / 1024 + $constant_kb + 100000 * 1.5,
	'with row notifications: twice the data plus NOTIFY\'s copies, 1.5 kB each at most');

is($node->safe_psql('postgres', 'SELECT count(*), max(id) FROM events'), '500000|500000',
	'every event stored');

$node->stop;
done_testing();
