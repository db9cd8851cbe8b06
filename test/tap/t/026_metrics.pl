# 026_metrics.pl -- the Prometheus endpoint (src/metrics/metrics_server.c):
#
#  1. GET /metrics answers in text format 0.0.4 and passes
#     `promtool check metrics` without a warning;
#  2. the figures follow what happened: operations by kind and result, the
#     latency histogram, per-peer replication, forwards, kv.docs queries,
#     the backlogs; no key or document value appears in it;
#  3. bad requests get their status and leave the worker serving: wrong
#     path (404), wrong method (405), garbage (400), headers past 8 kB
#     (431), clients that connect and send nothing (closed after 5 s or
#     when room is needed), a client that never reads its answer;
#  4. a port already taken: the worker says so in the log, the server runs.
# And (issue #12, bad input at the edges) an oversized batch call is refused
# with GK009 before anything is written.
use strict;
use warnings;

use IO::Socket::INET;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);
use GkvTest;

my ($promtool) = grep { -x $_ } map { "$_/promtool" } split /:/, $ENV{PATH};
ok(defined $promtool, 'promtool is installed (Debian package prometheus)')
  or BAIL_OUT('promtool is needed: apt-get install prometheus');

my $port1 = PostgreSQL::Test::Cluster::get_free_port();
my $port2 = PostgreSQL::Test::Cluster::get_free_port();
my $n1 = new_parade_node('zone1', 1, conf => qq{
globalkv.metrics_port = $port1
globalkv.metrics_backlog_interval = 0
});
my $n2 = new_parade_node('zone2', 2, conf => "globalkv.metrics_port = $port2\n");
join_parade([ $n1, $n2 ], $n1, $n2);
ok(wait_connected($_, 1), $_->name . ' pulls from its peer') foreach ($n1, $n2);

# request(port, bytes, %opts): the raw answer to one request (read until
# the server closes, at most 10 s)
sub request
{
	my ($port, $bytes) = @_;
	my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Proto => 'tcp',
		Timeout => 5) or return "connect failed: $!";
	print $sock $bytes if defined $bytes;
	my $answer = '';
	my $until = time + 10;
	while (time < $until)
	{
		my $got = sysread($sock, my $buf, 65536);
		last if !defined $got || $got == 0;
		$answer .= $buf;
	}
	close $sock;
	return $answer;
}

