# 017_catalog_skew.pl -- catalog changes follow the same version rule as
# documents when a peer's clock runs ahead (issue #9, part 1): zone2's clock
# runs 10 minutes ahead (an NTP failure); a namespace, an expiry policy and
# a node it creates, then changed or dropped in zone1, end the same in every
# zone -- also when zone1 restarted in between (its clock starts above every
# catalog version it holds).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use GkvTest;

my @nodes = (
	new_parade_node('zone1', 1),
	new_parade_node('zone2', 2, conf => "globalkv.debug_clock_offset = 600000\n"),
	new_parade_node('zone3', 3));
my ($n1, $n2, $n3) = @nodes;
join_parade(\@nodes, @nodes);
ok(wait_connected($_, 2), $_->name . ' pulls from both peers') foreach @nodes;

# everywhere(sql): sql returns 't' on every node within 30 s
sub everywhere
{
	my ($sql) = @_;
	for (1 .. 300)
	{
		return 1 if !grep { $_->safe_psql('postgres', $sql) ne 't' } @nodes;
		select(undef, undef, undef, 0.1);
	}
	return 0;
}

# 1. a namespace created in the skewed zone, dropped in zone1
$n2->safe_psql('postgres', q{SELECT kv.create_namespace('skewns')});
ok(everywhere(q{SELECT count(*) = 1 FROM kv.namespaces WHERE name = 'skewns'}),
	'the skewed zone\'s namespace reached every zone');
$n1->safe_psql('postgres', q{SELECT kv.drop_namespace('skewns')});
ok(everywhere(q{SELECT count(*) = 0 FROM kv.namespaces WHERE name = 'skewns'}),
	'dropped in zone1: gone in every zone, the skewed one included');
is($n1->safe_psql('postgres',
		q{SELECT (SELECT hlc FROM globalkv.namespaces WHERE name = 'skewns') > 0}),
	't', 'the drop is a version of its own');

# 2. an expiry policy created in the skewed zone, altered and dropped in zone1
$n2->safe_psql('postgres', q{SELECT kv.create_expiry_policy('skewp', interval '1 hour')});
ok(everywhere(q{SELECT count(*) = 1 FROM kv.expiry_policies WHERE name = 'skewp'}),
	'the skewed zone\'s policy reached every zone');
$n1->safe_psql('postgres', q{SELECT kv.alter_expiry_policy('skewp', interval '2 hours')});
ok(everywhere(q{SELECT ttl = interval '2 hours' FROM kv.expiry_policies WHERE name = 'skewp'}),
	'altered in zone1: the new TTL in every zone');
$n1->safe_psql('postgres', q{SELECT kv.drop_expiry_policy('skewp')});
ok(everywhere(q{SELECT count(*) = 0 FROM kv.expiry_policies WHERE name = 'skewp'}),
	'dropped in zone1: gone in every zone');

# 3. a node registered in the skewed zone, dropped in zone1
$n2->safe_psql('postgres',
	q{SELECT kv.add_node(9, 'ghost', 'zone9', 'host=127.0.0.1 port=1 dbname=postgres connect_timeout=1')});
ok(everywhere(q{SELECT count(*) = 1 FROM kv.nodes WHERE node_id = 9}), 'the node reached every zone');
$n1->safe_psql('postgres', q{SELECT kv.drop_node(9)});
ok(everywhere(q{SELECT count(*) = 0 FROM kv.nodes WHERE node_id = 9}),
	'dropped in zone1: gone in every zone');

# 4. zone1 restarts between the skewed creation and its own drop
$n2->safe_psql('postgres', q{SELECT kv.create_namespace('skew2')});
ok(everywhere(q{SELECT count(*) = 1 FROM kv.namespaces WHERE name = 'skew2'}), 'skew2 reached every zone');
$n1->restart;
ok(wait_connected($n1, 2), 'zone1 reconnected after its restart');
$n1->safe_psql('postgres', q{SELECT kv.drop_namespace('skew2')});
ok(everywhere(q{SELECT count(*) = 0 FROM kv.namespaces WHERE name = 'skew2'}),
	'dropped in zone1 after its restart: gone in every zone');

# documents still converge as before: a delete in zone1 after a skewed put
$n1->safe_psql('postgres', q{SELECT kv.create_namespace('d')});
ok(everywhere(q{SELECT count(*) = 1 FROM kv.namespaces WHERE name = 'd'}), 'namespace d everywhere');
$n2->safe_psql('postgres', q{SELECT kv.put('d', 'k', '{"v": 1}')});
ok(everywhere(q{SELECT kv.get('d', 'k') IS NOT NULL}), 'the skewed put reached every zone');
$n1->safe_psql('postgres', q{SELECT kv.delete('d', 'k')});
ok(everywhere(q{SELECT kv.get('d', 'k') IS NULL}), 'the later delete wins everywhere');

$_->stop foreach @nodes;
done_testing();
