# ----------------------------------------------------------------------
# 037_events_memory.pl -- insert_events and append_events take at most
# about twice the call's data in backend memory, plus a constant, in every
# notification mode: 100,000 events of about 330 bytes, through the typed
# call and through the slate text call.  With a notification per row,
# NOTIFY keeps its own copy of every payload until commit; the call's own
# copy of the events is freed before those are made.  Measured as the
# growth of the backend's peak resident size (VmHWM in /proc/self/status,
# Linux only) during the call, in a session that has touched nothing else
# of the data; shared_buffers is kept small, since the buffers a backend
# touches count in its resident size too (they are part of the constant).
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

my $constant_kb = 32 * 1024;

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

# measure SETUP SIZE CALL: the data are made and sized in one session, the
# call runs in a fresh one (sizing them there would detoast them and raise
# the peak before the call); returns the call's data in bytes and the
# peak's growth in kB
sub measure
{
	my ($setup, $size, $call) = @_;
	$node->safe_psql('postgres', $setup);
	my $bytes = $node->safe_psql('postgres', "SELECT $size");
	my $out = $node->safe_psql('postgres', qq{
SELECT (regexp_match(pg_read_file('/proc/self/status'), 'VmHWM:\\s+(\\d+)'))[1]::int AS before \\gset
$call \\gset
SELECT (regexp_match(pg_read_file('/proc/self/status'), 'VmHWM:\\s+(\\d+)'))[1]::int - :before;
});
	return ($bytes, $out);
}

$node->safe_psql('postgres',
	"CREATE TABLE a AS SELECT array_agg($event ORDER BY g) AS ev FROM generate_series(1, 100000) g;"
	  . "CREATE TABLE t AS SELECT string_agg(format('(\$1[%s], \$2, %L)', g, $event), ', ' ORDER BY g) AS v FROM generate_series(1, 100000) g;");
my @calls = (
	[ 'typed call', 'append_events, 100,000 events',
	  '(SELECT sum(pg_column_size(e)) FROM a, unnest(a.ev) e)',
	  'SELECT last_id FROM a, append_events(a.ev)' ],
	[ 'text call', 'insert_events, 100,000 events as text',
	  '(SELECT octet_length(v) FROM t)',
	  'SELECT insert_events(t.v) FROM t' ]);
foreach my $mode ('none', 'statement', 'row')
{
	foreach my $c (@calls)
	{
		my ($name, $what, $size, $call) = @$c;
		my ($bytes, $growth) = measure(
			"SELECT set_event_store_notify('events', '$mode')", $size, $call);
		note(sprintf('%s (%.1f MB), notify %s: peak grew by %.1f MB',
			$what, $bytes / 1048576, $mode, $growth / 1024));
		cmp_ok($growth, '<', 2 * $bytes / 1024 + $constant_kb,
			"$name, notify $mode: at most twice its data plus a constant");
	}
}

is($node->safe_psql('postgres', 'SELECT count(*), max(id) FROM events'), '800000|800000',
	'every event stored');

$node->stop;
done_testing();
