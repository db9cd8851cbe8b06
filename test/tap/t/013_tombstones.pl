# 013_tombstones.pl -- tombstones are purged once every peer acknowledged
# them; a peer away longer than the retention is marked as needing a full
# resync, cannot bring deleted keys back, and rejoins with kv.resync().
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use GkvTest;

my $conf = "globalkv.tombstone_min_age = 0\nglobalkv.tombstone_retention = 3600\n";
my @nodes = map { new_parade_node("zone$_", $_, conf => $conf) } 1 .. 3;
my ($n1, $n2, $n3) = @nodes;
join_parade(\@nodes, @nodes);
ok(wait_connected($_, 2), $_->name . ' connected') foreach @nodes;
$n1->safe_psql('postgres', q{SELECT kv.create_namespace('t')});

sub tombstones
{
	my ($node) = @_;
	return $node->safe_psql('postgres',
		q{SELECT count(*) FROM globalkv.shard_rows() WHERE namespace = 't' AND value IS NULL});
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
sleep(3);    # the purge runs every second: give it three chances to be wrong
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
# a write in zone3 during that time does not spread either
$n3->safe_psql('postgres', q{SELECT kv.put('t', 'k60', '{"zombie": true}')});
sleep(2);
is($n1->safe_psql('postgres', q{SELECT count(value) FROM kv.get_many('t', (SELECT array_agg('k' || i) FROM generate_series(51, 100) i))}),
	'0', 'no deleted key came back to zone1');
is($n2->safe_psql('postgres', q{SELECT count(value) FROM kv.get_many('t', (SELECT array_agg('k' || i) FROM generate_series(51, 100) i))}),
	'0', 'no deleted key came back to zone2');

# 4. kv.resync() on zone3: it starts over from its peers
$n3->append_conf('postgresql.conf', "globalkv.tombstone_retention = 1\n");
$n3->reload;
$n3->poll_query_until('postgres', q{SELECT current_setting('globalkv.tombstone_retention') = '1s'});
sleep(2);    # zone3's stale rows must be older than the retention
$n3->safe_psql('postgres', q{SELECT kv.resync()});
ok(wait_connected($n3, 2), 'zone3 pulls again after its resync');
ok(wait_connected($n1, 2), 'zone1 pulls from zone3 again once it acknowledged everything');
ok(wait_converged('t', @nodes), 'the parade converged after the resync');
is($n3->safe_psql('postgres', q{SELECT count(value) FROM kv.get_many('t', (SELECT array_agg('k' || i) FROM generate_series(1, 200) i))}),
	'100', 'zone3 holds exactly the 100 live documents');

$_->stop foreach @nodes;
done_testing();
