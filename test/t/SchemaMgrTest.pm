# ----------------------------------------------------------------------
# SchemaMgrTest.pm -- helpers shared by schema_mgr's TAP tests
#
# Clusters that also listen on loopback TCP (so dblink can reach them by
# host and port, as a real backup server would be reached), databases
# holding a slate-style backup events table, and databases with
# schema_mgr, dblink and an event store.
# ----------------------------------------------------------------------
package SchemaMgrTest;

use strict;
use Cwd ();
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Exporter 'import';

our @EXPORT = qw(sm_new_node sm_tcp_connstr sm_make_backup sm_new_store_db
  sm_set_password_auth sm_lock_capacity sm_poll_events);

# sm_new_node(NAME): a started cluster listening on its Unix socket (for
# the test's own psql) and on 127.0.0.1 at its port (for dblink).
sub sm_new_node
{
	my ($name) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init;
	$node->append_conf('postgresql.conf', qq{
listen_addresses = '127.0.0.1'
shared_buffers = '128MB'
max_connections = 20
# as in production: no statement logging (the test framework logs them
# all), but a failing statement is logged with its error
log_statement = none
log_min_error_statement = error
});
	$node->start;
	return $node;
}

# sm_lock_capacity(NODE): about how many locks the lock table of NODE
# holds for all sessions together.
sub sm_lock_capacity
{
	my ($node) = @_;
	return $node->safe_psql('postgres', q{
	SELECT current_setting('max_locks_per_transaction')::int
	     * (current_setting('max_connections')::int
	        + current_setting('autovacuum_max_workers')::int + 1
	        + current_setting('max_worker_processes')::int
	        + current_setting('max_wal_senders')::int
	        + current_setting('max_prepared_transactions')::int)});
}

# sm_tcp_connstr(NODE, DBNAME, [key => value ...]): a libpq connection
# string reaching NODE over loopback TCP.
sub sm_tcp_connstr
{
	my ($node, $dbname, %extra) = @_;
	my $s = "host=127.0.0.1 port=" . $node->port . " dbname=$dbname";
	$s .= " $_=$extra{$_}" for sort keys %extra;
	return $s;
}

# sm_set_password_auth(NODE, USER): TCP connections of USER must
# authenticate with a SCRAM password; everything else stays trusted.
sub sm_set_password_auth
{
	my ($node, $user) = @_;
	my $hba = $node->data_dir . '/pg_hba.conf';
	open my $fh, '>', $hba or die "could not write $hba: $!";
	print $fh "local all all trust\n";
	print $fh "host all $user 127.0.0.1/32 scram-sha-256\n";
	print $fh "host all all 127.0.0.1/32 trust\n";
	close $fh;
	$node->reload;
}

# sm_make_backup(NODE, DBNAME, N, [pk => 0]): a database with a slate
# backup's events table (id, ts, event; the six slate indexes) holding
# events 1..N of about 250 bytes, several per transaction timestamp.
sub sm_make_backup
{
	my ($node, $db, $n, %opt) = @_;
	my $pk = (!defined $opt{pk} || $opt{pk}) ? ', PRIMARY KEY (id)' : '';
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	# the rows: test/fixtures/events/backup_rows.sql (prove runs in the tree)
	my $backup_rows = Cwd::abs_path('test/fixtures/events/backup_rows.sql');
	$node->safe_psql($db, qq{
CREATE TABLE events (id bigint NOT NULL, ts timestamptz NOT NULL,
                     event jsonb NOT NULL $pk);
\\set n $n
\\i $backup_rows
CREATE INDEX events_event_entityname ON events ((event #>> '{entityName}'));
CREATE INDEX events_ts ON events (ts);
ANALYZE events;
});
	return;
}

# sm_new_store_db(NODE, DBNAME, KIND): a database with dblink, schema_mgr
# and one event store of KIND ('source' or 'destination').
sub sm_new_store_db
{
	my ($node, $db, $kind) = @_;
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	# the rows: test/fixtures/events/backup_rows.sql (prove runs in the tree)
	my $backup_rows = Cwd::abs_path('test/fixtures/events/backup_rows.sql');
	$node->safe_psql($db, qq{
CREATE EXTENSION dblink;
CREATE EXTENSION schema_mgr;
SELECT create_event_store('$kind');
});
	return;
}

# sm_poll_events(NODE, HARNESS): while the IPC::Run HARNESS (a load) runs,
# poll NODE's events table as a reader does, "id > last_seen", and count
# the polls that did not return exactly last_seen+1 .. last_seen+k.
# Returns (last id seen, polls that saw new ids, polls that skipped).
sub sm_poll_events
{
	my ($node, $load) = @_;
	my $reader = $node->background_psql('postgres');
	my ($last, $seen, $skips) = (0, 0, 0);
	while ($load->pumpable)
	{
		my ($min, $max, $count) = split /\|/, $reader->query_safe(
			"SELECT coalesce(min(id), 0), coalesce(max(id), 0), count(*) FROM events WHERE id > $last");
		if ($count > 0)
		{
			$seen++;
			$skips++ if $min != $last + 1 || $max != $last + $count;
			$last = $max;
		}
		$load->pump_nb;
	}
	$load->finish;
	$reader->quit;
	return ($last, $seen, $skips);
}

1;
