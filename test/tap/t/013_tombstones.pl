# 013_tombstones.pl -- tombstones are purged once every peer acknowledged
# them; a peer away longer than the retention is marked as needing a full
# resync, cannot bring deleted keys back, and rejoins with kv.resync().
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use GkvTest;

# pg_stat_statements counts the expiry worker's calls of
# globalkv.purge_tombstones(): the worker itself shows a purge only when it
# removed something (kv.stats, a log line a minute), and the assertions that
# nothing was purged need proof that a purge ran (purge_ran_since)
my $conf = "globalkv.tombstone_min_age = 0\nglobalkv.tombstone_retention = 3600\n"
  . "shared_preload_libraries = 'globalkv, pg_stat_statements'\n";
my @nodes = map { new_parade_node("zone$_", $_, conf => $conf) } 1 .. 3;
my ($n1, $n2, $n3) = @nodes;
$_->safe_psql('postgres', 'CREATE EXTENSION pg_stat_statements') foreach @nodes;
join_parade(\@nodes, @nodes);
ok(wait_connected($_, 2), $_->name . ' connected') foreach @nodes;
$n1->safe_psql('postgres', q{SELECT kv.create_namespace('t')});

sub tombstones
{
	my ($node) = @_;
	return $node->safe_psql('postgres',
		q{SELECT count(*) FROM globalkv.shard_rows() WHERE namespace = 't' AND value IS NULL});
}

# how many times the expiry worker has called globalkv.purge_tombstones()
# (pg_stat_statements counts a call when it ends, before it commits)
my $purge_calls = q{SELECT coalesce(sum(calls), 0) FROM pg_stat_statements
	WHERE query LIKE 'SELECT globalkv.purge_tombstones(%'};

# purge_ran_since(node, calls): waits until a whole purge has run and
# committed after the node's purge count was calls.  The first call counted
# after that may have started before; the second started after the first
# ended, and the third proves the second committed.
sub purge_ran_since
{
	my ($node, $calls) = @_;
	return $node->poll_query_until('postgres', "SELECT ($purge_calls) >= " . ($calls + 3));
}

# acked_by(node, peer): has peer acknowledged every tombstone of namespace t
# that node holds (the purge's condition, apart from the other peers)?
sub acked_by
{
	my ($node, $peer) = @_;
	return $node->poll_query_until('postgres', qq{
		SELECT bool_and(coalesce(a.cursor, 0) >= t.maxseq)
		  FROM (SELECT shard_id, max(seq) AS maxseq FROM globalkv.shard_rows()
		         WHERE namespace = 't' AND value IS NULL GROUP BY shard_id) t
		  LEFT JOIN globalkv.peer_acks a ON a.peer_node_id = $peer AND a.shard_id = t.shard_id});
}

# refused_twice(node, offset): waits, at most ~60 s, until node's log after
# offset shows two refusals to apply rows pulled from zone3.  The first may
# come from a pull sent before offset; the second pull was sent after the
# first refusal.  A reload a second sets the apply worker's latch, so it
# retries at once instead of after its backoff (up to 10 s).
sub refused_twice
{
	my ($node, $offset) = @_;
	for (my $i = 0; $i < 600; $i++)
	{
		my $log = slurp_file($node->logfile, $offset);
		my $n = () = $log =~ /ERROR:  not pulling from node "zone3": it missed tombstones/g;
		return 1 if $n >= 2;
		$node->reload if $i % 10 == 0;
		select(undef, undef, undef, 0.1);
	}
	return 0;
}

# 1. acknowledged by every peer: purged everywhere
$n1->safe_psql('postgres', q{
	SELECT count(*) FROM kv.put_many('t', (SELECT array_agg('k' || i) FROM generate_series(1, 200) i),
	                                      (SELECT array_agg('{"v": 1}'::jsonb) FROM generate_series(1, 200) i));
	SELECT count(kv.delete('t', 'k' || i)) FROM generate_series(1, 50) i;
});
ok(wait_converged('t', @nodes), 'deletes replicated');
ok($_->poll_query_until('postgres', q{SELECT count(*) = 0 FROM globalkv.shard_rows() WHERE namespace = 't' AND value IS NULL}),
	$_->name . ': tombstones purged once every peer acknowledged them') foreach @nodes;
ok($n1->poll_query_until('postgres', q{SELECT purged_tombstones >= 50 FROM kv.stats}), 'kv.stats counts purged tombstones');
is($n2->safe_psql('postgres', q{SELECT count(value) FROM kv.get_many('t', (SELECT array_agg('k' || i) FROM generate_series(1, 200) i))}),
	'150', 'the 150 live documents are untouched');

