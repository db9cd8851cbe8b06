# 020_sharding.pl -- a parade of 2 zones x 2 nodes with shards spread over
# the nodes of each zone: server-side routing from every node gives the
# answers of direct access; remote errors keep their SQLSTATE and name the
# node; a stale shard map is refused with GK017; a node killed with -9 under
# load fails over to the other zone and converges after restart; a shard
# moves online under concurrent writes (`globalkv shard move`, which calls
# kv.move_shard), and a mover killed mid-way -- its client killed with -9,
# so that the backend driving the move stops and its sessions on the
# source and the target end -- can be rolled back or resumed without
# losing or duplicating a document.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use POSIX ();
use GkvTest;

my $shards = 8;
my $conf = "synchronous_commit = on\nmax_connections = 60\n";
my @nodes = parade_2x2($shards, $conf);
my ($a1, $b1, $a2, $b2) = @nodes;
$a1->safe_psql('postgres', q{SELECT kv.create_namespace('r')});
ok($_->poll_query_until('postgres', q{SELECT count(*) = 1 FROM kv.namespaces WHERE name = 'r'}),
	$_->name . ' has the namespace') foreach @nodes;

my %holds = map { $_->name => $_->safe_psql('postgres',
		q{SELECT string_agg(shard_id::text, ',' ORDER BY shard_id) FROM kv.placements WHERE is_local}) } @nodes;
is($holds{z1a}, '0,2,4,6', 'z1a holds the even shards of zone1');
is($holds{z2b}, '1,3,5,7', 'z2b holds the odd shards of zone2');
my @maps = map { $_->safe_psql('postgres',
		q{SELECT string_agg(l, E'\n' ORDER BY l) FROM regexp_split_to_table(kv.shard_map(), E'\n') l WHERE l LIKE 'placement%' OR l LIKE 'node%'}) } @nodes;
is(scalar(grep { $_ eq $maps[0] } @maps), 4, 'every node serves the same shard map');

# the zone's holder of a key, and a direct read there
sub holder_of
{
	my ($zone_nodes, $key) = @_;
	my $shard = $zone_nodes->[0]->safe_psql('postgres', "SELECT (kv.key_shard('r', '$key')).shard");
	return $zone_nodes->[$shard % 2];
}

# both zones hold identical copies of namespace ns (GkvTest)
sub zones_agree
{
	my ($ns) = @_;
	return wait_zones_agree($ns, [ $a1, $b1 ], [ $a2, $b2 ]);
}

# ---- 1. routing from every node = direct access ---------------------------
for my $i (1 .. 120)
{
	my $via = $nodes[$i % 4];
	$via->safe_psql('postgres', "SELECT kv.put('r', 'k$i', '{\"i\": $i}')");
}
$a1->safe_psql('postgres', q{SELECT kv.put_many('r', ARRAY(SELECT 'b' || i FROM generate_series(1, 50) i),
	ARRAY(SELECT jsonb_build_object('b', i) FROM generate_series(1, 50) i), 'NO_EXPIRE')});
my $expect = join("\n", map { "{\"i\": $_}" } 1 .. 120);
foreach my $n (@nodes)
{
	is($n->safe_psql('postgres', "SELECT string_agg(kv.get('r', 'k' || i)::text, E'\\n' ORDER BY i) FROM generate_series(1, 120) i"),
		$expect, 'every key read through ' . $n->name . ' (routed)');
	is($n->safe_psql('postgres', q{SELECT count(*) FROM kv.get_many('r', ARRAY(SELECT 'b' || i FROM generate_series(1, 50) i)) g
		WHERE g.value = jsonb_build_object('b', substr(g.key, 2)::int)}), '50',
		'get_many through ' . $n->name . ' returns every batch key, in order');
}
my $direct_ok = 1;
for my $i (1 .. 120)
{
	my $h = holder_of([ $a1, $b1 ], "k$i");
	my $v = $h->safe_psql('postgres', "SET globalkv.routing = direct; SELECT kv.get('r', 'k$i')");
	$direct_ok = 0 unless $v eq "{\"i\": $i}";
}
ok($direct_ok, 'direct reads on each holder give the same answers');
is($a1->safe_psql('postgres', q{SELECT count(*) FROM globalkv.shard_rows() r
	JOIN kv.placements p ON p.shard_id = r.shard_id AND p.zone_name = 'zone1' AND NOT p.is_local}), '0',
	'a node stores no document of a shard it does not hold');
