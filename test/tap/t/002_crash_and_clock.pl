# 002_crash_and_clock.pl -- durability across kill -9, and a clock that never
# goes back: after a restart the node's clock starts past every stored
# change sequence, even one from the future.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use GkvTest;

my $node = new_node('crash', conf => "synchronous_commit = on\n");
$node->safe_psql('postgres', q{SELECT kv.create_namespace('c')});

# 1. acknowledged writes survive kill -9 of the postmaster and its children
my ($rc, $out, $err) = pgbench_run($node, 4, 250, q{
\set k random(1, 400)
SELECT kv.put('c', 'k' || :k, '{"v": 1}');
SELECT kv.patch_numeric('c', 'counter', '{"n": 1}');
});
is($rc, 0, 'pgbench load of puts and patches ran without errors') or diag($err);
my $before = $node->safe_psql('postgres', q{SELECT kv.get('c', 'counter')});
is($before, '{"n": 1000}', 'all 1000 concurrent increments counted');
my $docs_before = $node->safe_psql('postgres',
	q{SELECT count(value) FROM kv.get_many('c', (SELECT array_agg('k' || i) FROM generate_series(1, 400) i))});

$node->stop('immediate');    # SIGQUIT to every process: no shutdown checkpoint
$node->start;
is($node->safe_psql('postgres', q{SELECT kv.get('c', 'counter')}), '{"n": 1000}',
	'counter intact after crash recovery');
is( $node->safe_psql('postgres',
		q{SELECT count(value) FROM kv.get_many('c', (SELECT array_agg('k' || i) FROM generate_series(1, 400) i))}),
	$docs_before, 'every acknowledged document intact after crash recovery');

# 2. the clock starts past the greatest stored seq, even one far ahead of
# the wall clock (a restored backup from a host whose clock ran fast)
$node->safe_psql('postgres', q{SELECT kv.put('c', 'k1', '{"v": 1}')});
my $future_hlc = $node->safe_psql('postgres',
	q{SELECT ((extract(epoch FROM timestamptz '2100-01-01') * 1000)::bigint << 16)});
$node->safe_psql('postgres', qq{
	DO \$\$
	DECLARE t text; n bigint;
	BEGIN
	    SELECT table_name INTO t FROM globalkv.shards
	     WHERE shard_id = (kv.key_shard('c', 'k1')).shard;
	    EXECUTE format('UPDATE globalkv_data.%I SET seq = $future_hlc
	                     WHERE namespace = ''c'' AND key = ''k1''', t);
	    GET DIAGNOSTICS n = ROW_COUNT;
	    IF n <> 1 THEN
	        RAISE EXCEPTION 'k1 not found';
	    END IF;
	END
	\$\$});
$node->restart;
$node->safe_psql('postgres', q{SELECT kv.put('c', 'after-restart', '{"v": 2}')});
my $new_hlc = $node->safe_psql('postgres',
	q{SELECT split_part(version, ':', 1) FROM kv.get_versioned('c', 'after-restart')});
cmp_ok($new_hlc, '>', $future_hlc, 'first write after restart is stamped past the stored sequence');
my $stats_hlc = $node->safe_psql('postgres', q{SELECT hlc FROM kv.stats});
cmp_ok($stats_hlc, '>=', $new_hlc, 'kv.stats shows the advanced clock');

# 3. versions keep growing across a crash too
$node->stop('immediate');
$node->start;
$node->safe_psql('postgres', q{SELECT kv.put('c', 'after-crash', '{"v": 3}')});
my $crash_hlc = $node->safe_psql('postgres',
	q{SELECT split_part(version, ':', 1) FROM kv.get_versioned('c', 'after-crash')});
cmp_ok($crash_hlc, '>', $new_hlc, 'versions keep growing across a crash');

$node->stop;
done_testing();
