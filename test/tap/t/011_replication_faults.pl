# 011_replication_faults.pl -- replication under faults: kill -9 of a node
# during load loses no acknowledged write; a stopped peer catches up; a
# broken link is routed around (relay through the third zone); a clock far
# ahead is reported and the parade still converges; a version further ahead
# than globalkv.max_version_ahead is refused, and nothing of its batch stored.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use POSIX ();
use GkvTest;

my @nodes = (
	new_parade_node('zone1', 1),
	new_parade_node('zone2', 2, conf => "synchronous_commit = on\n"),
	new_parade_node('zone3', 3, conf => "globalkv.debug_clock_offset = 3600000\n"));
my ($n1, $n2, $n3) = @nodes;
join_parade(\@nodes, @nodes);
ok(wait_connected($_, 2), $_->name . ' connected') foreach @nodes;
$n1->safe_psql('postgres', q{SELECT kv.create_namespace('f')});
ok($_->poll_query_until('postgres', q{SELECT count(*) = 1 FROM kv.namespaces WHERE name = 'f'}),
	'namespace everywhere') foreach ($n2, $n3);

# ---- 1. kill -9 of zone2 while it takes writes ----------------------------
# a client writes numbered keys to zone2 one by one and logs each key the
# server acknowledged; zone1 writes at the same time
my $acked_file = $n2->basedir . '/acked.txt';
my $pid = fork();
die "fork failed" unless defined $pid;
if ($pid == 0)
{
	for my $i (1 .. 100000)
	{
		my $rc = system('psql', '-XAtq', '-h', '127.0.0.1', '-p', $n2->port, '-d', 'postgres',
			'-c', "SELECT kv.put('f', 'ack$i', '{\"i\": $i}')");
		last if $rc != 0;
		open my $fh, '>>', $acked_file or POSIX::_exit(1);
		print $fh "ack$i\n";
		close $fh;
	}
	# _exit: the test framework's END blocks must not run in the child
	POSIX::_exit(0);
}
my ($rc1, $out1, $err1) = pgbench_run($n1, 2, 200, q{
\set k random(1, 50)
SELECT kv.patch_numeric('f', 'c' || :k, '{"n": 1}');
});
is($rc1, 0, 'zone1 load ran') or diag($err1);
# let zone2 acknowledge some writes, then kill it
ok( poll_until(sub { -e $acked_file && (() = slurp_file($acked_file) =~ /\n/g) >= 30 }),
	'zone2 acknowledged writes');
kill9_and_wait($n2);
waitpid($pid, 0);
my @acked = split /\n/, slurp_file($acked_file);
note(scalar(@acked) . ' writes acknowledged by zone2 before kill -9');
ok(start_after_crash($n2), 'zone2 restarted after kill -9');
my $keys = join(',', map { "'$_'" } @acked);
is( $n2->safe_psql('postgres', "SELECT count(value) FROM kv.get_many('f', ARRAY[$keys])"),
	scalar(@acked), 'every acknowledged write survived kill -9 on zone2');
ok(wait_connected($n2, 2), 'zone2 reconnected to its peers');
# zone2 takes no new write after the restart: its backlog must flow anyway
ok( $n1->poll_query_until('postgres', "SELECT count(value) = " . scalar(@acked)
		. " FROM kv.get_many('f', ARRAY[$keys])"),
	'zone1 receives every write zone2 acknowledged before the crash');
ok(wait_converged('f', @nodes), 'parade converged after the crash');
is( $n1->safe_psql('postgres', "SELECT count(value) FROM kv.get_many('f', ARRAY[$keys])"),
	scalar(@acked), 'zone1 has every write zone2 acknowledged');
is( $n3->safe_psql('postgres',
		q{SELECT sum((value->>'n')::int) FROM kv.get_many('f', (SELECT array_agg('c' || i) FROM generate_series(1, 50) i))}),
	'400', "zone3 counts all of zone1's increments");

# ---- 2. a peer stopped for a while catches up -----------------------------
$n3->stop;
$n1->safe_psql('postgres', q{
	SELECT count(*) FROM kv.put_many('f', (SELECT array_agg('away' || i) FROM generate_series(1, 2000) i),
	                                      (SELECT array_agg(jsonb_build_object('i', i)) FROM generate_series(1, 2000) i));
	SELECT kv.delete('f', 'ack1');
	SELECT kv.patch_numeric('f', 'c1', '{"n": 100}');
});
$n2->safe_psql('postgres', q{SELECT kv.put('f', 'from-zone2', '{"while": "zone3 away"}')});
# zone1 and zone2 show zone3 as disconnected
ok( $n1->poll_query_until('postgres',
		q{SELECT NOT connected AND last_error IS NOT NULL FROM kv.replication_status WHERE peer_node_id = 3}),
	'zone1 reports zone3 down with its error');
$n3->start;
ok(wait_converged('f', @nodes), 'zone3 caught up after its restart');
is($n3->safe_psql('postgres', q{SELECT kv.get('f', 'ack1') IS NULL}), 't', 'the delete reached zone3');
is($n3->safe_psql('postgres', q{SELECT kv.get('f', 'from-zone2')}), '{"while": "zone3 away"}',
	"zone2's write reached zone3");

