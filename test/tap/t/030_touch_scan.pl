# 030_touch_scan.pl -- sliding expiry (kv.touch, kv.get_and_touch) across two
# zones of two nodes each:
#
#  1. a touch from any node reaches the key's holder, and every node of
#     both zones then expires the key at the same new instant;
#  2. races while the zones cannot reach each other, then healed: a touch
#     in one zone against a put, a delete, another touch or an increment in
#     the other -- both zones converge, a concurrent put keeps its value, a
#     concurrent delete keeps the key deleted, increments all count;
#  3. a touch on a key that expired returns false and writes nothing, in
#     every zone (no resurrection);
#  4. prefix scans (kv.scan) page through a user's keys spread over both
#     nodes of a zone, alike from every node, before and after a shard
#     move; the CLI's touch and scan;
#  5. consistency per call: kv.wait_replicated returns once the other zone
#     has a write, fails with GK019 while the zones are cut off; a read with
#     consistency 'all' sees the other zone's newer write (and delete) that
#     a 'zone' read does not, and says when a zone is down;
#  6. the change feed (kv.changes) from a node of zone2 while zone1 writes:
#     a consumer that commits its cursor with its work, killed (its page
#     dropped) and resumed, and a node of the zone restarted, sees every
#     key once; globalkv watch prints the same changes.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use GkvTest;

my @nodes = parade_2x2(4, '');
my ($z1a, $z1b, $z2a, $z2b) = @nodes;
$z1a->safe_psql('postgres', q{SELECT kv.create_namespace('t')});
ok($_->poll_query_until('postgres', q{SELECT count(*) = 1 FROM kv.namespaces WHERE name = 't'}),
	$_->name . ' knows the namespace') foreach @nodes;

sub sql { my ($n, $q) = @_; return $n->safe_psql('postgres', $q); }

# every node's view of a key: value, version and expiry as one line
sub views
{
	my ($key) = @_;
	return map {
		sql($_, "SELECT coalesce((SELECT value::text || ' ' || version || ' ' || coalesce(expires_at::text, '-')"
			  . " FROM kv.get_versioned('t', '$key')), 'none')")
	} @nodes;
}

sub all_same
{
	my ($key) = @_;
	for (1 .. 300)
	{
		my %v = map { $_ => 1 } views($key);
		return 1 if keys %v == 1;
		select(undef, undef, undef, 0.1);
	}
	return 0;
}

# cut(1): no node pulls from the other zone; cut(0): heal
sub cut
{
	my ($on) = @_;
	foreach my $n (@nodes)
	{
		my $other = ($n == $z1a || $n == $z1b) ? '3,4' : '1,2';
		sql($n, $on
			? "ALTER SYSTEM SET globalkv.debug_block_pull_from = '$other'; SELECT pg_reload_conf()"
			: 'ALTER SYSTEM RESET globalkv.debug_block_pull_from; SELECT pg_reload_conf()');
	}
	foreach my $n (@nodes)
	{
		ok($n->poll_query_until('postgres', $on
			? q{SELECT count(*) FILTER (WHERE connected) = 1 FROM kv.replication_status}
			: q{SELECT count(*) FILTER (WHERE connected AND last_error IS NULL) = 3 FROM kv.replication_status}),
			$n->name . ($on ? ' pulls only inside its zone' : ' pulls from all 3 peers again'));
	}
}

# ---- 1. a touch from any node, seen alike everywhere -----------------------
sql($z1a, qq{SELECT kv.put('t', 'k$_', '{"user": $_}', 60)}) for 1 .. 8;
ok(all_same("k$_"), "k$_ is alike on every node") for 1 .. 8;
my @touched = map { sql($nodes[$_ % 4], "SELECT kv.touch('t', 'k$_', 3600)") } 1 .. 8;
is(join(',', @touched), join(',', ('t') x 8), 'a touch from each of the four nodes, holder or not, succeeds');
ok(all_same("k$_"), "the touch of k$_ reached every node") for 1 .. 8;
is(sql($z2b, q{SELECT count(*) FROM generate_series(1, 8) i, kv.get_versioned('t', 'k' || i) g
               WHERE g.expires_at BETWEEN now() + interval '3500 s' AND now() + interval '3600 s'}),
	'8', 'every key now expires in an hour, in the other zone too');
is(sql($z2a, q{SELECT kv.get_and_touch('t', 'k3', 7200)}), '{"user": 3}', 'get_and_touch returns the document');
ok(all_same('k3'), 'and its new expiry reaches every node');

