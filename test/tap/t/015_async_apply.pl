# 015_async_apply.pl -- apply transactions commit without waiting for their
# WAL flush (synchronous_commit off, as PostgreSQL's own apply workers do),
# and that loses nothing (docs/replication.md, "Durability"):
#
#  1. an acknowledgement reports only what the destination has flushed: a
#     destination killed with -9 right after acknowledging a tombstone (which
#     the source then purges) still has the delete;
#  2. a destination killed with -9 after applying, before flushing, pulls
#     what it lost again (the source still has it);
#  3. kill -9 of a destination while a steady stream of writes arrives:
#     afterwards every acknowledged write is there, digests identical.
#
# zone2 flushes its WAL rarely (wal_writer_delay 10 s) so that the window
# between applying and flushing is wide enough to look at.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use GkvTest;

my $src = new_parade_node('zone1', 1, conf => q{
globalkv.tombstone_min_age = 0
});
my $dst = new_parade_node('zone2', 2, conf => q{
wal_writer_delay = 10s
wal_writer_flush_after = 1GB
globalkv.tombstone_min_age = 0
});
join_parade([ $src, $dst ], $src, $dst);
ok(wait_connected($_, 1), $_->name . ' pulls from its peer') foreach ($src, $dst);

$src->safe_psql('postgres', q{SELECT kv.create_namespace('dur')});
ok($dst->poll_query_until('postgres', q{SELECT count(*) = 1 FROM kv.namespaces WHERE name = 'dur'}),
	'namespace reached zone2');

$src->safe_psql('postgres', q{SELECT kv.put('dur', 'k', '{"v": 1}')});
ok($dst->poll_query_until('postgres', q{SELECT kv.get('dur', 'k') IS NOT NULL}), 'zone2 has the document');

# the tombstone's change sequence on zone1, and zone2's acknowledged cursor
my $shard = $src->safe_psql('postgres', q{SELECT shard FROM kv.key_shard('dur', 'k')});
my $table = $src->safe_psql('postgres', "SELECT table_name FROM globalkv.shards WHERE shard_id = $shard");

# 1. an acknowledgement means flushed: kill -9 right after it loses nothing,
# although the source has purged the tombstone by then (zone2's own WAL
# writer would flush only 10 s later)
$src->safe_psql('postgres', q{SELECT kv.delete('dur', 'k')});
my $tomb_seq = $src->safe_psql('postgres', "SELECT seq FROM globalkv_data.$table WHERE key = 'k'");
ok($dst->poll_query_until('postgres', q{SELECT kv.get('dur', 'k') IS NULL}), 'zone2 applied the delete');
ok($src->poll_query_until('postgres', "SELECT coalesce(max(cursor), 0) >= $tomb_seq FROM globalkv.peer_acks"
		. " WHERE peer_node_id = 2 AND shard_id = $shard"), 'zone2 acknowledged the tombstone');
crash_and_restart($dst);
is($dst->safe_psql('postgres', q{SELECT kv.get('dur', 'k') IS NULL}), 't',
	'after kill -9 zone2 still has the delete it acknowledged');
ok($src->poll_query_until('postgres', "SELECT count(*) = 0 FROM globalkv_data.$table WHERE value IS NULL"),
	'zone1 purged the acknowledged tombstone');
ok(wait_connected($dst, 1), 'zone2 reconnected after kill -9');
ok(wait_converged('dur', $src, $dst), 'zones agree: the document stays deleted everywhere');

# 2. applied, not acknowledged, lost to kill -9: zone2 pulls it again
$src->safe_psql('postgres', q{SELECT kv.put('dur', 'j', '{"v": 2}')});
ok($dst->poll_query_until('postgres', q{SELECT kv.get('dur', 'j') IS NOT NULL}), 'zone2 applied a put');
crash_and_restart($dst);
ok($dst->poll_query_until('postgres', q{SELECT kv.get('dur', 'j') = '{"v": 2}'}),
	'after kill -9 zone2 has the put (kept, or pulled again)');

# 3. kill -9 of the destination in the middle of a stream of writes
my $file = $src->basedir . '/stream.sql';
PostgreSQL::Test::Utils::append_to_file($file, q{
\set k random(1, 1000000000)
SELECT kv.put('dur', 's' || :k, format('{"k": %s}', :k));
});
my ($out, $err) = ('', '');
my $load = IPC::Run::start(
	[ 'pgbench', '-n', '-h', '127.0.0.1', '-p', $src->port, '-c', 2, '-j', 2,
	  '-T', 6, '-f', $file, 'postgres' ], '>', \$out, '2>', \$err);
my $live = q{SELECT count(*) FROM globalkv.shard_rows() WHERE namespace = 'dur' AND value IS NOT NULL};
ok($dst->poll_query_until('postgres', "SELECT ($live) > 200"), 'zone2 is applying the stream');
crash_and_restart($dst);
$load->finish;
is($load->result(0), 0, 'the writes on zone1 all succeeded') or diag($err);
my ($written) = $out =~ /number of transactions actually processed: (\d+)/;
ok($written > 100, "zone1 acknowledged $written writes");
ok(wait_connected($dst, 1), 'zone2 reconnected');
ok(wait_converged('dur', $src, $dst), 'digests identical after kill -9 mid-stream');
my $src_live = $src->safe_psql('postgres', $live);
ok($src_live >= 0.99 * $written, "zone1 holds the $written acknowledged writes (random keys: a few may repeat)");
is($dst->safe_psql('postgres', $live), $src_live, 'zone2 holds every document zone1 holds');

done_testing();
