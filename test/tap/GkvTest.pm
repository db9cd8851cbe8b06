# GkvTest.pm -- helpers shared by globalkv's TAP tests.
#
# new_node() starts a PostgreSQL::Test::Cluster node with globalkv preloaded
# and created in database "postgres".  Nodes listen on 127.0.0.1 as well as
# on their unix socket, on ports the Cluster module picks (never fixed).
package GkvTest;

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Exporter 'import';

our @EXPORT = qw(new_node pgbench_run crash_and_restart parade_2x2 kill9_and_wait start_after_crash new_parade_node join_parade wait_connected wait_converged digest_of zone_digest wait_zones_agree);

sub new_node
{
	my ($name, %opts) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init(allows_streaming => 0);
	$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'globalkv'
globalkv.database = 'postgres'
listen_addresses = '127.0.0.1'
max_connections = 40
} . ($opts{conf} // ''));
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION globalkv');
	return $node;
}

# pgbench_run(node, clients, transactions_per_client, script_text)
# runs a bounded pgbench load over TCP and returns (exit code, stdout, stderr).
sub pgbench_run
{
	my ($node, $clients, $xacts, $script) = @_;
	my $file = PostgreSQL::Test::Utils::tempdir() . '/script.sql';
	open my $fh, '>', $file or die "cannot write $file: $!";
	print $fh $script;
	close $fh;
	my ($stdout, $stderr);
	my $rc = IPC::Run::run(
		[
			'pgbench', '-n', '-h', '127.0.0.1', '-p', $node->port,
			'-c', $clients, '-j', 2, '-t', $xacts, '-M', 'prepared',
			'-f', $file, 'postgres'
		],
		'>', \$stdout, '2>', \$stderr);
	return ($rc ? 0 : 1, $stdout, $stderr);
}

# new_parade_node(name, id, %opts): a node with globalkv, its identity set,
# ready to join a parade (join_parade).  Peers connect over 127.0.0.1.
sub new_parade_node
{
	my ($name, $id, %opts) = @_;
	my $node = new_node($name, conf => qq{
globalkv.replication_wait = 500ms
max_worker_processes = 24
} . ($opts{conf} // ''));
	$node->safe_psql('postgres', "SELECT kv.set_node($id, '$name', '" . ($opts{zone} // "zone$id") . "')");
	$node->{gkv_id} = $id;
	$node->{gkv_zone} = $opts{zone} // "zone$id";
	return $node;
}

# join_parade(\@tell, @nodes): registers every node of @nodes on every node
# of @tell (catalog replication spreads it further).
sub join_parade
{
	my ($tell, @nodes) = @_;
	foreach my $t (@$tell)
	{
		foreach my $n (@nodes)
		{
			my $ci = 'host=127.0.0.1 port=' . $n->port . ' dbname=postgres user=' . getpwuid($<);
			$t->safe_psql('postgres',
				"SELECT kv.add_node($n->{gkv_id}, '" . $n->name . "', '$n->{gkv_zone}', '$ci')");
		}
	}
}

# wait_connected(node, npeers): until node pulls from npeers peers, connected
sub wait_connected
{
	my ($node, $npeers) = @_;
	return $node->poll_query_until('postgres',
		"SELECT count(*) FILTER (WHERE connected AND last_error IS NULL) = $npeers FROM kv.replication_status");
}

sub digest_of
{
	my ($node, $ns) = @_;
	return $node->safe_psql('postgres', "SELECT globalkv.digest('$ns')");
}

# wait_converged(ns, @nodes): until every node has the same digest for ns,
# at most ~90 s; returns true when they agree
sub wait_converged
{
	my ($ns, @nodes) = @_;
	for (my $i = 0; $i < 900; $i++)
	{
		my %d = map { digest_of($_, $ns) => 1 } @nodes;
		return 1 if keys %d == 1;
		select(undef, undef, undef, 0.1);
	}
	return 0;
}

# zone_digest(ns, @zone_nodes): the digests of namespace ns of every shard,
# each on the node of the zone holding it there (a sharded zone's copy)
sub zone_digest
{
	my ($ns, @zone_nodes) = @_;
	my @parts;
	foreach my $n (@zone_nodes)
	{
		push @parts, split /\n/, $n->safe_psql('postgres',
			"SELECT d.shard_id || ':' || d.digest FROM globalkv.shard_digests('$ns') d"
			  . " JOIN kv.placements p ON p.shard_id = d.shard_id AND p.is_local");
	}
	return join(',', sort @parts);
}

# wait_zones_agree(ns, \@zone1_nodes, \@zone2_nodes): until both zones hold
# identical copies of namespace ns, at most ~60 s; true when they do
sub wait_zones_agree
{
	my ($ns, $zone1, $zone2) = @_;
	for (1 .. 600)
	{
		my $z1 = zone_digest($ns, @$zone1);
		return 1 if $z1 ne '' && $z1 eq zone_digest($ns, @$zone2);
		select(undef, undef, undef, 0.1);
	}
	return 0;
}

# parade_2x2(shards, conf): two zones of two nodes (z1a, z1b in zone1; z2a,
# z2b in zone2), the shards spread over the nodes of each zone (shard s of
# zone z on node (z-1)*2 + s%2 + 1), every node pulling from its 3 peers.
# Returns the four nodes.
sub parade_2x2
{
	my ($shards, $conf) = @_;
	my @nodes = (
		new_parade_node('z1a', 1, zone => 'zone1', conf => $conf),
		new_parade_node('z1b', 2, zone => 'zone1', conf => $conf),
		new_parade_node('z2a', 3, zone => 'zone2', conf => $conf),
		new_parade_node('z2b', 4, zone => 'zone2', conf => $conf));
	$_->safe_psql('postgres', "SELECT kv.init_shards($shards)") foreach @nodes;
	join_parade(\@nodes, @nodes);
	$_->safe_psql('postgres',
		'SELECT kv.set_placement(s.shard_id, (z - 1) * 2 + s.shard_id % 2 + 1)'
		  . ' FROM globalkv.shards s, generate_series(1, 2) z')
	  foreach @nodes;
	Test::More::ok(wait_connected($_, 3), $_->name . ' pulls from its 3 peers') foreach @nodes;
	return @nodes;
}

# kill9_and_wait(node): kill -9 the postmaster (its children die when they
# notice) and wait, at most 30 s, until it is gone
sub kill9_and_wait
{
	my ($node) = @_;
	my $pid = $node->{_pid};
	$node->kill9;
	for (1 .. 300)
	{
		last unless kill(0, $pid);
		select(undef, undef, undef, 0.1);
	}
}

# start_after_crash(node): start a node whose postmaster was killed,
# retrying while its old processes still hold the data directory (a failed
# start leaves the dead postmaster's pid in the node object: forget it)
sub start_after_crash
{
	my ($node) = @_;
	for (1 .. 100)
	{
		return 1 if $node->start(fail_ok => 1);
		$node->{_pid} = undef;
		select(undef, undef, undef, 0.2);
	}
	die "node " . $node->name . " did not restart after kill -9";
}

# crash_and_restart(node): kill -9, then start again
sub crash_and_restart
{
	my ($node) = @_;
	kill9_and_wait($node);
	return start_after_crash($node);
}

1;
