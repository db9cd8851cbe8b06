# 003_concurrency.pl -- many clients on few keys: no errors, no lost
# increments, exactly one winner per key, and inserts of the same new key
# racing without unique violations.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use GkvTest;

my $node = new_node('concurrency');

# this node runs on 4 shards: kv.init_shards works on an empty node
is($node->safe_psql('postgres', q{SELECT kv.init_shards(4)}), '4', 'init_shards on an empty node');
is($node->safe_psql('postgres', q{SELECT shard_count FROM kv.node}), '4', 'the node now has 4 shards');
is( $node->safe_psql('postgres',
		q{SELECT count(*) FROM pg_tables WHERE schemaname = 'globalkv_data'}),
	'4', 'exactly 4 shard tables remain');
$node->safe_psql('postgres', q{SELECT kv.create_namespace('cc')});

# 1. counters: 8 clients x 300 transactions, each adds 1 to a random field
# of one of 5 documents that also hold a string; decimals too
my ($rc, $out, $err) = pgbench_run($node, 8, 300, q{
\set k random(1, 5)
\set f random(1, 3)
SELECT kv.patch_numeric('cc', 'ctr' || :k, format('{"f%s": 1, "d": 0.1}', :f::int));
});
is($rc, 0, 'concurrent patch_numeric load ran without errors') or diag($err);
is( $node->safe_psql('postgres', q{
		SELECT sum((value->>'f1')::numeric + (value->>'f2')::numeric + (value->>'f3')::numeric)
		  FROM kv.get_many('cc', ARRAY['ctr1','ctr2','ctr3','ctr4','ctr5'])}),
	'2400', 'no increment lost: the fields add up to 8 x 300');
is( $node->safe_psql('postgres', q{
		SELECT sum((value->>'d')::numeric) FROM kv.get_many('cc', ARRAY['ctr1','ctr2','ctr3','ctr4','ctr5'])}),
	'240.0', 'decimal increments exact: 2400 x 0.1 = 240.0');

# 2. puts, deletes and gets on 20 fresh keys: every new key is raced by
# several inserters at once
($rc, $out, $err) = pgbench_run($node, 8, 300, q{
\set k random(1, 20)
\set v random(1, 1000000)
SELECT kv.put('cc', 'doc' || :k, format('{"v": %s, "s": "x"}', :v::int));
SELECT kv.get('cc', 'doc' || :k);
\set d random(1, 20)
SELECT kv.delete('cc', 'doc' || :d);
});
is($rc, 0, 'concurrent put/delete load on shared new keys ran without errors') or diag($err);
unlike($err // '', qr/duplicate key|unique/, 'no unique violations');

# every key holds exactly one row in its shard
is( $node->safe_psql('postgres', q{
		SELECT count(*) FROM (SELECT key FROM globalkv.shard_rows() WHERE namespace = 'cc'
		                       GROUP BY key HAVING count(*) > 1) dup}),
	'0', 'no key is stored twice');
is( $node->safe_psql('postgres',
		q{SELECT count(*) FROM globalkv.shard_rows() WHERE namespace = 'cc' AND key LIKE 'doc%'}),
	'20', 'each of the 20 raced keys has its one row (live or tombstone)');

# 3. the stats view saw it all
my ($puts, $patches, $deletes) = split /\|/,
  $node->safe_psql('postgres', q{SELECT puts, patches, deletes FROM kv.stats});
cmp_ok($puts, '>=', 2400, 'stats counted the puts');
cmp_ok($patches, '>=', 2400, 'stats counted the patches');
cmp_ok($deletes, '>=', 2400, 'stats counted the deletes');

is( $node->safe_psql('postgres',
		q{SELECT count(*) FROM globalkv.shard_rows() WHERE shard_id <> (kv.key_shard(namespace, key)).shard}),
	'0', 'every row is in the shard its hash selects among 4');
is( $node->safe_psql('postgres',
		q{SELECT count(DISTINCT shard_id) FROM globalkv.shard_rows()}),
	'4', 'rows spread over all 4 shards');

$node->stop;
done_testing();
