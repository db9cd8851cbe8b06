# 024_docs_ddl.pl -- CREATE INDEX and DROP INDEX on kv.docs, on 2 zones x
# 2 nodes and a node that joins later:
#
#  - an index made on one node is built on every shard table of every node
#    of both zones, recorded in the replicated catalog, and used by the
#    queries on the shard tables;
#  - what cannot be an index of kv.docs is refused with a clear error and
#    leaves nothing behind (UNIQUE, version, CONCURRENTLY, in a transaction
#    block, user-defined functions, a non-admin role);
#  - a build that fails on another node fails the statement with that
#    node's SQLSTATE and name, and no node keeps the index;
#  - a node that was down builds the index when it is back; a node that
#    joins later builds it too; re-applying is harmless;
#  - DROP INDEX removes it everywhere.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use GkvTest;

my ($rc, $out, $err);

my @nodes = parade_2x2(8, "max_connections = 60\n");
my ($z1a, $z1b, $z2a, $z2b) = @nodes;

$z1a->safe_psql('postgres', q{SELECT kv.create_namespace('shop')});
foreach my $n (@nodes)
{
	$n->poll_query_until('postgres', q{SELECT count(*) = 1 FROM kv.namespaces WHERE name = 'shop'})
	  or die 'the namespace did not arrive on ' . $n->name;
}
$z1a->safe_psql('postgres', q{INSERT INTO kv.docs (namespace, key, value)
	SELECT 'shop', 'o' || i, jsonb_build_object('customer', 'c' || (i % 50), 'qty', i % 13)
	  FROM generate_series(1, 400) i});
ok(wait_converged('shop', $z1a, $z2a) && wait_converged('shop', $z1b, $z2b), 'the documents converged');

# how many shard tables of a node carry index $name
sub built_on
{
	my ($node, $name) = @_;
	return $node->safe_psql('postgres',
		"SELECT count(*) FROM pg_indexes WHERE schemaname = 'globalkv_data' AND indexname LIKE '${name}_shard%'");
}

# ---- an index everywhere ----
$z1a->safe_psql('postgres', q{CREATE INDEX docs_customer ON kv.docs ((value->>'customer'))});
is(built_on($_, 'docs_customer'), '8', 'the index is on every shard table of ' . $_->name)
  foreach @nodes;
foreach my $n (@nodes)
{
	ok($n->poll_query_until('postgres', q{SELECT count(*) = 1 FROM kv.docs_indexes WHERE name = 'docs_customer'}),
		'the catalog of ' . $n->name . ' has it');
}
my $plan = $z2b->safe_psql('postgres', q{
	SET globalkv.docs_scope = node; SET enable_seqscan = off;
	EXPLAIN (COSTS OFF) SELECT key FROM kv.docs WHERE namespace = 'shop' AND value->>'customer' = 'c7'});
like($plan, qr/Index Scan using docs_customer_shard_\d+|Bitmap Index Scan on docs_customer_shard_\d+/,
	'a query on the shard tables uses it');
is($z2b->safe_psql('postgres', q{SELECT count(*) FROM kv.docs WHERE namespace = 'shop' AND value->>'customer' = 'c7'}),
	'8', 'and finds what it should');

# partial indexes and other access methods, and a name chosen for it
$z1b->safe_psql('postgres', q{CREATE INDEX ON kv.docs (((value->>'qty')::int)) WHERE namespace = 'shop'});
$z1b->safe_psql('postgres', q{CREATE INDEX docs_gin ON kv.docs USING gin (value jsonb_path_ops)});
is($z1b->safe_psql('postgres', q{SELECT string_agg(name || ': ' || definition, E'\n' ORDER BY name) FROM kv.docs_indexes}),
	join("\n",
		q{docs_customer: USING btree (((value ->> 'customer'::text)))},
		q{docs_expr_idx: USING btree ((((value ->> 'qty'::text))::integer)) WHERE (namespace = 'shop'::text)},
		q{docs_gin: USING gin (value jsonb_path_ops)}),
	'a partial index, a GIN index and a chosen name are recorded as built');
