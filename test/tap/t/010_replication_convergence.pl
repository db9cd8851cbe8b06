# 010_replication_convergence.pl -- three zones, concurrent random puts,
# deletes and counter increments on an overlapping key set from every zone:
# afterwards every node holds identical documents, and every counter equals
# the sum of all increments made anywhere.  Then the merge itself: recorded
# states applied in shuffled orders, with duplicates, all reach one state.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use GkvTest;

my @nodes = map { new_parade_node("zone$_", $_) } 1 .. 3;
join_parade(\@nodes, @nodes);
ok(wait_connected($_, 2), $_->name . ' pulls from both peers') foreach @nodes;

$nodes[0]->safe_psql('postgres', q{SELECT kv.create_namespace('conv')});
ok($_->poll_query_until('postgres', q{SELECT count(*) = 1 FROM kv.namespaces WHERE name = 'conv'}),
	'namespace reached ' . $_->name) foreach @nodes[1 .. 2];

# 1. the same random workload in every zone at once, on 60 shared keys
my $script = q{
\set k random(1, 60)
\set op random(1, 10)
\set v random(1, 1000000)
SELECT CASE WHEN :op <= 4 THEN kv.put('conv', 'k' || :k, format('{"v": %s, "s": "text"}', :v::int))
            WHEN :op <= 5 THEN kv.delete('conv', 'k' || :k)::text
            ELSE kv.patch_numeric('conv', 'k' || :k, '{"n": 1}')::text END;
SELECT kv.patch_numeric('conv', 'total', '{"hits": 1, "d": 0.01}');
};
my @runs;
foreach my $n (@nodes)
{
	my $file = $n->basedir . '/load.sql';
	PostgreSQL::Test::Utils::append_to_file($file, $script);
	my ($out, $err) = ('', '');
	push @runs, [ IPC::Run::start(
		[ 'pgbench', '-n', '-h', '127.0.0.1', '-p', $n->port, '-c', 4, '-j', 2,
		  '-t', 250, '-f', $file, 'postgres' ], '>', \$out, '2>', \$err), \$err ];
}
foreach my $r (@runs)
{
	$r->[0]->finish;
	is($r->[0]->result(0), 0, 'pgbench load finished without errors') or diag(${ $r->[1] });
}

ok(wait_converged('conv', @nodes), 'all three zones converged to identical documents');
foreach my $n (@nodes)
{
	is($n->safe_psql('postgres', q{SELECT kv.get('conv', 'total')}),
		'{"d": 30.00, "hits": 3000}',
		$n->name . ': counter = sum of the 3 x 1000 increments from every zone');
}
my $stats = $nodes[0]->safe_psql('postgres',
	q{SELECT replicated_rows > 0 AND replication_conflicts >= 0 FROM kv.stats});
is($stats, 't', 'kv.stats counts replicated rows');
is( $nodes[0]->safe_psql('postgres',
		q{SELECT count(*) FROM kv.replication_status WHERE rows_applied > 0 AND lag_ms = 0}),
	'2', 'replication status: both peers applied, caught up');

# 2. the merge is a join: states recorded from a random history, applied in
# shuffled orders with duplicates, reach the same final state
my $n1 = $nodes[0];
$n1->safe_psql('postgres', q{
	SELECT kv.create_namespace('hist');
	CREATE TABLE history (step serial, namespace text, key text, value jsonb, hlc bigint,
	                      origin int, expires_at timestamptz, crdt bytea);
});
# a history with puts, deletes, increments and field removals, as states
# written by three "origins" (replayed with different origin ids)
$n1->safe_psql('postgres', q{
	DO $$
	DECLARE
	    i int;
	    op int;
	BEGIN
	    PERFORM setseed(0.42);
	    FOR i IN 1 .. 400 LOOP
	        op := (random() * 9)::int;
	        IF op <= 2 THEN
	            PERFORM kv.put('hist', 'h' || (random() * 5)::int,
	                           jsonb_build_object('v', i, 'keep', 'x', 'n', i % 7));
	        ELSIF op = 3 THEN
	            PERFORM kv.delete('hist', 'h' || (random() * 5)::int);
	        ELSIF op = 4 THEN
	            PERFORM kv.patch_numeric('hist', 'h' || (random() * 5)::int, '{"n": null}');
	        ELSE
	            PERFORM kv.patch_numeric('hist', 'h' || (random() * 5)::int,
	                                     jsonb_build_object('n', round((random() * 10)::numeric, 2), 'm', 1));
	        END IF;
	        INSERT INTO history (namespace, key, value, hlc, origin, expires_at, crdt)
	        SELECT namespace, key, value, hlc, origin, expires_at, crdt
	          FROM globalkv.shard_rows() WHERE namespace = 'hist';
	    END LOOP;
	END
	$$;
});
my $final = $n1->safe_psql('postgres', q{
	SELECT string_agg(key || '=' || coalesce(value::text, 'null'), ' ' ORDER BY key)
	  FROM globalkv.shard_rows() WHERE namespace = 'hist'});
for my $round (1 .. 3)
{
	my $ns = "replay$round";
	$n1->safe_psql('postgres', qq{
		SELECT kv.create_namespace('$ns');
		SELECT setseed(0.$round);
		-- every recorded state, twice over, in a random order
		SELECT count(globalkv.apply_row('$ns', key, value, hlc, origin, expires_at, crdt))
		  FROM (SELECT h.* FROM history h, generate_series(1, 2) dup ORDER BY random()) s;
	});
	my $replayed = $n1->safe_psql('postgres', qq{
		SELECT string_agg(key || '=' || coalesce(value::text, 'null'), ' ' ORDER BY key)
		  FROM globalkv.shard_rows() WHERE namespace = '$ns'});
	is($replayed, $final, "shuffled replay $round with duplicates reaches the same documents");
}

$_->stop foreach @nodes;
done_testing();
