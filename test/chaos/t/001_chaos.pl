# 001_chaos.pl -- the fault harness (issue #12): a parade of three zones
# (zone1 with two nodes), one client doing random puts, deletes, CAS,
# increments and TTL puts on every node, every acknowledged operation
# recorded, and faults injected between operations:
#
#   kill9    kill -9 a node, go on without it, restart it
#   drop     its loopback proxy closes every peer connection and refuses new
#            ones (clients still reach it), then heals
#   stall    its proxy keeps the peer connections but forwards nothing
#   delay    its proxy holds every chunk 30 ms
#   clock    a node restarts with its wall clock moved by up to +-3 s
#   move     a shard move in zone1 killed mid-way, then driven to its end
#
# At the end, healed: every zone holds the same documents (digests); for
# every key, the final version is at least the greatest version an
# acknowledged operation wrote, and when it is that version the document is
# what that operation wrote (so no acknowledged write is lost and no
# acknowledged delete undone); every counter equals its acknowledged
# increments, at most plus those whose outcome was unknown; no document
# whose expiry passed can be read.
#
# Seeded: the seed is printed; CHAOS_SEED=<seed> replays the same choices
# (the timing of a machine can still differ).  CHAOS_ROUNDS (default 6:
# each kind of fault once, in a seeded order) rounds of CHAOS_OPS (default
# 40) operations each.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);
use GkvTest;
use ChaosProxy;

my $seed = $ENV{CHAOS_SEED} // (time() * 1000 % 1000000007);
$seed = int($seed);
srand($seed);
my $rounds = $ENV{CHAOS_ROUNDS} // 6;
my $ops_per_round = $ENV{CHAOS_OPS} // 40;
diag("chaos seed $seed (replay: CHAOS_SEED=$seed), $rounds rounds of $ops_per_round operations");

# ---- the parade, peers through proxies ------------------------------------
my @nodes = (
	new_parade_node('c1', 1, zone => 'zone1'),
	new_parade_node('c2', 2, zone => 'zone1'),
	new_parade_node('c3', 3, zone => 'zone2'),
	new_parade_node('c4', 4, zone => 'zone3'));
my %zone_nodes = (zone1 => [ @nodes[ 0, 1 ] ], zone2 => [ $nodes[2] ], zone3 => [ $nodes[3] ]);
my $dir = PostgreSQL::Test::Utils::tempdir();
my %proxy = map { $_->name => ChaosProxy->start($_->port, $dir, $_->name) } @nodes;
$_->safe_psql('postgres', 'SELECT kv.init_shards(4)') foreach @nodes;
foreach my $t (@nodes)
{
	foreach my $n (@nodes)
	{
		my $ci = 'host=127.0.0.1 port=' . $proxy{ $n->name }->port . ' dbname=postgres user=' . getpwuid($<);
		$t->safe_psql('postgres', "SELECT kv.add_node($n->{gkv_id}, '" . $n->name . "', '$n->{gkv_zone}', '$ci')");
	}
}
foreach my $n (@nodes)
{
	$n->safe_psql('postgres', 'SELECT kv.set_placement(s.shard_id, 1 + s.shard_id % 2) FROM globalkv.shards s');
	$n->safe_psql('postgres', 'SELECT kv.set_placement(s.shard_id, z) FROM globalkv.shards s, generate_series(3, 4) z');
}
ok(wait_connected($_, 3), $_->name . ' pulls from its 3 peers through their proxies') foreach @nodes;
$nodes[0]->safe_psql('postgres', q{SELECT kv.create_namespace('chaos')});
ok($_->poll_query_until('postgres', q{SELECT count(*) = 1 FROM kv.namespaces WHERE name = 'chaos'}),
	$_->name . ' knows the namespace') foreach @nodes;

# ---- the client ------------------------------------------------------------
my %down;			# node name -> 1 while killed
my %acked;			# key -> [ [version, 'put' value | undef for a delete], ... ]
my %ctr_acked;		# counter key -> acknowledged increments
my %ctr_unknown;	# counter key -> increments whose outcome is unknown
my %faults;
my ($op_id, $ok_ops, $failed_ops, $last_ttl_put) = (0, 0, 0, 0);
my $max_skew_ms = 0;	# the largest clock offset given to a node

sub up_nodes { return grep { !$down{ $_->name } } @nodes; }

