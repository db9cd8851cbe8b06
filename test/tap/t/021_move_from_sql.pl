# 021_move_from_sql.pl -- shard moves driven by the server, from plain SQL:
#
#  1. `SELECT * FROM kv.move_shard(0, 2)` in psql on z2a (a node that is
#     neither the source nor the target) moves shard 0 of zone1 from z1a to
#     z1b while pgbench writes through z1b; a second session on z2a watches
#     it in kv.shard_moves_in_progress; no acknowledged write is lost (the
#     zones' digests agree, every key and every increment is there).
#  2. A mover whose fence stands (the switch on the target waits for a row
#     lock we hold) is killed with its psql client: the mover's backend
#     stops, the fence ends with its session on the source -- a writer it
#     held back goes through -- and running the move again resumes it.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use POSIX ();
use GkvTest;

my $conf = "synchronous_commit = on\nmax_connections = 60\n";
my @nodes = parade_2x2(8, $conf);
my ($a1, $b1, $a2, $b2) = @nodes;
$a1->safe_psql('postgres', q{SELECT kv.create_namespace('p')});
ok($_->poll_query_until('postgres', q{SELECT count(*) = 1 FROM kv.namespaces WHERE name = 'p'}),
	$_->name . ' has the namespace') foreach @nodes;
$a1->safe_psql('postgres', q{SELECT kv.put_many('p', ARRAY(SELECT 'm' || i FROM generate_series(1, 40000) i),
	ARRAY(SELECT jsonb_build_object('m', i) FROM generate_series(1, 40000) i), 'NO_EXPIRE')});

# both zones hold identical copies of namespace p (GkvTest)
sub zones_agree
{
	return wait_zones_agree('p', [ $a1, $b1 ], [ $a2, $b2 ]);
}

# live documents of namespace p whose key starts with $prefix, in a zone
sub zone_count
{
	my ($prefix, @zone_nodes) = @_;
	my $n = 0;
	$n += $_->safe_psql('postgres', qq{SELECT count(*) FROM globalkv.shard_rows() r
		JOIN kv.placements p ON p.shard_id = r.shard_id AND p.is_local
		WHERE r.namespace = 'p' AND r.key LIKE '$prefix%' AND r.value IS NOT NULL})
	  foreach @zone_nodes;
	return $n;
}

sub psql_cmd
{
	my ($node, $appname, $sql) = @_;
	return ('psql', '-XAt', '-v', 'ON_ERROR_STOP=1', '-d',
		'host=127.0.0.1 port=' . $node->port . " dbname=postgres application_name=$appname", '-c', $sql);
}

ok(zones_agree(), 'the zones agree before the moves');

# ---- 1. a move from SQL under pgbench, watched from another session -------
# Every pgbench transaction writes a key of its own ("w<client>_<n>") and
# adds 1 to a counter: with no failed transaction, the keys and the count
# are exactly the acknowledged writes.
my $script = PostgreSQL::Test::Utils::tempdir() . '/writes.sql';
open my $fh, '>', $script or die;
print $fh q{\set n :n + 1
SELECT kv.put('p', 'w' || :client_id || '_' || :n, '{"w": 1}'), kv.patch_numeric('p', 'ctr', '{"n": 1}', 'NO_EXPIRE');
};
close $fh;
my ($bout, $berr) = ('', '');
my $bench = IPC::Run::start(
	[
		'pgbench', '-n', '-h', '127.0.0.1', '-p', $b1->port, '-c', '4', '-j', '2', '-T', '20',
		'-R', '200', '-D', 'n=0', '-f', $script, 'postgres'
	],
	'>', \$bout, '2>', \$berr);
ok($b1->poll_query_until('postgres', q{SELECT kv.get('p', 'ctr') IS NOT NULL}), 'pgbench writes through z1b');

# So that the copy phase lasts long enough to be watched, z1b pulls nothing
# from z1a until the watcher has seen it; then the copy goes on.
$b1->safe_psql('postgres', q{ALTER SYSTEM SET globalkv.debug_block_pull_from = '1'; SELECT pg_reload_conf()});
ok($b1->poll_query_until('postgres',
		q{SELECT last_error LIKE '%blocked%' FROM kv.replication_status WHERE peer_node_id = 1}),
	'z1b stops pulling from z1a for a while');

my ($mout, $merr) = ('', '');
my $mover = IPC::Run::start([ psql_cmd($a2, 'mover', 'SELECT * FROM kv.move_shard(0, 2)') ],
	'>', \$mout, '2>', \$merr, IPC::Run::timeout(300));