# ---- 2. races across a partition ---------------------------------------------
sql($z1a, q{SELECT kv.put('t', 'put_race', '{"v": "old"}', 60),
                   kv.put('t', 'del_race', '{"v": "old"}', 60),
                   kv.put('t', 'touch_race', '{"v": "old"}', 60),
                   kv.put('t', 'ctr', '{"n": 10}', 60)});
ok(all_same($_), "$_ is alike before the cut") for qw(put_race del_race touch_race ctr);
sql($z1b, q{SELECT kv.patch_numeric('t', 'ctr', '{"n": 5}', 60)});
ok(all_same('ctr'), 'the first increment is everywhere');
cut(1);
# zone2 writes first, zone1's touches come later (newer versions)
sql($z2a, q{SELECT kv.put('t', 'put_race', '{"v": "new"}')});
sql($z2b, q{SELECT kv.delete('t', 'del_race')});
sql($z2a, q{SELECT kv.touch('t', 'touch_race', 600)});
sql($z2b, q{SELECT kv.patch_numeric('t', 'ctr', '{"n": 3}', 60)});
sql($z1a, q{SELECT pg_sleep(0.05)});
is(sql($z1a, q{SELECT kv.touch('t', 'put_race', 1800)}), 't', 'zone1 touches what it still sees');
is(sql($z1b, q{SELECT kv.touch('t', 'del_race', 1800)}), 't', 'zone1 touches the key zone2 deleted');
is(sql($z1a, q{SELECT kv.touch('t', 'touch_race', 1800)}), 't', 'both zones touch the same key');
is(sql($z1b, q{SELECT kv.get_and_touch('t', 'ctr', 1800)}), '{"n": 15}', 'zone1 touches the counter it sees');
sql($z1a, q{SELECT kv.patch_numeric('t', 'ctr', '{"n": 1}', 1800)});
cut(0);
ok(all_same($_), "$_ converges on all four nodes") for qw(put_race del_race touch_race ctr);
is(sql($z2b, q{SELECT kv.get('t', 'put_race')}), '{"v": "new"}',
	'a put the touch did not see keeps its value (the touch brings only its expiry)');
cmp_ok(sql($z2b, q{SELECT extract(epoch FROM expires_at - now()) FROM kv.get_versioned('t', 'put_race')}), '>', 1700,
	'... the newer touch\'s expiry');
is(sql($z1a, q{SELECT count(*) FROM kv.get_versioned('t', 'del_race')}), '0',
	'a touch does not bring back a key deleted concurrently');
cmp_ok(sql($z2a, q{SELECT extract(epoch FROM expires_at - now()) FROM kv.get_versioned('t', 'touch_race')}), '>', 1700,
	'of two touches the newer one sets the expiry');
is(sql($z2a, q{SELECT kv.get('t', 'ctr')}), '{"n": 19}', 'every increment counts across a touch: 10 + 5 + 3 + 1');

# ---- 3. an expired key stays expired ----------------------------------------
sql($z2a, q{SELECT kv.put('t', 'short', '{"a": 1}', 1)});
ok(all_same('short'), 'the short-lived key is everywhere');
sql($z1a, q{SELECT pg_sleep(1.5)});
my @late = map { sql($_, q{SELECT kv.touch('t', 'short', 3600)}) } @nodes;
is(join(',', @late), 'f,f,f,f', 'a touch after the expiry returns false on every node');
is(join(',', map { sql($_, q{SELECT count(*) FROM kv.get_versioned('t', 'short')}) } @nodes), '0,0,0,0',
	'and the key stays expired everywhere');
ok(wait_zones_agree('t', [ $z1a, $z1b ], [ $z2a, $z2b ]), 'both zones hold identical copies in the end');

# ---- 4. prefix scans across the zone, and after a shard move ---------------
sql($z1a, q{SELECT count(*) FROM kv.put_many('t',
	ARRAY(SELECT 'u:7:' || lpad(i::text, 3, '0') FROM generate_series(1, 300) i)
	  || ARRAY['u:70:x', 'u:7', 'u:8:a', 'u:7:%', 'u:7:_'],
	ARRAY(SELECT jsonb_build_object('i', i) FROM generate_series(1, 305) i))});
is(sql($z1a, q{SELECT count(DISTINCT p.node_id) FROM generate_series(1, 300) i, kv.key_shard('t', 'u:7:' || lpad(i::text, 3, '0')) s
               JOIN kv.placements p ON p.shard_id = s.shard AND p.zone_name = 'zone1'}), '2',
	'the user\'s keys lie on both nodes of zone1');
ok(wait_zones_agree('t', [ $z1a, $z1b ], [ $z2a, $z2b ]), 'zone2 has them too');
my $expected = join(',', 'u:7:%', (map { sprintf('u:7:%03d', $_) } 1 .. 300), 'u:7:_');

