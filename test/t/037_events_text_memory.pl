# ----------------------------------------------------------------------
# 037_events_text_memory.pl -- the slate text API parses a call of many
# small events in memory proportional to the text, not to the number of
# rows times a fixed buffer size.  Measured as the growth of the backend's
# peak resident size (VmHWM in /proc/self/status, Linux only).
# ----------------------------------------------------------------------
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

plan skip_all => 'needs /proc/self/status' unless -r '/proc/self/status';

my $node = PostgreSQL::Test::Cluster->new('textmem');
$node->init;
$node->start;
$node->safe_psql('postgres', q{CREATE EXTENSION schema_mgr; SELECT create_event_store('source', notify => 'none')});

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

$node->stop;
done_testing();