# ---- 3. a broken link is routed around --------------------------------------
# zone1 and zone3 stop pulling from each other: changes must relay via zone2
$n1->append_conf('postgresql.conf', "globalkv.debug_block_pull_from = '3'\n");
$n3->append_conf('postgresql.conf', "globalkv.debug_block_pull_from = '1'\n");
$n1->reload;
$n3->reload;
ok( $n1->poll_query_until('postgres',
		q{SELECT last_error LIKE '%blocked%' FROM kv.replication_status WHERE peer_node_id = 3}),
	'link zone3 -> zone1 is broken');
ok( $n3->poll_query_until('postgres',
		q{SELECT last_error LIKE '%blocked%' FROM kv.replication_status WHERE peer_node_id = 1}),
	'link zone1 -> zone3 is broken');
$n1->safe_psql('postgres', q{SELECT kv.put('f', 'relay-1to3', '{"via": "zone2"}')});
$n3->safe_psql('postgres', q{SELECT kv.put('f', 'relay-3to1', '{"via": "zone2"}')});
ok($n3->poll_query_until('postgres', q{SELECT kv.get('f', 'relay-1to3') IS NOT NULL}),
	'a write in zone1 reaches zone3 through zone2');
ok($n1->poll_query_until('postgres', q{SELECT kv.get('f', 'relay-3to1') IS NOT NULL}),
	'a write in zone3 reaches zone1 through zone2');
is($n3->safe_psql('postgres', q{SELECT origin FROM kv.get_versioned('f', 'relay-1to3') v,
	LATERAL (SELECT split_part(v.version, ':', 2)::int AS origin) o}), '1',
	'the relayed row keeps its origin');
ok(wait_converged('f', @nodes), 'converged with one link down');

# ---- 4. clock skew: zone3's clock runs an hour ahead ------------------------
$n3->safe_psql('postgres', q{SELECT kv.put('f', 'skewed', '{"by": "zone3"}')});
ok( $n1->poll_query_until('postgres',
		q{SELECT max_clock_skew_ms > 3000000 FROM kv.replication_status WHERE peer_node_id = 2}),
	'zone1 reports the skewed clock (relayed through zone2)');
my $log1 = slurp_file($n1->logfile);
like($log1, qr/ms ahead of this node's clock/, 'zone1 logs a clock skew warning');
# a later write in zone1 still wins: its clock moved past the skewed version
ok($n1->poll_query_until('postgres', q{SELECT kv.get('f', 'skewed') IS NOT NULL}), 'skewed write arrived');
$n1->safe_psql('postgres', q{SELECT kv.put('f', 'skewed', '{"by": "zone1, later"}')});
ok(wait_converged('f', @nodes), 'converged despite the skew');
is($n3->safe_psql('postgres', q{SELECT kv.get('f', 'skewed')}), '{"by": "zone1, later"}',
	'the causally later write wins everywhere');

# ---- 5. a version too far ahead is refused ------------------------------------
# zone2 takes versions at most 30 minutes ahead; zone3 (and every node it
# dragged along) writes an hour ahead: zone2 refuses those batches, stores
# nothing of them, and says why -- until the limit is raised
# (zone2 pulls nothing while the row is written, then takes the limit and
# its peers back in one reload: its workers see both at once)
$n2->safe_psql('postgres', q{ALTER SYSTEM SET globalkv.debug_block_pull_from = '1,3'; SELECT pg_reload_conf()});
ok($n2->poll_query_until('postgres', q{SELECT count(*) FILTER (WHERE connected) = 0 FROM kv.replication_status}),
	'zone2 pulls from nobody for a moment');
$n3->safe_psql('postgres', q{SELECT kv.put('f', 'too-far', '{"by": "zone3"}')});
$n2->safe_psql('postgres', q{ALTER SYSTEM RESET globalkv.debug_block_pull_from;
	ALTER SYSTEM SET globalkv.max_version_ahead = '30min'; SELECT pg_reload_conf()});
ok($n2->poll_query_until('postgres',
		q{SELECT count(*) > 0 FROM kv.replication_status WHERE peer_node_id = 3 AND last_error LIKE '%ahead of this node%max_version_ahead%'}),
	'zone2 refuses the rows of zone3, saying how far ahead they are and which setting');
is($n2->safe_psql('postgres', q{SELECT kv.get('f', 'too-far') IS NULL}), 't', 'zone2 stored nothing of it');
like(slurp_file($n2->logfile), qr/sent a version \d+ s ahead of this node's clock/, 'zone2 logs the refusal');
$n2->safe_psql('postgres', q{ALTER SYSTEM RESET globalkv.max_version_ahead; SELECT pg_reload_conf()});
ok(wait_converged('f', @nodes), 'with the limit raised, zone2 catches up (and relays the row to zone1)');
is($n1->safe_psql('postgres', q{SELECT kv.get('f', 'too-far')}), '{"by": "zone3"}', 'zone1 has it too');

$_->stop foreach @nodes;
done_testing();

# poll_until(code): until code returns true, at most ~60 s
sub poll_until
{
	my ($code) = @_;
	for (1 .. 600)
	{
		return 1 if $code->();
		select(undef, undef, undef, 0.1);
	}
	return 0;
}
