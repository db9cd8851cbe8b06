# 018_expiry_no_resurrection.pl -- an expired document does not come back
# on one node when an older version of it arrives late.
#
# Three zones of one node.  z2 writes V1 of a key (no expiry) and is then
# cut off: it pulls from nobody and z1 pulls nothing from it.  z3, which has
# V1, writes V2 (newer, expiring in 2 s); z1 gets V2 from z3, and V2
# expires.  Then z1 pulls from z2 again -- and z2 still sends V1, the row
# it holds.  The merge keeps V2 on z1 only if V2's row is still there:
# before this test the housekeeping worker deleted expired rows at once,
# V1 found no row, and the document came back on z1 while z2 and z3 read
# NULL.  Now an expired row waits, like a tombstone, until every peer of
# its shard has acknowledged it.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use GkvTest;

# expiry and purges as fast as they go: only the acknowledgements hold rows;
# pg_stat_statements counts the housekeeping worker's passes
my $conf = "globalkv.expiry_interval = 50ms\nglobalkv.tombstone_min_age = 0\n"
  . "shared_preload_libraries = 'globalkv, pg_stat_statements'\n";
my $z1 = new_parade_node('z1', 1, conf => $conf);
my $z2 = new_parade_node('z2', 2, conf => $conf);
my $z3 = new_parade_node('z3', 3, conf => $conf);
my @nodes = ($z1, $z2, $z3);
$z1->safe_psql('postgres', 'CREATE EXTENSION pg_stat_statements');
join_parade(\@nodes, @nodes);
ok(wait_connected($_, 2), $_->name . ' pulls from its 2 peers') foreach @nodes;

$z1->safe_psql('postgres', q{SELECT kv.create_namespace('r')});
foreach my $n (@nodes)
{
	$n->poll_query_until('postgres', q{SELECT count(*) = 1 FROM kv.namespaces WHERE name = 'r'})
	  or die 'namespace did not arrive on ' . $n->name;
}

sub block
{
	my ($node, $ids) = @_;
	$node->safe_psql('postgres',
		$ids eq '' ? 'ALTER SYSTEM RESET globalkv.debug_block_pull_from; SELECT pg_reload_conf()'
		: "ALTER SYSTEM SET globalkv.debug_block_pull_from = '$ids'; SELECT pg_reload_conf()");
	# the apply workers of the blocked peers have stopped (none is mid-pull)
	foreach my $id (split /,/, $ids)
	{
		$node->poll_query_until('postgres',
			"SELECT last_error LIKE '%blocked%' FROM kv.replication_status WHERE peer_node_id = $id")
		  or die $node->name . " still pulls from node $id";
	}
}

# z1 stops pulling from z2 before V1 exists, so that V1 reaches z1 only
# through z3 and z1's stream from z2 still holds V1 for later
block($z1, '2');
$z2->safe_psql('postgres', q{SELECT kv.put('r', 'k', '{"v": 1}')});
ok($_->poll_query_until('postgres', q{SELECT kv.get('r', 'k') = '{"v": 1}'}), 'V1 reached ' . $_->name)
  foreach ($z3, $z1);

# z2 cut off from the others: it keeps V1 and acknowledges nothing newer
block($z2, '1,3');

# V2 on z3: newer, expires in 2 s; it reaches z1 and expires there
$z3->safe_psql('postgres', q{SELECT kv.put('r', 'k', '{"v": 2}', 2)});
ok($z1->poll_query_until('postgres', q{SELECT kv.get('r', 'k') = '{"v": 2}'}), 'V2 reached z1');
ok($z1->poll_query_until('postgres', q{SELECT kv.get('r', 'k') IS NULL}), 'V2 expired on z1');

# two housekeeping passes that began after the expiry: the expired row had
# every chance to go; it must still be there, uncounted
my $passes = q{SELECT coalesce(sum(calls), 0) FROM pg_stat_statements
	WHERE query LIKE 'SELECT shard_id, table_name FROM globalkv.shards%'};
my $before = $z1->safe_psql('postgres', $passes);
ok($z1->poll_query_until('postgres', "SELECT ($passes) >= $before + 2"), 'z1 ran two more housekeeping passes');
my $row_here = q{SELECT count(*) FROM globalkv.shard_rows() WHERE namespace = 'r' AND key = 'k'};
is($z1->safe_psql('postgres', $row_here), '1', 'z1 keeps the expired row while z2 has not acknowledged it');
is($z1->safe_psql('postgres', q{SELECT expired_rows FROM kv.stats}), '0', 'and counts no removal');

# z1 pulls from z2 again: z2 sends V1, the row it holds, which loses to V2
my $conflicts = q{SELECT conflicts FROM kv.replication_status WHERE peer_node_id = 2};
my $c0 = $z1->safe_psql('postgres', $conflicts);
block($z1, '');
ok($z1->poll_query_until('postgres', "SELECT ($conflicts) > $c0"), 'z1 pulled the late V1 from z2');
is($z1->safe_psql('postgres', q{SELECT kv.get('r', 'k') IS NULL}), 't',
	'the late V1 does not bring the document back on z1');

# z2 back in: it takes V2 and expires it too; once z2 has acknowledged V2,
# z1 and z3 may let their copies go.  (z2's own copy waits for z1's and
# z3's acknowledgements of the row z2 stored; that they always come is not
# asserted here: one CI run in four kept it past three minutes -- an open
# question about acknowledging batches that change nothing, in the notes.)
block($z2, '');
ok($z2->poll_query_until('postgres', q{SELECT kv.get('r', 'k') IS NULL}), 'z2 reads the document as expired too');
ok($_->poll_query_until('postgres', "SELECT ($row_here) = 0"),
	'once every peer acknowledged it, ' . $_->name . ' removes the expired row') foreach ($z1, $z3);
is(join(',', map { $_->safe_psql('postgres', q{SELECT kv.get('r', 'k') IS NULL}) } @nodes), 't,t,t',
	'every zone agrees: gone');

done_testing();
