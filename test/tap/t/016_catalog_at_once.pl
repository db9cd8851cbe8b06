# 016_catalog_at_once.pl -- a namespace or expiry policy created on one node
# is usable at once through every node of the parade (issue #14), on 2 zones
# x 2 nodes with the shards spread over the nodes of each zone:
#
#  - create a namespace, then at once (same session, next statement) write
#    keys of every shard through the same node: half of them are forwarded
#    to the other node of the zone, which may not have the namespace yet;
#  - then at once write through each of the other three nodes directly;
#  - the same for an expiry policy;
#  - drop the namespace, then at once write through the same node: every
#    call is refused and no document lands anywhere;
#  - a name no node knows is refused at once by every node.
#
# It is a race, so it runs many rounds, each starting on another node.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use GkvTest;

my $rounds = 12;
my $conf = "max_connections = 60\n";
my @nodes = parade_2x2(8, $conf);
is( $nodes[0]->safe_psql('postgres',
		q{SELECT count(DISTINCT node_id) FROM kv.placements WHERE zone_name = 'zone1'}),
	'2', 'the shards of zone1 are spread over both of its nodes');

# every session below first writes into this namespace, through every
# shard: its router connections to the other nodes are open before the
# namespace under test is created, so its first forwarded call follows the
# creating commit by well under a millisecond (the race of issue #14)
$nodes[0]->safe_psql('postgres', q{SELECT kv.create_namespace('warm')});
ok($_->poll_query_until('postgres', q{SELECT count(*) = 1 FROM kv.namespaces WHERE name = 'warm'}),
	$_->name . ' has the warm-up namespace') foreach @nodes;
my $warm = q{SELECT count(kv.put('warm', 'w' || g, '{}', 'NO_EXPIRE')) FROM generate_series(1, 40) g;};

my (@create_fail, @policy_fail, @drop_leak, @drop_accepted);
for my $r (1 .. $rounds)
{
	my $n = $nodes[ $r % 4 ];
	my @others = grep { $_ != $n } @nodes;
	my $ns = "ns$r";

	# create, then write 100 keys (all 8 shards) through the same node at once
	my ($rc, $out, $err) = $n->psql('postgres', qq{
		$warm
		SELECT kv.create_namespace('$ns');
		SELECT count(kv.put('$ns', 'k' || g, '{}', 'NO_EXPIRE')) FROM generate_series(1, 100) g;
	});
	push @create_fail, $n->name . " round $r: $err" if $rc != 0;
	# and through every other node, straight away
	foreach my $o (@others)
	{
		($rc, $out, $err) = $o->psql('postgres',
			qq{SELECT count(kv.put('$ns', 'o' || g, '{}', 'NO_EXPIRE')) FROM generate_series(1, 50) g});
		push @create_fail, $o->name . " round $r (direct): $err" if $rc != 0 || $out ne '50';
	}

	# an expiry policy, the same way
	($rc, $out, $err) = $n->psql('postgres', qq{
		$warm
		SELECT kv.create_expiry_policy('p$r', interval '1 hour');
		SELECT count(kv.put('$ns', 'p' || g, '{}', 'p$r')) FROM generate_series(1, 100) g;
	});
	push @policy_fail, $n->name . " round $r: $err" if $rc != 0;
	foreach my $o (@others)
	{
		($rc, $out, $err) = $o->psql('postgres',
			qq{SELECT count(kv.put('$ns', 'q' || g, '{}', 'p$r')) FROM generate_series(1, 50) g});
		push @policy_fail, $o->name . " round $r (direct): $err" if $rc != 0 || $out ne '50';
	}

	# drop, then write through the same node at once: refused, nothing lands
	($rc, $out, $err) = $n->psql('postgres', qq{
		$warm
		SELECT kv.drop_namespace('$ns');
		SELECT count(kv.put('$ns', 'd' || g, '{}', 'NO_EXPIRE')) FROM generate_series(1, 100) g;
	});
	push @drop_accepted, $n->name . " round $r" if $rc == 0 || $err !~ /namespace "$ns" does not exist/;
	foreach my $m (@nodes)
	{
		my $leaked = $m->safe_psql('postgres',
			"SELECT count(*) FROM globalkv.shard_rows() WHERE namespace = '$ns' AND key LIKE 'd%'");
		push @drop_leak, $m->name . " round $r: $leaked" if $leaked ne '0';
	}
}
is(scalar(@create_fail), 0, "create then write at once, $rounds rounds x 4 nodes: no call failed")
  or diag(join("\n", @create_fail));
is(scalar(@policy_fail), 0, "create a policy then use it at once, $rounds rounds x 4 nodes: no call failed")
  or diag(join("\n", @policy_fail));
is(scalar(@drop_accepted), 0, 'drop then write through the same node: refused every time')
  or diag(join("\n", @drop_accepted));
is(scalar(@drop_leak), 0, 'no write into a dropped namespace landed on any node')
  or diag(join("\n", @drop_leak));

# documents written right after a creation are all there, read through
# every node (in zone2 once replication brought them)
my $kept = 'kept';
$nodes[1]->safe_psql('postgres', qq{
	SELECT kv.create_namespace('$kept');
	SELECT count(kv.put('$kept', 'k' || g, '{"v": 1}', 'NO_EXPIRE')) FROM generate_series(1, 200) g;
});
ok( $_->poll_query_until('postgres',
		qq{SELECT count(value) = 200 FROM kv.get_many('$kept', (SELECT array_agg('k' || g) FROM generate_series(1, 200) g))}),
	$_->name . ': every document written right after the creation is there') foreach @nodes;

# a name nobody knows is refused by every node
foreach my $m (@nodes)
{
	my ($rc, $out, $err) = $m->psql('postgres', q{SELECT kv.put('no_such_ns', 'k', '{}', 'NO_EXPIRE')});
	like($err, qr/namespace "no_such_ns" does not exist/, $m->name . ': an unknown namespace is refused');
	($rc, $out, $err) = $m->psql('postgres', q{SELECT kv.put('kept', 'k', '{}', 'no_such_policy')});
	like($err, qr/expiry policy "no_such_policy" does not exist/, $m->name . ': an unknown policy is refused');
}

$_->stop foreach @nodes;
done_testing();
