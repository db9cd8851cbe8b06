# 028_conflicts.pl -- the conflict journal (src/replication/conflict_journal.c):
#
#  1. the same key written in two zones while they cannot reach each other:
#     once they replicate, the zone that sees both writes journals the
#     conflict in kv.conflicts (key, the version kept, the version lost,
#     why) and counts it -- zone1 at least, whose own write loses (zone2 may
#     only ever see its own, winning, write come back, which is no conflict);
#  2. one write after the other, further apart than globalkv.conflict_window,
#     is no conflict; counters merge and are never journaled;
#  3. a storm of conflicts: the journal keeps at most
#     globalkv.conflict_journal_size rows and takes at most
#     globalkv.conflict_journal_rate a second; the rest is counted as dropped.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use GkvTest;

my $port = PostgreSQL::Test::Cluster::get_free_port();
my $conf = "globalkv.conflict_window = 10s\n";
my $z1 = new_parade_node('zone1', 1, conf => $conf . "globalkv.metrics_port = $port\n");
my $z2 = new_parade_node('zone2', 2, conf => $conf);
join_parade([ $z1, $z2 ], $z1, $z2);
ok(wait_connected($_, 1), $_->name . ' pulls from its peer') foreach ($z1, $z2);
$z1->safe_psql('postgres', q{SELECT kv.create_namespace('cf')});
ok($z2->poll_query_until('postgres', q{SELECT count(*) = 1 FROM kv.namespaces WHERE name = 'cf'}),
	'namespace reached zone2');

sub cut
{
	my ($on) = @_;
	foreach my $n ($z1, $z2)
	{
		my $other = $n == $z1 ? 2 : 1;
		$n->safe_psql('postgres', $on
			? "ALTER SYSTEM SET globalkv.debug_block_pull_from = '$other'; SELECT pg_reload_conf()"
			: 'ALTER SYSTEM RESET globalkv.debug_block_pull_from; SELECT pg_reload_conf()');
	}
	if ($on)
	{
		ok($_->poll_query_until('postgres', q{SELECT count(*) FILTER (WHERE connected) = 0 FROM kv.replication_status}),
			$_->name . ' no longer pulls') foreach ($z1, $z2);
	}
	else
	{
		ok(wait_connected($_, 1), $_->name . ' pulls again') foreach ($z1, $z2);
	}
}

# 1. a conflict
cut(1);
$z1->safe_psql('postgres', q{SELECT kv.put('cf', 'cart:7', '{"items": ["book"]}')});
$z2->safe_psql('postgres', q{SELECT pg_sleep(0.01); SELECT kv.put('cf', 'cart:7', '{"items": ["pen"]}')});
my $v1 = $z1->safe_psql('postgres', q{SELECT version FROM kv.get_versioned('cf', 'cart:7')});
my $v2 = $z2->safe_psql('postgres', q{SELECT version FROM kv.get_versioned('cf', 'cart:7')});
cut(0);
ok(wait_converged('cf', $z1, $z2), 'the zones agree');
is($z1->safe_psql('postgres', q{SELECT kv.get('cf', 'cart:7')}), '{"items": ["pen"]}', 'the later write won');
my $journal = q{SELECT namespace, key, kept_version, kept_is_delete, lost_version, lost_is_delete, reason
                  FROM kv.conflicts ORDER BY noted_at};
is($z1->safe_psql('postgres', $journal), "cf|cart:7|$v2|f|$v1|f|the newer version wins",
	'zone1 journals the conflict: kept, lost, why');
like($z2->safe_psql('postgres', $journal), qr/^(|cf\|cart:7\|\Q$v2\E\|f\|\Q$v1\E\|f\|the newer version wins)$/,
	'zone2 journals the same conflict, or none if zone1 already held the winner when zone2 pulled');
my %after1 = map { $_->name => $_->safe_psql('postgres', q{SELECT count(*) FROM kv.conflicts}) } ($z1, $z2);
is($z1->safe_psql('postgres', q{SELECT arrived_from FROM kv.conflicts}), 'zone2',
	'zone1 names the node the losing or winning write came from');