my %phases;
my ($watched_mover, $watched_rows, $watched_copying) = (0, 0, 0);
my $blocked = 1;
my $deadline = time() + 300;
while ($mover->pumpable && time() < $deadline)
{
	foreach my $row (split /\n/, $a2->safe_psql('postgres',
		q{SELECT format('%s|%s|%s|%s|%s|%s|%s|%s', shard_id, zone_name, source_name, target_name,
		                phase, rows_copied, behind_ms, mover_pid)
		  FROM kv.shard_moves_in_progress}))
	{
		my ($shard, $zone, $src, $dst, $phase, $rows, $behind, $pid) = split /\|/, $row, -1;
		next unless $shard eq '0' && $zone eq 'zone1' && $src eq 'z1a' && $dst eq 'z1b';
		$watched_mover = 1 if $pid ne '';
		$phases{$phase} = 1 if $phase ne '';
		$watched_rows = 1 if $rows ne '';
		$watched_copying++ if $phase eq 'copying';
	}
	# seen copying a few times: let the copy go on
	if ($blocked && $watched_copying >= 3)
	{
		$b1->safe_psql('postgres', q{ALTER SYSTEM RESET globalkv.debug_block_pull_from; SELECT pg_reload_conf()});
		$blocked = 0;
	}
	$mover->pump_nb;
	select(undef, undef, undef, 0.05);
}
ok($mover->finish, 'SELECT * FROM kv.move_shard(0, 2) on z2a moves shard 0 from z1a to z1b') or diag($merr);
my ($shard, $zone, $source, $target, $state, $rows, $stall, $elapsed) = split /\|/, (split /\n/, $mout)[-1];
is("$shard $zone $source $target $state", '0 zone1 1 2 complete', 'its result row says so');
my ($stall_detail) = $merr =~ /^DETAIL:\s+(Fencing took .*)$/m;
note("move of shard 0 under pgbench: $rows rows in $elapsed ms, write stall $stall ms ("
	  . ($stall_detail // '?') . ')');
like($merr, qr/copying: .*fence: writes to shard 0 wait on z1a.*switched: z1b holds shard 0; writes were blocked for \d+ ms.*drained: .*done: shard 0 moved to z1b/s,
	'its NOTICEs report the copy, the fence, the switch, the drain and the end');
ok($watched_mover, 'a second session on z2a sees the move and its mover in kv.shard_moves_in_progress');
ok($phases{copying}, '... in its copy phase (phases seen: ' . join(', ', sort keys %phases) . ')');
ok($watched_rows, '... with the rows copied so far');
is($a2->safe_psql('postgres', 'SELECT count(*) FROM globalkv.move_status()'), '0',
	'the mover is gone once the call returns');

ok($bench->finish, 'pgbench ran with no failed transaction') or diag($berr);
my ($processed) = $bout =~ /number of transactions actually processed: (\d+)/;
note("pgbench through z1b during the move: $processed transactions; "
	  . join('; ', grep { /latency|tps|failed/ } split /\n/, $bout));
like($bout, qr/number of failed transactions: 0/, 'pgbench counts no failed transaction');
ok($processed > 0, 'pgbench wrote during the move');
ok($a2->poll_query_until('postgres', q{SELECT node_id = 2 FROM kv.placements WHERE shard_id = 0 AND zone_name = 'zone1'}),
	'z2a learns the new placement');
ok($_->poll_query_until('postgres', 'SELECT count(*) = 0 FROM kv.shard_moves_in_progress'),
	'no move is left in progress on ' . $_->name) foreach @nodes;
is($a1->safe_psql('postgres', q{SELECT count(*) FROM globalkv.shard_rows() WHERE shard_id = 0}), '0',
	'the source no longer stores the shard');
ok(zones_agree(), 'after the move both zones have identical digests');
is(zone_count('w', $a1, $b1), $processed, 'zone1 has every key pgbench wrote');
is(zone_count('w', $a2, $b2), $processed, 'zone2 has every key pgbench wrote');
is($a2->safe_psql('postgres', q{SELECT kv.get('p', 'ctr')->>'n'}), $processed,
	'the counter counts every acknowledged increment exactly once');
is(zone_count('m', $a1, $b1), 40000, 'every preloaded document is there');

# ---- 2. the mover killed while its fence stands, then resumed --------------
# On z1b, hold the placement row of shard 2 that the switch must update:
# the mover fences shard 2 on z1a, then waits for the switch.
my $key2 = $a1->safe_psql('postgres', q{SELECT k FROM generate_series(1, 1000) i,
	LATERAL (SELECT 'fz' || i AS k) x WHERE (kv.key_shard('p', k)).shard = 2 ORDER BY i LIMIT 1});
my $hold_in = "BEGIN;\nSELECT 'held' FROM globalkv.placements WHERE shard_id = 2 AND zone_name = 'zone1' FOR UPDATE;\n";
my ($hold_out, $hold_err) = ('', '');
my $holder = IPC::Run::start([ 'psql', '-XAtq', '-d', 'host=127.0.0.1 port=' . $b1->port . ' dbname=postgres application_name=holder' ],
	'<', \$hold_in, '>', \$hold_out, '2>', \$hold_err, IPC::Run::timeout(60));
$holder->pump until $hold_out =~ /held/;
ok($b1->poll_query_until('postgres',
		q{SELECT state = 'idle in transaction' FROM pg_stat_activity WHERE application_name = 'holder'}),
	'z1b: a session holds the placement row of shard 2');

my $mpid = fork();
die "fork failed" unless defined $mpid;
if ($mpid == 0)
{
	open STDOUT, '>', $a1->basedir . '/move2.out';
	open STDERR, '>&', \*STDOUT;
	exec(psql_cmd($a1, 'mover', 'SELECT * FROM kv.move_shard(2, 2)'));
	POSIX::_exit(1);
}
ok($a1->poll_query_until('postgres', q{SELECT phase = 'fenced' FROM globalkv.move_status() WHERE shard_id = 2}),
	'the mover (on z1a) fences shard 2 and waits for the switch');
ok($a1->poll_query_until('postgres', q{SELECT count(*) = 1 FROM pg_locks l JOIN pg_stat_activity a USING (pid)
	WHERE a.application_name = 'globalkv move of shard 2' AND l.mode = 'ShareLock'
	  AND l.relation = (SELECT ('globalkv_data.' || table_name)::regclass FROM globalkv.shards WHERE shard_id = 2)}),
	'the fence is a SHARE lock on the shard table, in the mover\'s session on z1a');

# a writer of shard 2 through z1a waits for the fence
my ($wout, $werr) = ('', '');
my $writer = IPC::Run::start([ psql_cmd($a1, 'fenced_writer', "SELECT kv.put('p', '$key2', '{\"fenced\": 1}')") ],
	'>', \$wout, '2>', \$werr, IPC::Run::timeout(60));
ok($a1->poll_query_until('postgres',
		q{SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE application_name = 'fenced_writer'}),
	'a write to shard 2 through z1a waits behind the fence');

kill 'KILL', $mpid;
waitpid($mpid, 0);
ok($a1->poll_query_until('postgres', 'SELECT count(*) = 0 FROM globalkv.move_status()'),
	'killing its psql client stops the backend moving shard 2');
ok( $_->poll_query_until('postgres',
		q{SELECT count(*) = 0 FROM pg_stat_activity WHERE application_name = 'globalkv move of shard 2'}),
	'... and its session on ' . $_->name . ' ends') foreach ($a1, $b1);
ok($writer->finish, 'the fence ended with it: the waiting write went through') or diag($werr);
is($b1->safe_psql('postgres', 'SELECT state FROM globalkv.move_progress(2)'), 'copying',
	'the switch did not happen: the move is still copying');

$hold_in .= "ROLLBACK;\n";
$holder->finish;
($mout, $merr) = ('', '');
ok(IPC::Run::run([ psql_cmd($a1, 'mover', 'SELECT * FROM kv.move_shard(2, 2)') ], '>', \$mout, '2>', \$merr),
	'running the move again resumes it') or diag($merr);
like($merr, qr/shard 2 of zone "zone1": z1a -> z1b \(resuming\)/, '... and says so');
like($mout, qr/^2\|zone1\|1\|2\|complete\|/m, '... to the end');
ok(zones_agree(), 'after the resumed move both zones have identical digests');
is($b1->safe_psql('postgres', "SELECT kv.get('p', '$key2')"), '{"fenced": 1}',
	'the write the fence held back is on the new holder');
is(zone_count('m', $a1, $b1), 40000, 'no document lost by the interrupted move');
is($b1->safe_psql('postgres', q{SELECT count(*) FROM (SELECT namespace, key FROM globalkv.shard_rows()
	GROUP BY 1, 2 HAVING count(*) > 1) d}), '0', 'no document duplicated');

done_testing();