sub scrape
{
	my ($port) = @_;
	my $answer = request($port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
	my ($head, $body) = split /\r\n\r\n/, $answer, 2;
	return ($head // '', $body // '');
}

sub sample
{
	my ($body, $name) = @_;
	my ($v) = $body =~ /^\Q$name\E (\S+)$/m;
	return $v;
}

# 1. the format, checked by promtool
$n1->safe_psql('postgres', q{SELECT kv.create_namespace('met')});
ok($n2->poll_query_until('postgres', q{SELECT count(*) = 1 FROM kv.namespaces WHERE name = 'met'}),
	'namespace reached zone2');
$n1->safe_psql('postgres', q{
SELECT kv.put('met', 'secret-key-1', '{"secret": "value-xyz"}');
SELECT kv.put('met', 'secret-key-1', '{"secret": "value-xyz"}');
SELECT kv.get('met', 'secret-key-1'), kv.get('met', 'nope');
SELECT kv.delete('met', 'secret-key-1'), kv.delete('met', 'nope');
SELECT kv.patch_numeric('met', 'c', '{"n": 1}');
SELECT count(*) FROM kv.put_many('met', ARRAY['a', 'b', 'c2'], ARRAY['{}', '{}', '{}']::jsonb[]);
SELECT count(*) FROM kv.docs WHERE namespace = 'met';
SELECT value FROM kv.docs WHERE namespace = 'met' AND key = 'a';
});
my ($head, $body) = scrape($port1);
like($head, qr{^HTTP/1\.1 200 OK}, 'GET /metrics answers 200');
like($head, qr{Content-Type: text/plain; version=0\.0\.4}i, 'in text format 0.0.4');
my ($promtool_out, $promtool_err) = ('', '');
my $ok = IPC::Run::run([ $promtool, 'check', 'metrics' ], '<', \$body, '>', \$promtool_out,
	'2>', \$promtool_err);
ok($ok, 'promtool check metrics passes') or diag("$promtool_out$promtool_err");
is("$promtool_out$promtool_err", '', 'promtool has no warning');

# 2. what it says
is(sample($body, 'globalkv_build_info{version="0.3",postgresql="' . ($body =~ /postgresql="([^"]*)"/)[0] . '"}'),
	'1', 'globalkv_build_info carries the version');
is(sample($body, 'globalkv_node_info{node_id="1",node="zone1",zone="zone1"}'), '1', 'the node and its zone');
is(sample($body, 'globalkv_operations_total{operation="put",result="insert"}'), '4',
	'puts that inserted: one kv.put and three by kv.put_many');
is(sample($body, 'globalkv_operations_total{operation="put",result="update"}'), '1', 'a put that updated');
is(sample($body, 'globalkv_operations_total{operation="get",result="found"}'), '2',
	'gets that found a document (kv.get and the router query on kv.docs)');
is(sample($body, 'globalkv_operations_total{operation="get",result="missing"}'), '1', 'a get that found none');
is(sample($body, 'globalkv_operations_total{operation="delete",result="deleted"}'), '1', 'a delete of a live document');
is(sample($body, 'globalkv_operations_total{operation="delete",result="missing"}'), '1', 'a delete of nothing');
is(sample($body, 'globalkv_operations_total{operation="patch",result="insert"}'), '1', 'a patch');
is(sample($body, 'globalkv_operation_duration_seconds_count{operation="put"}'), '3',
	'three put calls timed (a batch call is one observation)');
is(sample($body, 'globalkv_operation_duration_seconds_bucket{operation="put",le="+Inf"}'), '3',
	'the +Inf bucket holds every call');
cmp_ok(sample($body, 'globalkv_operation_duration_seconds_sum{operation="put"}'), '>', 0, 'their time adds up');
is(sample($body, 'globalkv_docs_queries_total{strategy="router"}'), '1', 'the router query on kv.docs');
is(sample($body, 'globalkv_replication_connected{peer="zone2",peer_id="2"}'), '1', 'the stream from zone2 is connected');
ok(defined sample($body, 'globalkv_replication_lag_seconds{peer="zone2",peer_id="2"}'), 'its lag in seconds');
ok(defined sample($body, 'globalkv_replication_lag_rows{peer="zone2",peer_id="2"}'), 'and in rows');
ok(!defined sample($body, 'globalkv_tombstone_backlog_rows'), 'no backlog count with metrics_backlog_interval = 0');
unlike($body, qr/secret-key|value-xyz|"secret"/, 'no key and no document value in the metrics');

ok($n2->poll_query_until('postgres', q{SELECT kv.get('met', 'a') IS NOT NULL}), 'zone2 has the documents');
my (undef, $body2) = scrape($port2);
cmp_ok(sample($body2, 'globalkv_replication_applied_rows_total{peer="zone1",peer_id="1"}'), '>=', 5,
	'zone2 counts the rows it applied from zone1');
like($body2, qr/^globalkv_tombstone_backlog_rows 2$/m,
	"zone2 counts the two tombstones (a delete of a missing key leaves one too, to win over older puts)");
like($body2, qr/^globalkv_expiry_backlog_rows 0$/m, 'and no expired document');

# 3. bad requests
like(request($port1, "GET /other HTTP/1.1\r\n\r\n"), qr{^HTTP/1\.1 404 }, 'a wrong path gets 404');
like(request($port1, "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n"), qr{^HTTP/1\.1 405 .*Allow: GET}s,
	'a wrong method gets 405');
like(request($port1, "\x00\x01\x02 garbage\r\n\r\n"), qr{^HTTP/1\.1 400 }, 'garbage gets 400');
like(request($port1, "BREW\r\n\r\n"), qr{^HTTP/1\.1 400 }, 'a broken request line gets 400');
like(request($port1, "GET /metrics HTTP/1.1\r\nX-Big: " . ('a' x 20000) . "\r\n\r\n"), qr{^HTTP/1\.1 431 },
	'headers past 8 kB get 431');

my $worker = q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'globalkv metrics'};
my $worker_pid = $n1->safe_psql('postgres', $worker);