is(built_on($z2a, 'docs_gin'), '8', 'the GIN index reached the other zone');

# ---- refused, nothing left behind ----
my @refused = (
	[q{CREATE UNIQUE INDEX u ON kv.docs (key)}, qr/a unique index on kv.docs cannot be enforced/],
	[q{CREATE INDEX v ON kv.docs (version)}, qr/column "version" of kv.docs cannot be indexed/],
	[q{CREATE INDEX c ON kv.docs (key) WHERE version IS NULL}, qr/column "version" of kv.docs cannot be indexed|version/],
	[q{CREATE INDEX CONCURRENTLY c ON kv.docs (key)}, qr/CREATE INDEX CONCURRENTLY on kv.docs is not supported/],
	[q{BEGIN; CREATE INDEX t ON kv.docs (key); COMMIT}, qr/cannot run inside a transaction block/],
	[q{CREATE INDEX docs_customer ON kv.docs (key)}, qr/index "docs_customer" of kv.docs already exists/],
	[q{CREATE INDEX "Bad Name" ON kv.docs (key)}, qr/invalid name "Bad Name" for an index on kv.docs/],
	[q{CREATE FUNCTION mine(jsonb) RETURNS text IMMUTABLE LANGUAGE sql AS 'SELECT $1->>''customer''';
	   CREATE INDEX f ON kv.docs ((mine(value)))}, qr/may use only built-in immutable functions/],
	[q{CREATE INDEX s ON kv.docs ((value->>'customer')) TABLESPACE pg_default}, qr/takes no INCLUDE, WITH or TABLESPACE/],
);
foreach my $r (@refused)
{
	($rc, $out, $err) = $z1a->psql('postgres', $r->[0]);
	like($err, $r->[1], "refused: $r->[0]");
}
($rc, $out, $err) = $z1a->psql('postgres', q{
	CREATE ROLE app LOGIN; GRANT globalkv_client TO app;
	SET ROLE app; CREATE INDEX a ON kv.docs (key)});
like($err, qr/only members of globalkv_admin may create an index on kv.docs/, 'a client may not index kv.docs');
is($z1a->safe_psql('postgres', q{SELECT count(*) FROM kv.docs_indexes}), '3', 'none of those was recorded');
is($z1a->safe_psql('postgres', q{SELECT count(*) FROM pg_indexes WHERE schemaname = 'globalkv_data'
	AND indexname !~ '^(docs_customer|docs_expr_idx|docs_gin)_shard' AND indexname !~ '_(pkey|seq|expires_at|tombstones)$'}),
	'0', 'nor built');

# ---- a build that fails on another node ----
# a document whose "note" is no integer, on a shard z1b holds (and z2b)
my $bad_key = $z1a->safe_psql('postgres', q{
	SELECT k FROM generate_series(1, 200) i, LATERAL (SELECT 'bad' || i AS k) x
	 WHERE (SELECT node_id FROM kv.placements p WHERE p.shard_id = (kv.key_shard('shop', k)).shard
	           AND p.zone_name = 'zone1') = 2 LIMIT 1});
$z1a->safe_psql('postgres', "SELECT kv.put('shop', '$bad_key', '{\"note\": \"many\"}')");
ok(wait_converged('shop', $z1b, $z2b), 'the document no index can take reached its nodes');
($rc, $out, $err) = $z1a->psql('postgres', q{CREATE INDEX docs_qty ON kv.docs (((value->>'note')::bigint))});
like($err, qr/invalid input syntax for type bigint: "many"/, 'a build failing on another node fails the statement');
like($err, qr/remote command on node "z[12]b"/, 'naming the node');
is(built_on($_, 'docs_qty'), '0', 'and ' . $_->name . ' keeps none of it') foreach @nodes;
is($z1a->safe_psql('postgres', q{SELECT count(*) FROM globalkv.docs_indexes WHERE name = 'docs_qty'}), '0',
	'nor does the catalog');
