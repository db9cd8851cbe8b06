# 025_echo_suppression.pl -- a pull leaves out the rows the puller already
# holds (src/replication/coverage.c, docs/replication.md "Echoes"), and
# leaving them out loses nothing:
#
#  1. a node's own writes do not come back to it: after 600 puts on zone1,
#     zone1 has applied (almost) nothing from zone2 and zone3, which before
#     sent every one of them back;
#  2. a row with counter state always travels: zone1 and zone2 increment
#     the same counter while zone1 cannot pull; zone2's row then carries
#     zone1's version but also zone2's increment, and zone1 must get it;
#  3. own writes a crash took from the writer come back from the peers that
#     pulled them (rows at or below the coverage floor always travel):
#     zone1 commits puts without flushing them, zone2 pulls them, zone1 is
#     killed with -9 and loses them, and after its restart has them again;
#  4. a kv.resync() on zone1 (which removes old rows) raises the floor: the
#     peers send everything again and zone1 ends with every document.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use GkvTest;

# zone1 flushes its WAL rarely, so that an unflushed commit stays unflushed
my @nodes = (
	new_parade_node('zone1', 1, conf => q{
wal_writer_delay = 10s
wal_writer_flush_after = 1GB
}),
	new_parade_node('zone2', 2),
	new_parade_node('zone3', 3));
my ($z1, $z2, $z3) = @nodes;
join_parade(\@nodes, @nodes);
ok(wait_connected($_, 2), $_->name . ' pulls from both peers') foreach @nodes;

$z1->safe_psql('postgres', q{SELECT kv.create_namespace('echo')});
ok($_->poll_query_until('postgres', q{SELECT count(*) = 1 FROM kv.namespaces WHERE name = 'echo'}),
	'namespace reached ' . $_->name) foreach ($z2, $z3);

my $applied_from_peers =
  q{SELECT coalesce(sum(rows_applied), 0) FROM kv.replication_status WHERE peer_node_id IN (2, 3)};

# 1. echoes are left out
my $before = $z1->safe_psql('postgres', $applied_from_peers);
my ($rc, $out, $err) = pgbench_run($z1, 2, 300, q{
\set k random(1, 100000000)
SELECT kv.put('echo', 'p' || :k::text, format('{"k": %s, "s": "text"}', :k::int));
});
is($rc, 0, 'zone1 acknowledged 600 puts') or diag($err);
ok(wait_converged('echo', @nodes), 'the three zones agree');
my $echoes = $z1->safe_psql('postgres', $applied_from_peers) - $before;
# before: >= 1200 (each put came back from both peers); what may still come
# is a round already in flight when a put committed
cmp_ok($echoes, '<', 120, "zone1 applied $echoes rows from its peers for its own 600 puts");

# 2. counter state always travels
sub block_pulls
{
	my ($node, $ids) = @_;
	$node->safe_psql('postgres',
		$ids eq '' ? 'ALTER SYSTEM RESET globalkv.debug_block_pull_from; SELECT pg_reload_conf()'
		: "ALTER SYSTEM SET globalkv.debug_block_pull_from = '$ids'; SELECT pg_reload_conf()");
}
block_pulls($z1, '2,3');
ok($z1->poll_query_until('postgres',
		q{SELECT count(*) FILTER (WHERE connected) = 0 FROM kv.replication_status}),
	'zone1 pulls from nobody');
$z2->safe_psql('postgres', q{SELECT kv.patch_numeric('echo', 'ctr', '{"n": 1}')});
# zone1's increment comes later, so its version is the greater one
$z1->safe_psql('postgres', q{SELECT pg_sleep(0.01); SELECT kv.patch_numeric('echo', 'ctr', '{"n": 10}')});
ok($z2->poll_query_until('postgres', q{SELECT kv.get('echo', 'ctr') = '{"n": 11}'}),
	'zone2 merged both increments');
is($z2->safe_psql('postgres', q{SELECT split_part(version, ':', 2) FROM kv.get_versioned('echo', 'ctr')}), '1',
	"zone2's counter row carries zone1's version");
block_pulls($z1, '');
ok($z1->poll_query_until('postgres', q{SELECT kv.get('echo', 'ctr') = '{"n": 11}'}),
	"zone1 got zone2's increment through a row carrying its own version");
ok(wait_converged('echo', @nodes), 'the three zones agree on the counter');

# 3. own writes lost to a crash come back from the peers.  First let the
# acknowledgement due after part 2 pass: it flushes zone1's WAL
$z1->safe_psql('postgres', q{SELECT pg_sleep(1.5)});
# A flush by the WAL writer (every 10 s here) or by an acknowledgement (every
# 30 s when idle) between the puts and the kill would keep them all: then
# the round is tried again, at most three times.
my $took = 0;
for (my $round = 1; $round <= 3 && !$took; $round++)
{
	$z1->safe_psql('postgres', q{ALTER SYSTEM SET synchronous_commit = off; SELECT pg_reload_conf()});
	($rc, $out, $err) = pgbench_run($z1, 1, 50, qq{
\\set k random(1, 100000000)
SELECT kv.put('echo', 'lost$round.' || :k::text, format('{"k": %s}', :k::int));
});
	is($rc, 0, "round $round: zone1 acknowledged 50 puts without flushing them") or diag($err);
	my $count = "SELECT count(*) FROM globalkv.shard_rows() WHERE namespace = 'echo' AND key LIKE 'lost$round.%'";
	ok($z2->poll_query_until('postgres', "SELECT ($count) = 50"), "round $round: zone2 pulled the 50 puts");
	kill9_and_wait($z1);
	# after the restart zone1 pulls from nobody until we have looked at what it kept
	$z1->append_conf('postgresql.conf', "globalkv.debug_block_pull_from = '2,3'\nsynchronous_commit = on\n");
	start_after_crash($z1);
	$z1->safe_psql('postgres', 'ALTER SYSTEM RESET synchronous_commit; SELECT pg_reload_conf()');
	my $kept = $z1->safe_psql('postgres', $count);
	$took = $kept < 50;
	note("round $round: zone1 kept $kept of its 50 unflushed puts");
	$z1->append_conf('postgresql.conf', "globalkv.debug_block_pull_from = ''\n");
	$z1->reload;
	ok($z1->poll_query_until('postgres', "SELECT ($count) = 50"),
		"round $round: zone1 has all 50 again: its peers sent back what the crash took");
}
ok($took, 'the crash took puts from zone1 in one of the rounds');
ok(wait_converged('echo', @nodes), 'the three zones agree after the crash');

# 4. kv.resync() raises the floor: everything comes again
my $total = $z2->safe_psql('postgres',
	q{SELECT count(*) FROM globalkv.shard_rows() WHERE namespace = 'echo'});
# a retention of 1 s: every row of the namespace is older than that
$z1->safe_psql('postgres', q{ALTER SYSTEM SET globalkv.tombstone_retention = '1s'; SELECT pg_reload_conf()});
$z1->safe_psql('postgres', q{SELECT pg_sleep(1.5)});
my $removed = $z1->safe_psql('postgres', q{SELECT kv.resync()});
$z1->safe_psql('postgres', q{ALTER SYSTEM RESET globalkv.tombstone_retention; SELECT pg_reload_conf()});
cmp_ok($removed, '>=', $total, "kv.resync() removed every row of the namespace ($removed rows)");
ok($z1->poll_query_until('postgres',
		"SELECT count(*) = $total FROM globalkv.shard_rows() WHERE namespace = 'echo'"),
	"after kv.resync() zone1 holds all $total rows again, its own writes included");
ok(wait_converged('echo', @nodes), 'the three zones agree after the resync');

done_testing();