# twenty connections that send nothing, one that sends half a request and
# one that asks and never reads: scrapes still get their answer at once
my @idle = map {
	IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port1, Proto => 'tcp')
} 1 .. 20;
my $half = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port1, Proto => 'tcp');
print $half "GET /metr";
my $noread = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port1, Proto => 'tcp');
setsockopt($noread, Socket::SOL_SOCKET(), Socket::SO_RCVBUF(), 1024);
print $noread "GET /metrics HTTP/1.1\r\n\r\n";
my $t0 = time;
($head, $body) = scrape($port1);
my $took = time - $t0;
like($head, qr{^HTTP/1\.1 200 }, 'a scrape beside 22 bad connections gets 200');
cmp_ok($took, '<', 3, sprintf('at once (%.2f s): idle connections make room', $took));
sleep(5.5);
($head, $body) = scrape($port1);
like($head, qr{^HTTP/1\.1 200 }, 'the worker still serves after the bad clients timed out');
close $_ foreach grep { defined } (@idle, $half, $noread);
is($n1->safe_psql('postgres', $worker), $worker_pid, 'the same metrics worker runs: it never failed');

# an oversized batch call is refused before anything is written
my ($brc, $bout, $berr) = $n1->psql('postgres', q{SET globalkv.max_batch_keys = 10;
SELECT count(*) FROM kv.put_many('met', ARRAY(SELECT 'big' || g FROM generate_series(1, 11) g),
                                 ARRAY(SELECT '{}'::jsonb FROM generate_series(1, 11) g))});
isnt($brc, 0, 'a batch of 11 keys with globalkv.max_batch_keys = 10 fails');
like($berr, qr/a batch of 11 keys is too large: the limit is globalkv\.max_batch_keys = 10/, '... saying why');
is($n1->safe_psql('postgres', q{SELECT count(*) FROM kv.get_many('met', ARRAY(SELECT 'big' || g FROM generate_series(1, 11) g)) WHERE value IS NOT NULL}),
	'0', 'and nothing of it was written');
($brc, $bout, $berr) = $n1->psql('postgres', q{SET globalkv.max_batch_keys = 10;
SELECT count(*) FROM kv.get_many('met', ARRAY(SELECT 'big' || g FROM generate_series(1, 11) g))});
like($berr, qr/too large: the limit is globalkv\.max_batch_keys = 10/, 'kv.get_many has the same limit');
($brc, $bout, $berr) = $n1->psql('postgres', q{CREATE ROLE batch_client LOGIN IN ROLE globalkv_client;
SET ROLE batch_client; SET globalkv.max_batch_keys = 1000000000});
like($berr, qr/permission denied to set parameter "globalkv\.max_batch_keys"/, 'a client cannot raise the limit');

# 4. a port already taken
my $taken = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 1, Proto => 'tcp',
	ReuseAddr => 1);
my $taken_port = $taken->sockport;
$n1->append_conf('postgresql.conf', "globalkv.metrics_port = $taken_port\n");
$n1->restart;
ok($n1->poll_query_until('postgres', q{SELECT 1}, '1'), 'the server runs');
my $log = '';
for (1 .. 100)
{
	$log = slurp_file($n1->logfile);
	last if $log =~ /could not listen on 127\.0\.0\.1 port $taken_port/;
	sleep(0.1);
}
like($log, qr/globalkv metrics: could not listen on 127\.0\.0\.1 port $taken_port.*\n.*HINT:  Choose another globalkv\.metrics_port/,
	'the log says the port is taken, and what to do');
is($n1->safe_psql('postgres', q{SELECT kv.get('met', 'a')}), '{}', 'and globalkv serves calls');
close $taken;

done_testing();