ok(zones_agree('r'), 'both zones converge to the same documents');

# the client library (through the CLI) and the server agree on every key
my $seed1 = 'host=127.0.0.1 port=' . $b2->port . ' dbname=postgres user=' . getpwuid($<);
my ($lout, $lerr);
IPC::Run::run([ 'globalkv', 'shard-of', '-d', $seed1, '--zone', 'zone1', 'r', map {"k$_"} 1 .. 120 ],
	'>', \$lout, '2>', \$lerr);
my $server = $a1->safe_psql('postgres', q{SELECT string_agg('k' || i || E'\t' || (kv.key_shard('r', 'k' || i)).hash
	|| E'\t' || (kv.key_shard('r', 'k' || i)).shard || E'\t' || p.node_name, E'\n' ORDER BY i)
	FROM generate_series(1, 120) i
	JOIN kv.placements p ON p.shard_id = (kv.key_shard('r', 'k' || i)).shard AND p.zone_name = 'zone1'});
chomp $lout;
is($lout, $server, 'the client library and the server agree on every key\'s hash, shard and holder');
IPC::Run::run([ 'globalkv', 'get', '-d', $seed1, '--zone', 'zone1', 'r', 'k7' ], '>', \$lout, '2>', \$lerr);
is($lout, qq({"i": 7}\n), 'a library read seeded from zone2 is served in zone1');

# ---- 2. errors and the stale-map path -------------------------------------
my $b_key = (grep { holder_of([ $a1, $b1 ], $_)->name eq 'z1b' } map {"k$_"} 1 .. 20)[0];
$a1->safe_psql('postgres', "SELECT kv.put('r', 'txt', '{\"n\": \"text\"}')");
my $txt_holder = holder_of([ $a1, $b1 ], 'txt');
my $other = $txt_holder->name eq 'z1a' ? $b1 : $a1;
my ($rc, $out, $err) = $other->psql('postgres', q{SELECT kv.patch_numeric('r', 'txt', '{"n": 1}', 'NO_EXPIRE')},
	extra_params => [ '-v', 'VERBOSITY=verbose' ]);
like($err, qr/GK008/, 'an error raised on the holder comes back with its SQLSTATE');
like($err, qr/node "${\ $txt_holder->name}"/, '... and names the node');
($rc, $out, $err) = $a1->psql('postgres', "SET globalkv.routing = direct; SELECT kv.get('r', '$b_key')",
	extra_params => [ '-v', 'VERBOSITY=verbose' ]);
like($err, qr/GK017.*does not hold shard/s, 'direct mode refuses a shard held elsewhere (stale map)');
like($err, qr/"z1b"/, '... naming the holder');
$a1->safe_psql('postgres', "BEGIN; SELECT kv.put('r', '$b_key', '{\"rolled\": 1}'); ROLLBACK;");
is($a1->safe_psql('postgres', "SELECT kv.get('r', '$b_key')"),
	'{"i": ' . substr($b_key, 1) . '}', 'a forwarded write inside a rolled-back transaction is undone');