# all pages of 40 from one node, as a client pages through them
sub scan_all
{
	my ($node) = @_;
	my ($after, @keys) = ('NULL');
	for (1 .. 20)
	{
		my @page = split /\n/, sql($node, "SELECT key FROM kv.scan('t', 'u:7:', $after, 40)");
		push @keys, @page;
		last if @page < 40;
		$after = "'$page[-1]'";
	}
	return join(',', @keys);
}
is(scan_all($_), $expected, 'pages of 40 from ' . $_->name . ': every key of the prefix once, in order, nothing else')
  foreach @nodes;
sql($z1a, q{SELECT kv.delete('t', 'u:7:150')});
ok($z2b->poll_query_until('postgres', q{SELECT count(*) = 301 FROM kv.scan('t', 'u:7:', NULL, 1000)}),
	'a deleted key leaves the scans of the other zone');
my $moving = sql($z1a, q{SELECT shard_id FROM kv.placements WHERE zone_name = 'zone1' AND node_id = 1 ORDER BY shard_id LIMIT 1});
sql($z2a, "SELECT * FROM kv.move_shard($moving, 2)");
ok($z1a->poll_query_until('postgres', "SELECT node_id = 2 FROM kv.placements WHERE shard_id = $moving AND zone_name = 'zone1'"),
	"shard $moving moved to z1b");
(my $after_move = $expected) =~ s/,u:7:150//;
is(scan_all($_), $after_move, 'after the move, pages from ' . $_->name . ' are still complete and in order')
  foreach ($z1a, $z1b);

# the CLI
my $cli = -x 'cli/globalkv' ? 'cli/globalkv' : 'globalkv';
my ($out, $err) = ('', '');
IPC::Run::run([ $cli, 'scan', '-d', $z2a->connstr('postgres'), 't', 'u:7:', '--count', '120' ], '>', \$out, '2>', \$err);
my @lines = split /\n/, $out;
is(scalar(@lines), 120, 'globalkv scan --count 120 prints 120 documents') or diag($err);
is($lines[1], "u:7:001\t{\"i\": 1}", 'key, tab, document');
IPC::Run::run([ $cli, 'scan', '-d', $z2a->connstr('postgres'), 't', 'u:7:', '--after', 'u:7:290' ], '>', \$out, '2>', \$err);
is($out, join('', map { sprintf("u:7:%03d\t{\"i\": %d}\n", $_, $_) } 291 .. 300) . "u:7:_\t{\"i\": 305}\n",
	'--after goes on from a key, to the end of the prefix');
IPC::Run::run([ $cli, 'touch', '-d', $z2b->connstr('postgres'), 't', 'u:7:001', '--ttl', '900' ], '>', \$out, '2>', \$err);
is($out, "TOUCHED\n", 'globalkv touch');
ok($z1b->poll_query_until('postgres', q{SELECT extract(epoch FROM expires_at - now()) > 800 FROM kv.get_versioned('t', 'u:7:001')}),
	'its expiry reaches zone1');
my $rc = IPC::Run::run([ $cli, 'touch', '-d', $z2b->connstr('postgres'), 't', 'nobody', '--ttl', '900' ], '>', \$out, '2>', \$err);
is($? >> 8, 3, 'touching a missing key exits 3');
is($out, "NOT FOUND\n", '... and says so');

# ---- 5. consistency per call ------------------------------------------------
sql($z1a, q{SELECT kv.put('t', 'c1', '{"n": 1}')});
my $v = sql($z1a, q{SELECT version FROM kv.get_versioned('t', 'c1')});
is(sql($z1b, "SELECT kv.wait_replicated('t', 'c1', '$v', NULL, 10000)"), '2', 'wait_replicated: the write is in both zones');
cut(1);
sql($z1a, q{SELECT kv.put('t', 'c1', '{"n": 2}')});
$v = sql($z1a, q{SELECT version FROM kv.get_versioned('t', 'c1')});
my ($rc2, $o2, $e2) = $z1b->psql('postgres', "SELECT kv.wait_replicated('t', 'c1', '$v', 2, 300)");
like($e2, qr/reached 1 of the 2 zones asked for within 300 ms.*Not yet in: "zone2"/s, 'while cut off it times out, naming the zone');
is(sql($z1b, "SELECT kv.wait_replicated('t', 'c1', '$v', 1, 300)"), '1', 'one zone (this one) is enough when asked for');
is(sql($z2a, q{SELECT kv.get('t', 'c1')}), '{"n": 1}', 'zone2 reads its stale copy ...');
is(sql($z2a, q{SELECT kv.get('t', 'c1', 'all')}), '{"n": 2}', "... but 'all' finds zone1's newer write");
sql($z1b, q{SELECT kv.delete('t', 'c1')});
is(sql($z2b, q{SELECT kv.get('t', 'c1', 'all') IS NULL}), 't', "'all' sees the newer delete too");
# a key whose holder in zone2 is z2b (odd shards there)
my $k = sql($z2a, q{SELECT k FROM generate_series(1, 300) i, LATERAL (SELECT 'u:7:' || lpad(i::text, 3, '0') AS k) x
                    WHERE (kv.key_shard('t', k)).shard % 2 = 1 AND k <> 'u:7:150' ORDER BY k LIMIT 1});
