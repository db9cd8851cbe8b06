# 029_node_add.pl -- `globalkv node add`: a machine with globalkv installed
# joins a running parade in one command (cli/cmd_node.c):
#
#  1. refused, with exit 2 and a clear message, when globalkv is not
#     installed on the new node, or the id is taken in the parade;
#  2. joins: creates the peers' login on the new node when asked (the
#     password from the environment, never logged), registers the node
#     both ways, waits until the new zone has backfilled every document,
#     and every node of the parade pulls from it.
use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use GkvTest;

my @zones = (new_parade_node('zone1', 1), new_parade_node('zone2', 2));
join_parade(\@zones, @zones);
ok(wait_connected($_, 1), $_->name . ' pulls from its peer') foreach @zones;
$zones[0]->safe_psql('postgres', q{SELECT kv.create_namespace('na');
SELECT count(*) FROM kv.put_many('na', ARRAY(SELECT 'k' || g FROM generate_series(1, 3000) g),
                                  ARRAY(SELECT jsonb_build_object('g', g) FROM generate_series(1, 3000) g))});
ok(wait_converged('na', @zones), 'the two zones agree');

my $user = getpwuid($<);
sub ci { my ($n) = @_; return 'host=127.0.0.1 port=' . $n->port . ' dbname=postgres'; }
sub node_add
{
	my ($new, @args) = @_;
	my ($out, $err) = ('', '');
	local $ENV{GLOBALKV_PEER_PASSWORD} = 'not-in-any-log-7f3a';
	IPC::Run::run([ 'globalkv', 'node', 'add', '-d', ci($new), '--seed', ci($zones[0]), @args ],
		'>', \$out, '2>', \$err);
	return ($? >> 8, $out, $err);
}

# 1. refusals
my $bare = PostgreSQL::Test::Cluster->new('bare');
$bare->init;
$bare->append_conf('postgresql.conf', "listen_addresses = '127.0.0.1'\n");
$bare->start;
my ($rc, $out, $err) = node_add($bare, '--id', 9, '--name', 'bare', '--zone', 'zone9', '--reach', ci($bare));
is($rc, 2, 'a node without globalkv is refused (exit 2)');
like($err, qr/globalkv is not installed on the new node: add globalkv to its shared_preload_libraries/,
	'... and told what to do');
$bare->stop;

my $z3 = new_node('zone3', conf => "globalkv.replication_wait = 500ms\nmax_worker_processes = 24\n");
($rc, $out, $err) = node_add($z3, '--id', 2, '--name', 'zone3', '--zone', 'zone3', '--reach', ci($z3));
is($rc, 2, 'an id the parade already uses is refused');
like($err, qr/id 2 is taken in the parade by node "zone2"/, '... naming the node that has it');
is($z3->safe_psql('postgres', q{SELECT count(*) FROM globalkv.nodes}), '0', 'and the new node was left untouched');

# 2. joins
($rc, $out, $err) = node_add($z3, '--id', 3, '--name', 'zone3', '--zone', 'zone3',
	'--reach', ci($z3) . " user=$user", '--create-login', 'gkv_peer', '--timeout', 120);
is($rc, 0, 'node add exits 0') or diag("$out$err");
like($out, qr/globalkv 0\.3 on the seed and on the new node/, 'it checked the versions');
like($out, qr/created the login gkv_peer on the new node/, 'it created the login for the peers');
like($out, qr/node zone3 pulls from its 2 peers and has caught up/, 'it waited for the backfill');
is($z3->safe_psql('postgres', q{SELECT count(*) FROM kv.docs WHERE namespace = 'na'}), '3000',
	'the new zone holds every document');
is($z3->safe_psql('postgres', q{SELECT pg_has_role('gkv_peer', 'globalkv_replication', 'member')
                                   AND pg_has_role('gkv_peer', 'globalkv_client', 'member')}), 't',
	'the login is in globalkv_replication and globalkv_client');
ok(wait_connected($_, 2), $_->name . ' now pulls from zone3 too') foreach @zones;
$z3->safe_psql('postgres', q{SELECT kv.put('na', 'from3', '{"z": 3}')});
ok($zones[1]->poll_query_until('postgres', q{SELECT kv.get('na', 'from3') IS NOT NULL}),
	'a write in the new zone reaches the others');
unlike(slurp_file($z3->logfile), qr/not-in-any-log-7f3a/, 'the password is in no log');

done_testing();