# run SQL on a node; (1, output) or (0, error)
sub try_sql
{
	my ($node, $sql) = @_;
	my ($rc, $out, $err) = $node->psql('postgres', $sql, timeout => 30);
	return $rc == 0 ? (1, $out) : (0, $err // '');
}

# the stored state of a key on its holder in the zone of $node: (version, value) or ()
sub zone_state
{
	my ($zone, $key) = @_;
	foreach my $n (@{ $zone_nodes{$zone} })
	{
		next if $down{ $n->name };
		my ($ok, $out) = try_sql($n,
			"SELECT version || '|' || coalesce(value::text, '<deleted>') FROM globalkv.get_state('chaos', '$key')");
		next unless $ok;
		return () if $out eq '';
		my ($v, $val) = split /\|/, $out, 2;
		return ($v, $val);
	}
	return ();
}

sub version_gt
{
	my ($a, $b) = @_;
	my ($ah, $ao) = split /:/, $a;
	my ($bh, $bo) = split /:/, $b;
	return $ah > $bh || ($ah == $bh && $ao > $bo);
}

sub record_write
{
	my ($node, $key, $value) = @_;
	my ($v, $val) = zone_state($node->{gkv_zone}, $key);
	return unless defined $v;
	my $expect = defined $value ? $value : '<deleted>';
	# what the holder has now is ours unless something newer came meanwhile
	push @{ $acked{$key} }, [ $v, $value ] if $val eq $expect;
}

sub random_op
{
	my @up = up_nodes();
	my $node = $up[ int(rand(@up)) ];
	my $r = rand();
	$op_id++;
	if ($r < 0.35)
	{
		my $key = 'p' . int(rand(20));
		my $value = qq({"op": $op_id});
		my ($ok) = try_sql($node, "SELECT kv.put('chaos', '$key', '$value')");
		$ok ? ($ok_ops++, record_write($node, $key, $value)) : $failed_ops++;
	}
	elsif ($r < 0.5)
	{
		my $key = 'p' . int(rand(20));
		my ($ok) = try_sql($node, "SELECT kv.delete('chaos', '$key')");
		$ok ? ($ok_ops++, record_write($node, $key, undef)) : $failed_ops++;
	}
	elsif ($r < 0.6)
	{
		my $key = 'p' . int(rand(20));
		my $value = qq({"op": $op_id, "cas": true});
		my ($ok, $out) = try_sql($node,
			"SELECT kv.put_if_version('chaos', '$key', '$value', (SELECT version FROM kv.get_versioned('chaos', '$key')))");
		if ($ok) { $ok_ops++; record_write($node, $key, $value) if $out ne 'CONFLICT'; }
		else { $failed_ops++; }
	}
	elsif ($r < 0.85)
	{
		my $key = 'c' . int(rand(5));
		my ($ok, $err) = try_sql($node, "SELECT kv.patch_numeric('chaos', '$key', '{\"n\": 1}')");
		if ($ok) { $ok_ops++; $ctr_acked{$key}++; }
		else
		{
			$failed_ops++;
			# refused before it ran (a connection never made) or unknown
			$ctr_unknown{$key}++ unless $err =~ /could not connect|Connection refused|No such file/;
		}
	}
	else
	{
		my $key = 'e' . int(rand(5));
		my ($ok) = try_sql($node, "SELECT kv.put('chaos', '$key', '{\"ttl\": true}', 2)");
		$ok ? $ok_ops++ : $failed_ops++;
		$last_ttl_put = time;
	}
}

# ---- faults ----------------------------------------------------------------
sub move_killed
{
	my ($shard) = (int(rand(4)));
	my ($holder) = grep { $_ ne '' } map {
		my ($ok, $out) = try_sql($_, "SELECT node_id FROM kv.placements WHERE shard_id = $shard AND zone_name = 'zone1'");
		$ok ? $out : ''
	} up_nodes();
	return 0 unless $holder;
	my $target = $holder == 1 ? 2 : 1;
	my $driver = $nodes[2];
	# the target pulls nothing from the source for now: the move stays in
	# its copy, where it is killed
	$nodes[ $target - 1 ]->safe_psql('postgres',
		"ALTER SYSTEM SET globalkv.debug_block_pull_from = '$holder'; SELECT pg_reload_conf()");
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start([ 'psql', '-XAt', '-d', 'host=127.0.0.1 port=' . $driver->port
			. ' dbname=postgres application_name=chaos_mover', '-c', "SELECT * FROM kv.move_shard($shard, $target)" ],
		'>', \$out, '2>', \$err);
	sleep(0.3 + rand(0.7));
	$driver->safe_psql('postgres', q{SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'chaos_mover'});
	$h->kill_kill;
	$h->finish;
	$nodes[ $target - 1 ]->safe_psql('postgres',
		'ALTER SYSTEM RESET globalkv.debug_block_pull_from; SELECT pg_reload_conf()');
	# driven to its end, as an operator would after a crash of the mover
	my ($ok, $res) = try_sql($driver, "SELECT state FROM kv.move_shard($shard, $target)");
	if (!$ok && $res =~ /already holds shard/)
	{
		note("move of shard $shard to node $target finished before the kill");
		return 1;
	}
	ok($ok, "move of shard $shard to node $target, killed mid-way, then run again: $res");
	return 1;
}

# every kind once per six rounds, in a seeded order
my @kind_order;

sub inject
{
	if (!@kind_order)
	{
		my @kinds = qw(kill9 drop stall delay clock move);
		while (@kinds) { push @kind_order, splice(@kinds, int(rand(@kinds)), 1); }
	}
	my $kind = shift @kind_order;
	my $victim = $nodes[ int(rand(@nodes)) ];
	my $name = $victim->name;
	$faults{$kind}++;
	note("round fault: $kind on $name");
	if ($kind eq 'kill9')
	{
		kill9_and_wait($victim);
		$down{$name} = 1;
		random_op() for 1 .. 8;
		start_after_crash($victim);
		delete $down{$name};
	}
	elsif ($kind eq 'drop' || $kind eq 'stall' || $kind eq 'delay')
	{
		$proxy{$name}->set($kind eq 'delay' ? 'delay:30' : $kind);
		random_op() for 1 .. 8;
		sleep(0.5 + rand(1.5));
		$proxy{$name}->set('pass');
	}
	elsif ($kind eq 'clock')
	{
		my $offset = int(rand(6000)) - 3000;
		$max_skew_ms = abs($offset) if abs($offset) > $max_skew_ms;
		$victim->append_conf('postgresql.conf', "globalkv.debug_clock_offset = $offset\n");
		$victim->restart;
		random_op() for 1 .. 8;
	}
	else
	{
		move_killed() or $faults{$kind}--;
	}
}

# ---- the run -----------------------------------------------------------------
for my $round (1 .. $rounds)
{
	random_op() for 1 .. int($ops_per_round / 2);
	inject();
	random_op() for 1 .. int($ops_per_round / 2);
}
note(sprintf('%d operations: %d acknowledged, %d failed; faults: %s', $op_id, $ok_ops, $failed_ops,
		join(', ', map { "$_ $faults{$_}" } sort keys %faults)));
ok($ok_ops > $op_id / 2, "most operations were acknowledged ($ok_ops of $op_id)");

# ---- healed: the checks -------------------------------------------------------
$_->set('pass') foreach values %proxy;
ok(wait_connected($_, 3), $_->name . ' pulls from every peer again') foreach @nodes;
my $agree = 0;
for (1 .. 600)
{
	my %d = map { zone_digest('chaos', @{ $zone_nodes{$_} }) => 1 } sort keys %zone_nodes;
	if (keys %d == 1) { $agree = 1; last; }
	sleep(0.1);
}
ok($agree, 'all three zones hold identical copies');

my ($lost, $checked) = (0, 0);
foreach my $key (sort keys %acked)
{
	my ($max) = sort { version_gt($b->[0], $a->[0]) ? 1 : version_gt($a->[0], $b->[0]) ? -1 : 0 } @{ $acked{$key} };
	foreach my $zone (sort keys %zone_nodes)
	{
		my ($v, $val) = zone_state($zone, $key);
		$checked++;
		if (!defined $v || version_gt($max->[0], $v))
		{
			$lost++;
			diag("$key in $zone: " . ($v // 'no row') . ", but $max->[0] was acknowledged");
		}
		elsif ($v eq $max->[0] && $val ne ($max->[1] // '<deleted>'))
		{
			$lost++;
			diag("$key in $zone at $v: $val, acknowledged " . ($max->[1] // '<deleted>'));
		}
	}
}
is($lost, 0, "every acknowledged write and delete is there, or a newer one ($checked checks)");

foreach my $key (sort keys %ctr_acked)
{
	my $lo = $ctr_acked{$key};
	my $hi = $lo + ($ctr_unknown{$key} // 0);
	foreach my $n (@nodes)
	{
		my $got = $n->safe_psql('postgres', "SELECT coalesce((kv.get('chaos', '$key')->>'n')::int, 0)");
		ok($got >= $lo && $got <= $hi, "$key on " . $n->name . ": $got, acknowledged $lo, at most $hi");
	}
}

# expiry is judged by each holder's clock: a writer running fast and a
# holder running slow each add their offset
my $wait = $last_ttl_put + 2.5 + 2 * $max_skew_ms / 1000 - time;
sleep($wait) if $wait > 0;
is(join(',', map { $_->safe_psql('postgres', q{SELECT count(*) FROM generate_series(0, 4) i WHERE kv.get('chaos', 'e' || i) IS NOT NULL}) } @nodes),
	'0,0,0,0', 'no node returns a document whose expiry passed');

$_->stop foreach values %proxy;
done_testing();