(my $kv = $k) =~ s/^u:7:0*//;
$z2b->stop;
my ($rc3, $o3, $e3) = $z2a->psql('postgres', "SELECT kv.get('t', '$k', 'all')");
like($e3, qr/zone\(s\) "zone2" could not be reached/, "with its zone's holder down, 'all' says which zone did not answer");
is($o3, qq({"i": $kv}), '... and answers from the zones that did');
$z2b->start;
cut(0);

# ---- 6. the change feed -----------------------------------------------------
sql($z1a, q{SELECT kv.create_namespace('w')});
ok($z2a->poll_query_until('postgres', q{SELECT count(*) = 1 FROM kv.namespaces WHERE name = 'w'}), 'zone2 knows namespace w');
my $start = sql($z2a, q{SELECT next_cursor FROM kv.changes('w') WHERE key IS NULL});
like($start, qr{^gkv1(/\d+:\d+:\d+)+$}, 'a cursor names each shard, its holder and position');
# zone1 writes 200 keys, from both of its nodes, while the consumer reads
my $writer = IPC::Run::start([ 'psql', '-XAtq', '-d', $z1a->connstr('postgres'), '-c',
	q{SELECT count(*) FROM generate_series(1, 200) i, LATERAL (SELECT kv.put('w', 'w' || i, jsonb_build_object('i', i)), pg_sleep(0.005)) x} ]);
my %committed;
my ($cursor, $pages, $dropped, $restarted, $failed_calls) = ($start, 0, 0, 0, 0);
for (1 .. 200)
{
	my ($rc, $out, $err) = $z2a->psql('postgres',
		"SELECT coalesce(key, ''), coalesce(next_cursor, '') FROM kv.changes('w', '$cursor', 30, 1000)");
	if ($rc != 0)
	{
		$failed_calls++;	# a node of the zone was away: call again, same cursor
		next;
	}
	my @rows = split /\n/, $out;
	my ($next) = map { (split /\|/, $_)[1] } grep { /^\|/ } @rows;
	my @keys = map { (split /\|/, $_)[0] } grep { !/^\|/ } @rows;
	$pages++;
	if ($pages >= 3 && !$dropped && @keys)
	{
		$dropped = scalar(@keys);	# the consumer dies before committing this page
		next;
	}
	if ($pages == 5)
	{
		$z2b->restart;			# a node of the zone restarts between two calls
		$restarted = 1;
	}
	$committed{$_}++ foreach @keys;		# the work and the cursor, committed together
	$cursor = $next;
	last if keys %committed == 200 && !$writer->pumpable;
}
$writer->finish;
ok($dropped > 0, "a page of $dropped changes was dropped by a consumer that died");
ok($restarted, "z2b restarted while the feed was followed ($failed_calls calls failed meanwhile)");
is(scalar(keys %committed), 200, 'the consumer saw every one of the 200 keys');
is(scalar(grep { $committed{$_} != 1 } keys %committed), 0, '... each exactly once');
ok(wait_connected($z2b, 3), 'z2b pulls again');

my ($wout, $werr) = ('', '');
IPC::Run::run([ $cli, 'watch', '-d', $z2b->connstr('postgres'), 'w', '--after', $start, '--count', '200', '--timeout', '60' ],
	'>', \$wout, '2>', \$werr);
my %watched = map { /"key": "(w\d+)"/ ? ($1 => 1) : () } split /\n/, $wout;
is(scalar(keys %watched), 200, 'globalkv watch from the start cursor prints the 200 changes') or diag($werr);
like($werr, qr/^cursor gkv1\//m, 'and the cursor to resume from on stderr');
sql($z1b, q{SELECT kv.delete('w', 'w7')});
my $last = (grep { /^cursor / } split /\n/, $werr)[-1];
$last =~ s/^cursor //;
is(sql($z2b, "SELECT coalesce(key, '-') || ':' || coalesce(value::text, 'deleted') FROM kv.changes('w', '$last', 10, 5000) WHERE key IS NOT NULL"),
	'w7:deleted', 'a delete arrives as value NULL, and only it is new');

done_testing();



