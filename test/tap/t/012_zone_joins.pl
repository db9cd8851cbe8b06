# 012_zone_joins.pl -- a third zone added to a running two-zone parade,
# by telling one existing node about it, learns the whole parade through
# catalog replication, backfills every document written before it joined
# (tombstones and counters included), and then replicates both ways.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use GkvTest;

my $n1 = new_parade_node('zone1', 1);
my $n2 = new_parade_node('zone2', 2);
join_parade([ $n1, $n2 ], $n1, $n2);
ok(wait_connected($_, 1), $_->name . ' connected') foreach ($n1, $n2);

# history before zone3 exists: namespaces, policies, documents, deletes, counters
$n1->safe_psql('postgres', q{
	SELECT kv.create_namespace('early');
	SELECT kv.create_expiry_policy('DAY', interval '1 day');
	SELECT count(*) FROM kv.put_many('early', (SELECT array_agg('d' || i) FROM generate_series(1, 3000) i),
	                                          (SELECT array_agg(jsonb_build_object('i', i)) FROM generate_series(1, 3000) i));
	SELECT kv.put('early', 'session', '{"s": 1}', 'DAY');
});
$n2->poll_query_until('postgres', q{SELECT kv.get('early', 'd3000') IS NOT NULL});
$n2->safe_psql('postgres', q{
	SELECT count(kv.delete('early', 'd' || i)) FROM generate_series(1, 100) i;
	SELECT count(kv.patch_numeric('early', 'ctr', '{"n": 1}')) FROM generate_series(1, 50);
});
$n1->safe_psql('postgres', q{SELECT count(kv.patch_numeric('early', 'ctr', '{"n": 2}')) FROM generate_series(1, 50)});
ok(wait_converged('early', $n1, $n2), 'two zones converged');

# zone3 joins: it is told about zone1 only, and zone1 about it
my $n3 = new_parade_node('zone3', 3);
join_parade([$n3], $n1, $n3);
join_parade([$n1], $n3);

ok( $n3->poll_query_until('postgres', q{SELECT count(*) = 3 FROM kv.nodes}),
	'zone3 learned the whole parade from zone1');
ok( $n2->poll_query_until('postgres', q{SELECT count(*) = 3 FROM kv.nodes}),
	'zone2 learned about zone3 through catalog replication');
ok(wait_connected($n3, 2), 'zone3 pulls from both zones');
ok(wait_connected($n2, 2), 'zone2 started pulling from zone3 without a restart');
ok(wait_converged('early', $n1, $n2, $n3), 'zone3 backfilled everything written before it joined');
is($n3->safe_psql('postgres', q{SELECT kv.get('early', 'ctr')}), '{"n": 150}', 'counter complete in zone3');
is($n3->safe_psql('postgres', q{SELECT kv.get('early', 'd1') IS NULL}), 't', 'deletes backfilled too');
is($n3->safe_psql('postgres', q{SELECT count(*) FROM kv.expiry_policies WHERE name = 'DAY'}), '1',
	'catalog backfilled: expiry policy');
is($n3->safe_psql('postgres', q{SELECT expires_at IS NOT NULL FROM kv.get_versioned('early', 'session')}), 't',
	'expiry backfilled with the document');

# and the new zone is a full member: writes both ways
$n3->safe_psql('postgres', q{SELECT kv.put('early', 'from3', '{"z": 3}')});
ok($n2->poll_query_until('postgres', q{SELECT kv.get('early', 'from3') IS NOT NULL}), "zone3's write reaches zone2");
$n2->safe_psql('postgres', q{SELECT kv.put('early', 'from2', '{"z": 2}')});
ok($n3->poll_query_until('postgres', q{SELECT kv.get('early', 'from2') IS NOT NULL}), "zone2's write reaches zone3");

# a node that leaves the parade stops being pulled from, everywhere
$n1->safe_psql('postgres', q{SELECT kv.drop_node(3)});
ok( $n2->poll_query_until('postgres', q{SELECT count(*) = 1 FROM kv.replication_status}),
	'after drop_node, zone2 pulls only from zone1');

$_->stop foreach ($n1, $n2, $n3);
done_testing();
