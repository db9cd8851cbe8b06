# 014_cli_parade.pl -- the globalkv CLI builds a working local parade:
# nodes authenticate to each other with scram-sha-256 as a least-privilege
# replication role whose password never appears in the catalog; put, get,
# delete, status; stop and start keep the data and replication.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $cli = -x 'cli/globalkv' ? 'cli/globalkv' : 'globalkv';
my $dir = PostgreSQL::Test::Utils::tempdir_short() . '/parade';
my @ports = map { PostgreSQL::Test::Cluster::get_free_port() } 1 .. 3;
my $ports = join(',', @ports);

my ($out, $err);
my $ok = IPC::Run::run([ $cli, 'parade', 'create', '--dir', $dir, '--zones', 3, '--ports', $ports ],
	'>', \$out, '2>', \$err);
ok($ok, 'globalkv parade create succeeded') or diag("$out\n$err");
like($out, qr/parade of 3 zones x 1 node is running/, 'it reports the running parade');

my @ci = map { "host=$dir port=$_ user=postgres dbname=postgres" } @ports;
sub cli { my @a = @_; my ($o, $e); my $r = IPC::Run::run([ $cli, @a ], '>', \$o, '2>', \$e); return ($r, $o // '', $e // ''); }
sub sql { my ($i, $q) = @_; my ($o, $e); IPC::Run::run([ 'psql', '-XAtq', '-d', $ci[$i], '-c', $q ], '>', \$o, '2>', \$e); chomp($o) if defined $o; return $o // ''; }
sub poll { my ($code) = @_; for (1 .. 600) { return 1 if $code->(); select(undef, undef, undef, 0.1); } return 0; }

my ($r, $o, $e) = cli('put', '-d', $ci[0], 'DEFAULT', 'greeting', '{"hello": "world"}');
is($o, "INSERT\n", 'put through the CLI');
ok(poll(sub { (cli('get', '-d', $ci[2], 'DEFAULT', 'greeting'))[1] eq "{\"hello\": \"world\"}\n" }),
	'get through the CLI in another zone sees it');
($r, $o, $e) = cli('get', '-d', $ci[1], 'DEFAULT', 'nothing-here');
is($? >> 8, 3, 'get of a missing key exits with status 3');
($r, $o, $e) = cli('put', '-d', $ci[0], 'nowhere', 'k', '{}');
like($e, qr/GK001: namespace "nowhere" does not exist/, 'server errors come with their SQLSTATE');
($r, $o, $e) = cli('delete', '-d', $ci[1], 'DEFAULT', 'greeting');
is($o, "DELETED\n", 'delete through the CLI');
ok(poll(sub { (cli('get', '-d', $ci[0], 'DEFAULT', 'greeting'))[0] == 0 && $? >> 8 == 3 }),
	'the delete reached zone1');

($r, $o, $e) = cli('status', '-d', $ci[0]);
like($o, qr/Replication \(this node pulling from each peer\)/, 'status prints the replication table');
my @connected = ($o =~ /^\s+\d+\s+node\d\s+t\s/mg);
is(scalar(@connected), 2, 'status shows both peers connected');

($r, $o, $e) = cli('verify', '--help');
ok($r, 'verify --help exits 0');
like($o, qr/\A  globalkv verify -d CONNINFO \[--shard S\] \[--peer NODE\]\n\nExit status: /,
	'verify --help prints the verify command and the exit statuses, nothing else');
($r, $o, $e) = cli('status', '--watch', '1', '--count', '2', '-d', $ci[0]);
my @pictures = ($o =~ /^globalkv status, every 1 s, \d\d:\d\d:\d\d$/mg);
is(scalar(@pictures), 2, 'status --watch 1 --count 2 prints the picture twice') or diag($o . $e);
like($o, qr/^Per second over the last [\d.]+ s: puts \d+, gets \d+/m, '... with the rates between them');

# every node serves /metrics on the port parade create printed
my @metrics_ports = ($out =~ m{metrics: http://127\.0\.0\.1:(\d+)/metrics}g);
is(scalar(@metrics_ports), 3, 'parade create printed a metrics address per node');
{
	use IO::Socket::INET;
	my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $metrics_ports[1], Proto => 'tcp',
		Timeout => 5);
	print $sock "GET /metrics HTTP/1.0\r\n\r\n" if $sock;
	my $page = $sock ? join('', <$sock>) : '';
	like($page, qr/^globalkv_node_info\{node_id="2",node="node2",zone="zone2"\} 1$/m, 'node2 serves its metrics');
}

# verify and repair between zones, over the nodes' own least-privilege logins
($r, $o, $e) = cli('verify', '-d', $ci[0]);
is($? >> 8, 0, 'verify: the zones are in sync') or diag($o . $e);
sql(0, q{SELECT kv.put('DEFAULT', 'v' || g, '{"v": 1}') FROM generate_series(1, 50) g});
ok(poll(sub { sql(1, q{SELECT count(*) FROM kv.get_many('DEFAULT', ARRAY(SELECT 'v' || g FROM generate_series(1, 50) g)) WHERE value IS NOT NULL}) eq '50' }),
	'50 documents reached zone2');
sql(1, q{DO $$DECLARE t text; BEGIN FOR t IN SELECT table_name FROM globalkv.shards LOOP
  EXECUTE format('DELETE FROM globalkv_data.%I WHERE key IN (''v1'', ''v2'', ''v3'')', t); END LOOP; END$$});
($r, $o, $e) = cli('verify', '-d', $ci[0]);
is($? >> 8, 1, 'verify exits 1 after rows vanished from zone2') or diag($o . $e);
like($o, qr/^3 differing keys$/m, '... and counts them');
($r, $o, $e) = cli('repair', '-d', $ci[0], '--peer', 'node2');
is($? >> 8, 0, 'repair with node2 succeeds') or diag($o . $e);
($r, $o, $e) = cli('verify', '-d', $ci[1]);
is($? >> 8, 0, 'verify from zone2 finds every zone in sync again') or diag($o . $e);

# load and export: JSON lines in and out of a namespace
sql(0, q{SELECT kv.create_namespace('bulk'); SELECT kv.create_namespace('copy')});
ok(poll(sub { sql(2, q{SELECT count(*) FROM kv.namespaces WHERE name IN ('bulk', 'copy')}) eq '2' }),
	'the namespaces reached zone3');
my $file = "$dir/bulk.jsonl";
open(my $fh, '>', $file) or die;
print $fh qq({"key": "b$_", "value": {"n": $_, "s": "quote \\" and \\\\ backslash"}} \n) for 1 .. 12000;
print $fh qq({"key": "t$_", "value": {"t": $_}, "ttl": 3600}\n) for 1 .. 10;
close $fh;
($r, $o, $e) = cli('load', '-d', $ci[0], 'bulk', $file);
is($? >> 8, 0, 'load exits 0 when every line loads') or diag($o . $e);
like($o, qr/^12010 lines read, 12010 loaded, 0 bad, 0 blank/m, 'and counts them');
ok(poll(sub { sql(1, q{SELECT count(*) FROM kv.docs WHERE namespace = 'bulk'}) eq '12010' }),
	'zone2 reads all 12010 documents');
is(sql(2, q{SELECT kv.get('bulk', 'b7')}), '{"n": 7, "s": "quote \" and \\\\ backslash"}',
	'quotes and backslashes survive the trip');
cmp_ok(sql(0, q{SELECT ceil(extract(epoch FROM expires_at - now())) FROM kv.get_versioned('bulk', 't3')}), '>', 3500,
	'a ttl given on the line becomes the expiry');

# on several connections, a key's lines still land in the file's order:
# "again" is written in three batches of 5,000, the last line wins
my $order = "$dir/order.jsonl";
open($fh, '>', $order) or die;
for my $i (1 .. 12000)
{
	print $fh ($i % 5000 == 1 ? qq({"value": {"pass": $i}, "key": "again"}\n) : qq({"key": "o$i", "value": {}}\n));
}
close $fh;
($r, $o, $e) = cli('load', '-d', $ci[0], 'bulk', $order, '--jobs', '3');
is($? >> 8, 0, 'load --jobs 3 exits 0') or diag($o . $e);
is(sql(0, q{SELECT kv.get('bulk', 'again')}), '{"pass": 10001}', "a key's last line wins across batches and connections");
sql(0, q{SELECT count(*) FROM kv.put_many('bulk', ARRAY(SELECT 'o' || i FROM generate_series(1, 12000) i), ARRAY(SELECT '{}'::jsonb FROM generate_series(1, 12000))) x});
sql(0, q{SELECT kv.delete('bulk', k) FROM (SELECT 'o' || i AS k FROM generate_series(1, 12000) i UNION ALL SELECT 'again') x});

my $bad = "$dir/bad.jsonl";
open($fh, '>', $bad) or die;
print $fh qq|{"key": "g1", "value": {"g": 1}}\nnot json at all\n{"key": "g2"}\n\n{"key": "| . ('x' x 2000)
  . qq|", "value": {}}\n{"key": "g3", "value": {}, "ttl": -5}\n{"key": "g4", "value": {"g": 4}}\n{"key": "g5", "value": [5]}\n|;
close $fh;
($r, $o, $e) = cli('load', '-d', $ci[1], 'bulk', $bad);
is($? >> 8, 1, 'load exits 1 when some lines are bad') or diag($o . $e);
like($e, qr/^line 2: not JSON/m, 'a line that is not JSON is named');
like($e, qr/^line 3: expected \{"key"/m, 'a line without a value is named');
like($e, qr/^line 5: .*key/m, 'a key the server refuses is named');
like($e, qr/^line 6: expected/m, 'a negative ttl is named');
like($e, qr/^line 8: document must be a JSON object/m, 'a document that is not an object is named');
like($o, qr/^8 lines read, 2 loaded, 5 bad, 1 blank/m, 'the good lines loaded, the blank one skipped') or diag($o);
ok(poll(sub { sql(0, q{SELECT count(*) FROM kv.get_many('bulk', ARRAY['g1', 'g2', 'g3', 'g4', 'g5']) WHERE value IS NOT NULL}) eq '2' }),
	'exactly the good lines are there (loaded in zone2, read in zone1)');
is(sql(1, q{SELECT string_agg(key, ',' ORDER BY key) FROM kv.get_many('bulk', ARRAY['g1', 'g2', 'g3', 'g4', 'g5']) WHERE value IS NOT NULL}),
	'g1,g4', '... g1 and g4');
($r, $o, $e) = cli('load', '-d', $ci[1], 'nowhere', $bad);
is($? >> 8, 2, 'load into a namespace that does not exist is an error (exit 2)');
like($e, qr/GK001/, '... with its SQLSTATE');

# CSV: key,value[,ttl], quoted fields over several lines, a header
my $csvfile = "$dir/bulk.csv";
open($fh, '>', $csvfile) or die;
print $fh qq|key,value,ttl\nc1,"{""a"": 1}",\nc2,"{""text"": ""with, comma"",\n""n"": 2}",3600\nc3,not json,\nc4\n"c,5","{""b"": 2}",\n|;
close $fh;
($r, $o, $e) = cli('load', '-d', $ci[0], 'bulk', $csvfile);
is($? >> 8, 1, 'load of a CSV file with two bad records exits 1') or diag($o . $e);
like($o, qr/^6 records read, 3 loaded, 2 bad, 1 blank/m, 'three records loaded (the header counts as blank)') or diag($o);
like($e, qr/^line 5: not JSON/m, 'a bad value is named by its line in the file (record 4 spans lines 3-4 before it)');
like($e, qr/^line 6: expected key,value\[,ttl\] \(1 fields\)/m, 'a record without a value is named');
is(sql(0, q{SELECT kv.get('bulk', 'c2')}), '{"n": 2, "text": "with, comma"}', 'a quoted value over two lines, with commas and quotes');
is(sql(0, q{SELECT kv.get('bulk', 'c,5')}), '{"b": 2}', 'a quoted key with a comma');
cmp_ok(sql(0, q{SELECT ceil(extract(epoch FROM expires_at - now())) FROM kv.get_versioned('bulk', 'c2')}), '>', 3500,
	'the ttl column becomes the expiry');
sql(0, q{SELECT kv.delete('bulk', k) FROM unnest(ARRAY['c1', 'c2', 'c,5']) k});

my ($exported, $xerr) = ('', '');
IPC::Run::run([ $cli, 'export', '-d', $ci[2], 'bulk', '--prefix', 'b1' ], '>', \$exported, '2>', \$xerr);
my @lines = split /\n/, $exported;
is(scalar(@lines), 3112,
	'export --prefix b1 writes the documents whose key starts with b1') or diag(scalar(@lines));
like($xerr, qr/documents exported/, 'export reports its count on stderr');
IPC::Run::run([ $cli, 'export', '-d', $ci[2], 'bulk' ], '>', \$exported, '2>', \$xerr);
open($fh, '>', "$dir/all.jsonl") or die;
print $fh $exported;
close $fh;
($r, $o, $e) = cli('load', '-d', $ci[0], 'copy', "$dir/all.jsonl");
is($? >> 8, 0, 'what export wrote, load takes back') or diag($o . $e);
is(sql(0, q{SELECT count(*) FROM kv.docs WHERE namespace = 'copy'}), sql(0, q{SELECT count(*) FROM kv.docs WHERE namespace = 'bulk'}),
	'the copy holds as many documents as the original');
is(sql(0, q{SELECT count(*) FROM kv.docs a JOIN kv.docs b ON b.key = a.key
            WHERE a.namespace = 'bulk' AND b.namespace = 'copy' AND a.value = b.value AND (a.expires_at IS NULL) = (b.expires_at IS NULL)}),
	sql(0, q{SELECT count(*) FROM kv.docs WHERE namespace = 'bulk'}), 'with the same values and expiries');

# security: peers use scram-sha-256 as globalkv_repl, a least-privilege role
is(sql(0, q{SELECT rolsuper OR rolcreaterole OR rolcreatedb FROM pg_roles WHERE rolname = 'globalkv_repl'}), 'f',
	'the replication role has no special privileges');
is(sql(0, q{SELECT pg_has_role('globalkv_repl', 'globalkv_replication', 'member')}), 't',
	'it is a member of globalkv_replication');
is(sql(0, q{SELECT rolpassword LIKE 'SCRAM-SHA-256$%' FROM pg_authid WHERE rolname = 'globalkv_repl'}), 't',
	'its password is stored as a SCRAM verifier');
is(sql(0, q{SELECT count(*) FROM globalkv.nodes WHERE conninfo ~ 'password'}), '0',
	'no password in the catalog: connection strings name a passfile');
is((stat("$dir/pgpass"))[2] & 07777, 0600, 'the passfile is readable by its owner only');
my $repl = "host=127.0.0.1 port=$ports[1] user=globalkv_repl dbname=postgres passfile=$dir/pgpass";
my ($o2, $e2);
IPC::Run::run([ 'psql', '-XAtq', '-d', $repl, '-c', 'SELECT count(*) FROM globalkv_data.shard_0000' ], '>', \$o2, '2>', \$e2);
like($e2, qr/permission denied/, 'the replication role cannot read shard tables');
IPC::Run::run([ 'psql', '-XAtq', '-d', $repl, '-c', q{SELECT kv.create_namespace('nope')} ], '>', \$o2, '2>', \$e2);
like($e2, qr/permission denied/, 'nor call admin functions (it may call the client API: nodes forward calls with it)');
IPC::Run::run([ 'psql', '-XAtq', '-d', "host=127.0.0.1 port=$ports[1] user=globalkv_repl dbname=postgres passfile=/dev/null",
	'-w', '-c', 'SELECT 1' ], '>', \$o2, '2>', \$e2);
like($e2, qr/password/, 'without the password it cannot connect at all');

# TLS between the nodes (docs/security.md): the default
like($out, qr/peers connect over TLS \(sslmode=verify-full/, 'parade create says peers use TLS');
like(sql(0, q{SELECT string_agg(conninfo, ' ') FROM globalkv.nodes}), qr/sslmode=verify-full sslrootcert=\S+ca\.crt/,
	'every peer connection string asks for verify-full against the parade CA');
is(sql(0, q{SELECT count(*) FILTER (WHERE NOT s.ssl) || '/' || count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
            WHERE a.usename = 'globalkv_repl' AND a.backend_type = 'client backend'}) =~ m{^0/[1-9]} ? 1 : 0, 1,
	'the peers pulling from node1 are connected over TLS, all of them');
my ($nossl_out, $nossl_err) = ('', '');
IPC::Run::run([ 'psql', '-XAtq', '-d', "host=127.0.0.1 port=$ports[0] dbname=postgres user=globalkv_repl passfile=$dir/pgpass sslmode=disable",
	'-c', 'SELECT 1' ], '>', \$nossl_out, '2>', \$nossl_err);
like($nossl_err, qr/pg_hba\.conf rejects connection .* user "globalkv_repl".*no encryption/,
	'the peers\' login without TLS is refused');

# a node presenting a certificate of another CA is refused by its peers
my $node3 = "$dir/node3";
system('openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
	'-keyout', "$dir/rogue-ca.key", '-out', "$dir/rogue-ca.crt", '-days', '1', '-subj', '/CN=rogue CA') == 0 or die;
system("openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout $dir/rogue.key -out $dir/rogue.csr -subj /CN=127.0.0.1 2>/dev/null"
	. " && printf 'subjectAltName = IP:127.0.0.1\\n' > $dir/rogue.ext"
	. " && openssl x509 -req -in $dir/rogue.csr -CA $dir/rogue-ca.crt -CAkey $dir/rogue-ca.key -CAcreateserial"
	. " -out $dir/rogue.crt -days 1 -extfile $dir/rogue.ext 2>/dev/null"
	. " && cp $node3/server.crt $dir/good.crt && cp $node3/server.key $dir/good.key"
	. " && cp $dir/rogue.crt $node3/server.crt && cp $dir/rogue.key $node3/server.key && chmod 600 $node3/server.key") == 0
  or die 'could not make the rogue certificate';
system('pg_ctl', '-s', '-D', $node3, 'restart', '-m', 'fast', '-w') == 0 or die;
ok(poll(sub { sql(0, q{SELECT last_error FROM kv.replication_status WHERE peer_name = 'node3'}) =~ /certificate verify failed/ }),
	'node1 refuses node3 once node3 presents a certificate of another CA');
system("cp $dir/good.crt $node3/server.crt && cp $dir/good.key $node3/server.key && chmod 600 $node3/server.key") == 0 or die;
system('pg_ctl', '-s', '-D', $node3, 'restart', '-m', 'fast', '-w') == 0 or die;
ok(poll(sub { sql(0, q{SELECT connected AND last_error IS NULL FROM kv.replication_status WHERE peer_name = 'node3'}) eq 't' }),
	'and pulls from it again once its own certificate is back');

# stop and start: data and replication come back
($r, $o, $e) = cli('parade', 'stop', '--dir', $dir);
ok($r, 'parade stop') or diag($e);
($r, $o, $e) = cli('parade', 'start', '--dir', $dir);
ok($r, 'parade start waits for replication') or diag($e);
sql(2, q{SELECT kv.put('DEFAULT', 'after-restart', '{"z": 3}')});
ok(poll(sub { sql(0, q{SELECT kv.get('DEFAULT', 'after-restart')}) eq '{"z": 3}' }),
	'replication works after the restart');
# growth: a node joins zone1 empty, and rebalance gives it half the shards
sql(0, q{SELECT count(*) FROM kv.put_many('DEFAULT', ARRAY(SELECT 'g' || i FROM generate_series(1, 300) i),
	ARRAY(SELECT jsonb_build_object('g', i) FROM generate_series(1, 300) i), 'NO_EXPIRE')});
($r, $o, $e) = cli('parade', 'add-node', '--dir', $dir, '--zone', 'zone1');
ok($r, 'parade add-node joins a fourth node to zone1') or diag("$o\n$e");
like($o, qr/node4 joined zone1.*holds no shard yet/s, 'it says the new node holds nothing yet');
my ($port4) = $o =~ /127\.0\.0\.1:(\d+)/;
push @ci, "host=$dir port=$port4 user=postgres dbname=postgres";
is(sql(3, q{SELECT count(*) FROM kv.placements WHERE node_name = 'node4'}), '0', 'node4 holds no shard');
($r, $o, $e) = cli('rebalance', '--zone', 'zone1', '-d', $ci[0]);
ok($r, 'rebalance succeeds') or diag("$o\n$e");
like($o, qr/zone zone1 is balanced \(8 moves\)/, 'rebalance moves half of the 16 shards');
ok(poll(sub { sql(2, q{SELECT count(*) FROM kv.placements WHERE node_name = 'node4'}) eq '8' }),
	'every zone learns node4 holds 8 shards');
($r, $o, $e) = cli('status', '-d', $ci[3]);
like($o, qr/Placements per node.*zone1\s+node1\s+8 .*zone1\s+node4\s+8 /s, 'status shows the placements per node');
is(sql(3, q{SELECT count(*) FROM kv.get_many('DEFAULT', ARRAY(SELECT 'g' || i FROM generate_series(1, 300) i)) WHERE value IS NOT NULL}),
	'300', 'every document is readable through the new node');
is(sql(0, q{SELECT count(*) FROM globalkv.shard_rows() r JOIN kv.placements p ON p.shard_id = r.shard_id
	AND p.zone_name = 'zone1' AND NOT p.is_local}), '0', 'node1 kept no document of the shards it gave away');
cli('parade', 'stop', '--dir', $dir);
done_testing();
