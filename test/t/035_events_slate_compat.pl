# ----------------------------------------------------------------------
# 035_events_slate_compat.pl -- side by side with the slate original.
# Loads the reference implementation (../shared/reference/slate_source.sql,
# outside this repository; the test is skipped without it) into one database
# and a schema_mgr source store into another, sends both the same calls and
# compares what a slate client sees: return values, error messages and
# hints, notification payloads, the append-only message.
# ----------------------------------------------------------------------
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

# test/run_tests.sh sets SLATE_REFERENCE when ../shared sits beside the tree
my ($reference) = grep { -f $_ } (
	$ENV{SLATE_REFERENCE} // '',
	'../shared/reference/slate_source.sql');
plan skip_all => 'slate reference implementation not found' unless $reference;

my $node = PostgreSQL::Test::Cluster->new('compat');
$node->init;
$node->start;
$node->safe_psql('postgres', 'CREATE DATABASE slate');
$node->safe_psql('postgres', 'CREATE DATABASE sm');
$node->command_ok([ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d',
	$node->connstr('slate'), '-f', $reference ], 'reference loaded');
$node->safe_psql('sm', q{CREATE EXTENSION schema_mgr; SELECT create_event_store('source')});

# what a client sees: the result, or the error's message and hint (slate's
# PL/pgSQL adds a CONTEXT line, which clients do not match on)
sub seen
{
	my ($db, $sql) = @_;
	my ($ret, $out, $err) = $node->psql($db, "LISTEN eventsinsert;\n$sql",
		extra_params => [ '-v', 'VERBOSITY=default' ]);
	my @lines = grep { /^(ERROR|HINT):/ } split /\n/, $err;
	s/^psql:[^ ]* // for @lines;
	my @payloads = ($out =~ /with payload "(.*?)" received/g);
	$out =~ s/Asynchronous notification.*\n?//g;
	return join("\n", $out, @lines, @payloads);
}

my @calls = (
	q{SELECT insert_events($$($1[1], $2, '{"entityName": "Person", "entityId": "p1", "operation": "create"}')$$)},
	q{SELECT insert_events($$($1[1], $2, '{"a": 1}'), ($1[2], $2, '{"b": "it''s"}'), ($1[3], $2, '{"c": [1, 2, {"d": null}]}')$$)},
	q{SELECT insert_events(insertValues := $$($1[1], $2, '{"named": true}')$$)},
	q{SELECT insert_events($$($1[1],$2,'{"compact":1}'),($1[2],$2,'{"compact":2}')$$)},
	q{SELECT insert_events('')},
	q{SELECT insert_events($$($1[1], $2, '{}'), ($1[3], $2, '{}')$$)},
	q{SELECT insert_events($$($1[2], $2, '{}'), ($1[1], $2, '{}')$$)},
	q{SELECT insert_events($$($1[2], $2, '{}'), ($1[3], $2, '{}')$$)},
	q{SELECT insert_events($$($1[1], $2, '{}'), ($1[2], '{}')$$)},
	q{SELECT insert_events($$($1[1], $2, '{"x": 1}'), ($1[2], $2, '{"x": 2}')$$)},
	q{UPDATE events SET event = '{}' WHERE id = 1},
	q{DELETE FROM events},
	q{TRUNCATE events},
);
for my $sql (@calls)
{
	is(seen('sm', $sql), seen('slate', $sql), "same as slate: $sql");
}
is($node->safe_psql('sm', 'SELECT string_agg(id || event::text, \',\' ORDER BY id) FROM events'),
	$node->safe_psql('slate', 'SELECT string_agg(id || event::text, \',\' ORDER BY id) FROM events'),
	'same rows, same ids');

$node->stop;
done_testing();