# 2. zone3 is away: tombstones wait for it
$n3->stop;
$n1->safe_psql('postgres', q{SELECT count(kv.delete('t', 'k' || i)) FROM generate_series(51, 100) i});
ok($n2->poll_query_until('postgres', q{SELECT kv.get('t', 'k100') IS NULL}), 'zone2 has the new deletes');
# zone1 and zone2 acknowledged each other, but zone3 has not: nothing purged
ok(acked_by($n1, 2), 'zone2 acknowledged the new tombstones to zone1');
ok(acked_by($n2, 1), 'zone1 acknowledged them to zone2');
my %calls = map { $_->name => $_->safe_psql('postgres', $purge_calls) } ($n1, $n2);
ok(purge_ran_since($_, $calls{ $_->name }), $_->name . ': a purge ran since')
  foreach ($n1, $n2);
is(tombstones($n1), '50', 'zone1 keeps tombstones zone3 has not acknowledged');
is(tombstones($n2), '50', 'zone2 keeps them too');

# 3. retention passes while zone3 is away: purged anyway, zone3 marked
$_->append_conf('postgresql.conf', "globalkv.tombstone_retention = 1\n") foreach ($n1, $n2);
$_->reload foreach ($n1, $n2);
ok($n1->poll_query_until('postgres', q{SELECT count(*) = 0 FROM globalkv.shard_rows() WHERE namespace = 't' AND value IS NULL}),
	'past the retention, zone1 purges the tombstones zone3 never acknowledged');
ok($n2->poll_query_until('postgres', q{SELECT count(*) = 0 FROM globalkv.shard_rows() WHERE namespace = 't' AND value IS NULL}),
	'and so does zone2');
is($n1->safe_psql('postgres', q{SELECT globalkv.peer_needs_resync(3)}), 't', 'zone1 marks zone3 as needing a resync');
is($n1->safe_psql('postgres', q{SELECT globalkv.peer_needs_resync(2)}), 'f', 'zone2 is not marked');

# zone3 comes back with its stale copies of k51..k100
$n3->start;
ok( $n3->poll_query_until('postgres',
		q{SELECT count(*) = 2 FROM kv.replication_status WHERE last_error LIKE '%must resync%'}),
	'zone3 is refused by both peers with a clear error');
ok( $n1->poll_query_until('postgres',
		q{SELECT last_error LIKE '%missed tombstones%' FROM kv.replication_status WHERE peer_node_id = 3}),
	'zone1 refuses to pull from zone3');
is($n3->safe_psql('postgres', q{SELECT count(value) FROM kv.get_many('t', (SELECT array_agg('k' || i) FROM generate_series(51, 100) i))}),
	'50', 'zone3 still holds the stale documents');
# a write in zone3 during that time does not spread either: both peers
# pulled it and refused it
my %offset = map { $_->name => -s $_->logfile } ($n1, $n2);
$n3->safe_psql('postgres', q{SELECT kv.put('t', 'k60', '{"zombie": true}')});
ok(refused_twice($_, $offset{ $_->name }), $_->name . ' refused rows from zone3 since the write')
  foreach ($n1, $n2);
is($n1->safe_psql('postgres', q{SELECT count(value) FROM kv.get_many('t', (SELECT array_agg('k' || i) FROM generate_series(51, 100) i))}),
	'0', 'no deleted key came back to zone1');
is($n2->safe_psql('postgres', q{SELECT count(value) FROM kv.get_many('t', (SELECT array_agg('k' || i) FROM generate_series(51, 100) i))}),
	'0', 'no deleted key came back to zone2');

# 4. kv.resync() on zone3: it starts over from its peers
$n3->append_conf('postgresql.conf', "globalkv.tombstone_retention = 1\n");
$n3->reload;
ok($n3->poll_query_until('postgres', q{SELECT current_setting('globalkv.tombstone_retention') = '1s'}),
	'zone3 has the short retention');
# zone3's stale rows (the zombie too) must be older than the retention, by
# kv.resync()'s own measure
ok( $n3->poll_query_until('postgres', q{
		SELECT max(hlc) < ((extract(epoch FROM now() - current_setting('globalkv.tombstone_retention')::interval)
		                    * 1000)::bigint << 16)
		  FROM globalkv.shard_rows() WHERE namespace = 't'}),
	"zone3's rows are older than the retention");
$n3->safe_psql('postgres', q{SELECT kv.resync()});
ok(wait_connected($n3, 2), 'zone3 pulls again after its resync');
ok(wait_connected($n1, 2), 'zone1 pulls from zone3 again once it acknowledged everything');
ok(wait_converged('t', @nodes), 'the parade converged after the resync');
is($n3->safe_psql('postgres', q{SELECT count(value) FROM kv.get_many('t', (SELECT array_agg('k' || i) FROM generate_series(1, 200) i))}),
	'100', 'zone3 holds exactly the 100 live documents');

$_->stop foreach @nodes;
done_testing();
