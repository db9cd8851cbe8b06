# 001_expiry_worker.pl -- the expiry worker removes expired rows, honours its
# throttle, and picks up new settings on SIGHUP.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);
use GkvTest;

# a lone node has no peers to wait for; no minimum age: expired rows go at once
my $node = new_node('expiry', conf => "globalkv.expiry_interval = 50ms\nglobalkv.tombstone_min_age = 0\n");

sub physical_rows
{
	return $node->safe_psql('postgres',
		q{SELECT count(*) FROM globalkv.shard_rows() WHERE namespace = 'e'});
}

$node->safe_psql('postgres', q{SELECT kv.create_namespace('e')});

# the worker is running under its own name
ok( $node->poll_query_until('postgres',
		q{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'globalkv expiry'}),
	'expiry worker is running');

# 1. removal: 300 documents with a 1 s TTL, 50 without
$node->safe_psql('postgres', q{
	SELECT count(*) FROM kv.put_many('e', (SELECT array_agg('t' || i) FROM generate_series(1, 300) i),
	                                      (SELECT array_agg('{"x": 1}'::jsonb) FROM generate_series(1, 300) i), 1);
	SELECT count(*) FROM kv.put_many('e', (SELECT array_agg('p' || i) FROM generate_series(1, 50) i),
	                                      (SELECT array_agg('{"x": 1}'::jsonb) FROM generate_series(1, 50) i));
});
is(physical_rows(), 350, 'all documents stored');
ok($node->poll_query_until('postgres', q{SELECT kv.get('e', 't1') IS NULL}),
	'an expired document reads as missing');
ok( $node->poll_query_until('postgres',
		q{SELECT count(*) = 50 FROM globalkv.shard_rows() WHERE namespace = 'e'}),
	'expired rows are physically removed, the others stay');
is($node->safe_psql('postgres', q{SELECT expired_rows FROM kv.stats}), '300',
	'kv.stats counts the removed rows');
is( $node->safe_psql('postgres',
		q{SELECT count(*) FROM kv.get_many('e', (SELECT array_agg('p' || i) FROM generate_series(1, 50) i)) WHERE value IS NOT NULL}),
	'50', 'documents without expiry are untouched');

# 2. throttle, changed with SIGHUP: 20 rows/s
$node->safe_psql('postgres', q{ALTER SYSTEM SET globalkv.expiry_rows_per_second = 20});
$node->reload;
# documents expire 2 s from now: the worker has seen the reload by then
$node->safe_psql('postgres', q{
	SELECT count(*) FROM kv.put_many('e', (SELECT array_agg('s' || i) FROM generate_series(1, 200) i),
	                                      (SELECT array_agg('{"x": 1}'::jsonb) FROM generate_series(1, 200) i), 2);
});
my $expire_at = time() + 2;
ok($node->poll_query_until('postgres', q{SELECT kv.get('e', 's1') IS NULL}), 'throttled documents expired');
ok($node->poll_query_until('postgres', q{SELECT expired_rows > 300 FROM kv.stats}),
	'throttled removal has started');
# whatever the machine's speed, removal cannot outrun the throttle
my $removed = $node->safe_psql('postgres', q{SELECT expired_rows - 300 FROM kv.stats});
my $elapsed = time() - $expire_at;
my $ceiling = int(20 * ($elapsed + 1)) + 20;
cmp_ok($removed, '<=', $ceiling,
	"removal rate honours 20 rows/s ($removed rows in ${elapsed}s, ceiling $ceiling)");
cmp_ok($removed, '<', 200, 'not everything was removed at once');

# 3. back to fast: everything goes
$node->safe_psql('postgres', q{ALTER SYSTEM SET globalkv.expiry_rows_per_second = 100000});
$node->reload;
ok($node->poll_query_until('postgres', q{SELECT expired_rows = 500 FROM kv.stats}),
	'after raising the rate the backlog is removed');

# the worker says what it did, without flooding the log
my $log = slurp_file($node->logfile);
like($log, qr/globalkv expiry worker started in database "postgres"/, 'worker logs its start');

$node->stop;
done_testing();