# 2. no conflict: one after the other, and counters
$z1->safe_psql('postgres', q{ALTER SYSTEM SET globalkv.conflict_window = '100ms'; SELECT pg_reload_conf()});
$z2->safe_psql('postgres', q{ALTER SYSTEM SET globalkv.conflict_window = '100ms'; SELECT pg_reload_conf()});
cut(1);
$z1->safe_psql('postgres', q{SELECT kv.put('cf', 'seq', '{"n": 1}'); SELECT pg_sleep(0.3)});
$z2->safe_psql('postgres', q{SELECT kv.put('cf', 'seq', '{"n": 2}')});
$z1->safe_psql('postgres', q{SELECT kv.patch_numeric('cf', 'ctr', '{"n": 1}')});
$z2->safe_psql('postgres', q{SELECT kv.patch_numeric('cf', 'ctr', '{"n": 2}')});
cut(0);
ok(wait_converged('cf', $z1, $z2), 'the zones agree again');
is($z2->safe_psql('postgres', q{SELECT kv.get('cf', 'ctr')}), '{"n": 3}', 'the counters merged');
is($_->safe_psql('postgres', q{SELECT count(*) FROM kv.conflicts}), $after1{ $_->name },
	$_->name . ': writes further apart than the window, and counters, are not journaled') foreach ($z1, $z2);

# 3. a storm: 300 conflicting keys, a journal of 50 rows taking 20 a second
foreach my $n ($z1, $z2)
{
	$n->safe_psql('postgres', q{
ALTER SYSTEM SET globalkv.conflict_window = '10s';
ALTER SYSTEM SET globalkv.conflict_journal_size = 50;
ALTER SYSTEM SET globalkv.conflict_journal_rate = 20;
SELECT pg_reload_conf()});
}
cut(1);
$z1->safe_psql('postgres', q{SELECT count(*) FROM kv.put_many('cf', ARRAY(SELECT 's' || g FROM generate_series(1, 300) g),
                                                          ARRAY(SELECT '{"z": 1}'::jsonb FROM generate_series(1, 300) g))});
$z2->safe_psql('postgres', q{SELECT count(*) FROM kv.put_many('cf', ARRAY(SELECT 's' || g FROM generate_series(1, 300) g),
                                                          ARRAY(SELECT '{"z": 2}'::jsonb FROM generate_series(1, 300) g))});
cut(0);
ok(wait_converged('cf', $z1, $z2), 'the zones agree after the storm');
foreach my $n ($z1, $z2)
{
	my $rows = $n->safe_psql('postgres', q{SELECT count(*) FROM kv.conflicts});
	cmp_ok($rows, '<=', 50, $n->name . " keeps at most 50 journal rows ($rows)");
}
cmp_ok($z1->safe_psql('postgres', q{SELECT count(*) FROM kv.conflicts WHERE key LIKE 's%'}), '>=', 20,
	'zone1 journaled the first conflicts of the storm, as many as the rate allows');

# the metrics count every conflict, journaled or not
use IO::Socket::INET;
my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Proto => 'tcp', Timeout => 5);
print $sock "GET /metrics HTTP/1.0\r\n\r\n";
my $metrics = join('', <$sock>);
close $sock;
my ($newer) = $metrics =~ /^globalkv_conflicts_total\{resolution="newer_version"\} (\d+)$/m;
my ($dropped) = $metrics =~ /^globalkv_conflict_journal_dropped_total (\d+)$/m;
cmp_ok($newer, '>=', 301, "zone1 counted every conflict ($newer)");
cmp_ok($dropped, '>=', 200, "and how many it did not journal ($dropped)");

$z1->restart;
cmp_ok($z1->safe_psql('postgres', q{SELECT count(*) FROM kv.conflicts}), '>=', 20, 'the journal survives a restart');
done_testing();
