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

our @EXPORT = qw(new_node pgbench_run);

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

1;