$z1a->safe_psql('postgres', "SELECT kv.delete('shop', '$bad_key')");

# ---- a node away, and a node that joins later ----
$z2b->stop('fast');
($rc, $out, $err) = $z1a->psql('postgres', q{CREATE INDEX docs_later ON kv.docs (expires_at) WHERE expires_at IS NOT NULL});
is($rc, 0, 'CREATE INDEX with a node down succeeds');
like($err, qr/WARNING:  node "z2b" of zone "zone2" cannot be reached: it will build index "docs_later" when the catalog reaches it/,
	'with a WARNING naming the node');
$z2b->start;
ok($z2b->poll_query_until('postgres',
	q{SELECT count(*) = 8 FROM pg_indexes WHERE schemaname = 'globalkv_data' AND indexname LIKE 'docs_later_shard%'}),
	'the node builds the index once it is back');

# a node away while an index is dropped and made again under the same name,
# from another definition: once back, it has the new one, not the old
$z2b->stop('fast');
$z1a->safe_psql('postgres', q{DROP INDEX docs_later});
$z1a->psql('postgres', q{CREATE INDEX docs_later ON kv.docs (key) WHERE key LIKE 'x%'});
$z2b->start;
ok($z2b->poll_query_until('postgres',
	q{SELECT count(*) = 8 FROM pg_indexes WHERE schemaname = 'globalkv_data' AND indexname LIKE 'docs_later_shard%'
	   AND indexdef LIKE '%(key) WHERE (key ~~ ''x%''::text)%'}),
	'a node away while an index was made again from another definition builds the new one');

my $z3 = new_parade_node('z3', 5, zone => 'zone1', conf => "max_connections = 60\n");
$z3->safe_psql('postgres', 'SELECT kv.init_shards(8)');
join_parade([ $z1a, $z3 ], $z3, @nodes);
ok(wait_connected($z3, 4), 'a fifth node joined');
ok($z3->poll_query_until('postgres',
	q{SELECT count(*) = 4 FROM kv.docs_indexes}), 'it learns the indexes from the catalog');
ok($z3->poll_query_until('postgres',
	q{SELECT count(*) = 32 FROM pg_indexes WHERE schemaname = 'globalkv_data'
	   AND indexname ~ '^(docs_customer|docs_expr_idx|docs_gin|docs_later)_shard'}),
	'and builds every one of them on its shard tables');

# applying again changes nothing and fails on nothing
$z1a->safe_psql('postgres', q{SELECT globalkv.docs_index_apply(name, definition) FROM kv.docs_indexes});
is(built_on($z1a, 'docs_customer'), '8', 'building again is harmless');

# ---- DROP INDEX ----
$z2a->safe_psql('postgres', q{DROP INDEX docs_customer, kv.docs_gin});
is(built_on($_, 'docs_customer') + built_on($_, 'docs_gin'), 0, 'DROP INDEX removed them from ' . $_->name)
  foreach @nodes;
ok($z3->poll_query_until('postgres',
	q{SELECT count(*) = 0 FROM pg_indexes WHERE schemaname = 'globalkv_data' AND indexname ~ '^(docs_customer|docs_gin)_shard'}),
	'and, through the catalog, from the node that joined');
is($z1b->safe_psql('postgres', q{SELECT string_agg(name, ',' ORDER BY name) FROM kv.docs_indexes}),
	'docs_expr_idx,docs_later', 'the catalog keeps the others');
($rc, $out, $err) = $z1a->psql('postgres', q{DROP INDEX docs_later, pg_class_oid_index});
like($err, qr/cannot drop indexes of kv.docs and other indexes at once/, 'a DROP mixing both is refused');
($rc, $out, $err) = $z1a->psql('postgres', q{DROP INDEX IF EXISTS docs_nothing});
is($rc, 0, 'DROP INDEX IF EXISTS of no index is still PostgreSQL\'s');

done_testing();