# savepoints: forwarded writes follow ROLLBACK TO and RELEASE, and a
# PL/pgSQL block that catches an error undoes its forwarded writes
my @b_keys = (grep { holder_of([ $a1, $b1 ], $_)->name eq 'z1b' } map {"sp$_"} 1 .. 60)[ 0 .. 4 ];
$a1->safe_psql('postgres', qq{
	BEGIN;
	SELECT kv.put('r', '$b_keys[0]', '{"kept": 0}');
	SAVEPOINT a;
	SELECT kv.put('r', '$b_keys[1]', '{"undone": 1}');
	SAVEPOINT b;
	SELECT kv.put('r', '$b_keys[2]', '{"undone": 2}');
	ROLLBACK TO SAVEPOINT a;
	SAVEPOINT c;
	SELECT kv.put('r', '$b_keys[3]', '{"kept": 3}');
	RELEASE SAVEPOINT c;
	DO \$\$ BEGIN
		PERFORM kv.put('r', '$b_keys[4]', '{"undone": 4}');
		RAISE EXCEPTION 'caught';
	EXCEPTION WHEN raise_exception THEN NULL;
	END \$\$;
	COMMIT;
});
is( $b1->safe_psql('postgres',
		"SELECT string_agg(key || '=' || coalesce(kv.get('r', key)::text, 'none'), ' ' ORDER BY key)"
		  . " FROM unnest(ARRAY['" . join("','", @b_keys) . "']) key"),
	join(' ', map { $_ . '=' . ({ $b_keys[0] => '{"kept": 0}', $b_keys[3] => '{"kept": 3}' }->{$_} // 'none') }
		sort @b_keys),
	'savepoints on the holder follow the caller\'s: rolled back there too, released and committed');
$a1->safe_psql('postgres', "BEGIN; SELECT kv.put('r', 'txc', '{\"c\": 1}'); SELECT kv.put('r', '$b_key', '{\"i\": 0}'); COMMIT;");
is($b1->safe_psql('postgres', "SET globalkv.routing = direct; SELECT kv.get('r', '$b_key')"), '{"i": 0}',
	'a forwarded write inside a committed transaction is committed on its holder');
$a1->safe_psql('postgres', "SELECT kv.put('r', '$b_key', '{\"i\": " . substr($b_key, 1) . "}')");

# ---- 3. kill -9 of a node under load: failover and convergence ------------
my $acked_file = $a1->basedir . '/acked.txt';
my $pid = fork();
die "fork failed" unless defined $pid;
if ($pid == 0)
{
	for my $i (1 .. 100000)
	{
		my $rc = system('psql', '-XAtq', '-h', '127.0.0.1', '-p', $a1->port, '-d', 'postgres',
			'-c', "SELECT kv.put('r', 'f$i', '{\"f\": $i}')");
		open my $fh, '>>', $acked_file or POSIX::_exit(1);
		print $fh ($rc == 0 ? "ok f$i\n" : "fail f$i\n");
		close $fh;
		last if -e "$acked_file.stop";
	}
	POSIX::_exit(0);
}
sub acked_count
{
	open my $fh, '<', $acked_file or return 0;
	my @l = <$fh>;
	return scalar @l;
}
for (1 .. 600) { last if acked_count() >= 40; select(undef, undef, undef, 0.05); }
kill9_and_wait($b1);
my $at_kill = acked_count();
for (1 .. 600) { last if acked_count() >= $at_kill + 80; select(undef, undef, undef, 0.05); }
ok(acked_count() >= $at_kill + 80, 'writes go on while z1b is down');
start_after_crash($b1);
for (1 .. 600) { last if acked_count() >= $at_kill + 120; select(undef, undef, undef, 0.05); }
open my $stop, '>', "$acked_file.stop"; close $stop;
waitpid($pid, 0);
open my $afh, '<', $acked_file or die;
my @lines = <$afh>;
close $afh;
my @acked = map { /^ok (\S+)/ ? $1 : () } @lines;
my @failed = map { /^fail (\S+)/ ? $1 : () } @lines;
is(scalar(@failed), 0, 'no write failed: calls for z1b\'s shards failed over to zone2');
ok(wait_connected($b1, 3), 'z1b reconnects after restart');
ok(zones_agree('r'), 'zones converge after the restart');
my $list = join(',', map {"'$_'"} @acked);
foreach my $n ($b1, $a2)
{
	is($n->safe_psql('postgres', "SELECT count(*) FROM unnest(ARRAY[$list]) k WHERE kv.get('r', k) IS NOT NULL"),
		scalar(@acked), 'every acknowledged write is readable through ' . $n->name);
}

# ---- 4. online shard move under concurrent writes -------------------------
my $seed = 'host=127.0.0.1 port=' . $a1->port . ' dbname=postgres user=' . getpwuid($<);
$a1->safe_psql('postgres', q{SELECT kv.put_many('r', ARRAY(SELECT 'm' || i FROM generate_series(1, 20000) i),
	ARRAY(SELECT jsonb_build_object('m', i) FROM generate_series(1, 20000) i), 'NO_EXPIRE')});
my $writer_file = $a1->basedir . '/mw.txt';
$pid = fork();
die "fork failed" unless defined $pid;
if ($pid == 0)
{
	# writes through both nodes of zone1: each forwards the other's
	# shards, and follows shard 0 to its new holder
	for my $i (1 .. 100000)
	{
		my $via = $i % 2 ? $b1 : $a1;
		my $rc = system('psql', '-XAtq', '-h', '127.0.0.1', '-p', $via->port, '-d', 'postgres',
			'-c', "SELECT kv.put('r', 'w$i', '{\"w\": $i}'), kv.patch_numeric('r', 'ctr', '{\"n\": 1}', 'NO_EXPIRE')");
		open my $fh, '>>', $writer_file or POSIX::_exit(1);
		print $fh ($rc == 0 ? "ok w$i\n" : "fail w$i\n");
		close $fh;
		last if -e "$writer_file.stop";
	}
	POSIX::_exit(0);
}
my ($mout, $merr);
my $moved = IPC::Run::run([ 'globalkv', 'shard', 'move', '0', '--to', 'z1b', '-d', $seed ],
	'>', \$mout, '2>', \$merr);
ok($moved, 'globalkv shard move 0 --to z1b succeeds under writes') or diag($mout . $merr);
like($mout, qr/copying:.*\n.*switched: z1b holds shard 0; writes were blocked for \d+ ms/s, 'the move shows progress and the stall');
select(undef, undef, undef, 1.0);
open $stop, '>', "$writer_file.stop"; close $stop;
waitpid($pid, 0);
open my $wfh, '<', $writer_file or die;
@lines = <$wfh>;
close $wfh;
my @wacked = map { /^ok (\S+)/ ? $1 : () } @lines;
is(scalar(grep {/^fail/} @lines), 0, 'no write failed during the move');
ok($a1->poll_query_until('postgres', q{SELECT node_id = 2 FROM kv.placements WHERE shard_id = 0 AND zone_name = 'zone1'}),
	'every node learns the new placement');
is($a1->safe_psql('postgres', q{SELECT count(*) FROM globalkv.shard_rows() WHERE shard_id = 0}), '0',
	'the source no longer stores the shard');
ok(zones_agree('r'), 'after the move both zones have identical digests');
$list = join(',', map {"'$_'"} @wacked);
is($b2->safe_psql('postgres', "SELECT count(*) FROM unnest(ARRAY[$list]) k WHERE kv.get('r', k) IS NOT NULL"),
	scalar(@wacked), 'every write acknowledged during the move is there');
is($a1->safe_psql('postgres', q{SELECT kv.get('r', 'ctr')->>'n'}), scalar(@wacked),
	'the counter counts every acknowledged increment exactly once');
is($b1->safe_psql('postgres', q{SELECT count(*) FROM kv.get_many('r', ARRAY(SELECT 'm' || i FROM generate_series(1, 20000) i)) WHERE value IS NOT NULL}),
	'20000', 'every preloaded document is there after the move');

# ---- 5. the mover killed mid-way: roll back, then resume -------------------
sub start_move_and_kill
{
	my ($shard, $to) = @_;
	my $out = $a1->basedir . "/move$shard.out";
	my $mpid = fork();
	die "fork failed" unless defined $mpid;
	if ($mpid == 0)
	{
		open STDOUT, '>', $out;
		exec('globalkv', 'shard', 'move', $shard, '--to', $to, '-d', $seed);
		POSIX::_exit(1);
	}
	my $target = $to eq 'z1a' ? $a1 : $b1;
	$target->poll_query_until('postgres', "SELECT state = 'copying' FROM globalkv.move_progress($shard)");
	kill 'KILL', $mpid;
	waitpid($mpid, 0);

	# the move is driven by a backend of z1a (the CLI's -d node): it finds
	# its client gone and stops, and its sessions on the source and the
	# target (where a fence would stand) end with it
	ok($a1->poll_query_until('postgres', 'SELECT count(*) = 0 FROM globalkv.move_status()'),
		"the backend moving shard $shard stops when its client is killed");
	ok( $_->poll_query_until('postgres',
			"SELECT count(*) = 0 FROM pg_stat_activity WHERE application_name = 'globalkv move of shard $shard'"),
		'... and its session on ' . $_->name . ' ends') foreach ($a1, $b1);
}
start_move_and_kill(2, 'z1b');
is($b1->safe_psql('postgres', 'SELECT state FROM globalkv.move_progress(2)'), 'copying',
	'a killed mover leaves the move in its copy phase');
($moved) = IPC::Run::run([ 'globalkv', 'shard', 'move', '2', '--to', 'z1b', '--rollback', '-d', $seed ],
	'>', \$mout, '2>', \$merr);
ok($moved, 'the interrupted move rolls back') or diag($merr);
is($b1->safe_psql('postgres', q{SELECT count(*) FROM globalkv.shard_rows() WHERE shard_id = 2}), '0',
	'rollback leaves nothing on the target');
is($b1->safe_psql('postgres', q{SELECT node_id FROM kv.placements WHERE shard_id = 2 AND zone_name = 'zone1'}), '1',
	'rollback leaves the shard where it was');
start_move_and_kill(4, 'z1b');
$moved = IPC::Run::run([ 'globalkv', 'shard', 'move', '4', '--to', 'z1b', '-d', $seed ], '>', \$mout, '2>', \$merr);
ok($moved, 'the interrupted move resumes') or diag($merr);
like($mout, qr/resuming/, '... and says so');
ok(zones_agree('r'), 'after the resumed move both zones have identical digests');
is($a1->safe_psql('postgres', q{SELECT count(*) FROM kv.get_many('r', ARRAY(SELECT 'm' || i FROM generate_series(1, 20000) i)) WHERE value IS NOT NULL}),
	'20000', 'no document lost by the interrupted moves');
is($b1->safe_psql('postgres', q{SELECT count(*) FROM (SELECT namespace, key FROM globalkv.shard_rows() GROUP BY 1, 2 HAVING count(*) > 1) d}),
	'0', 'no document duplicated');

# ---- 6. a shard moved back where it came from, then a rebalance ----------
my $back = $a1->safe_psql('postgres', q{SELECT k FROM generate_series(1, 1000) i, LATERAL (SELECT 'back' || i AS k) x
	WHERE (kv.key_shard('r', k)).shard = 0 ORDER BY i LIMIT 1});
$b1->safe_psql('postgres', "SELECT kv.put('r', '$back', '{\"b\": 1}')");
$moved = IPC::Run::run([ 'globalkv', 'shard', 'move', '0', '--to', 'z1a', '-d', $seed ], '>', \$mout, '2>', \$merr);
ok($moved, 'shard 0 moves back to z1a, where it came from') or diag($merr);
my $all_m = q{SELECT count(*) FROM kv.get_many('r', ARRAY(SELECT 'm' || i FROM generate_series(1, 20000) i)) WHERE value IS NOT NULL};
is($b2->safe_psql('postgres', $all_m), '20000', 'nothing lost by the move back');
is($a1->safe_psql('postgres', "SELECT count(*) FROM globalkv.shard_rows() WHERE shard_id = 0 AND key = '$back'"), '1',
	'a write made while the shard was away is on z1a after the move back');
$moved = IPC::Run::run([ 'globalkv', 'rebalance', '--zone', 'zone1', '-d', $seed ], '>', \$mout, '2>', \$merr);
ok($moved, 'globalkv rebalance succeeds') or diag($merr);
like($mout, qr/zone zone1 is balanced \(1 move\)/, 'rebalance makes the one move needed');
ok($a1->poll_query_until('postgres', q{SELECT max(c) - min(c) <= 1 FROM (SELECT count(*) c FROM kv.placements
	WHERE zone_name = 'zone1' GROUP BY node_id) x}), 'zone1 nodes hold 4 shards each');
ok(zones_agree('r'), 'after the move back and the rebalance both zones have identical digests');
is($a1->safe_psql('postgres', $all_m), '20000', 'and every document is there');

done_testing();
