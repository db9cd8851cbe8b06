# 027_verify_repair.pl -- anti-entropy (src/operations/anti_entropy.c,
# docs/operations.md "Verify and repair"):
#
#  1. two zones in sync: `globalkv verify` exits 0, having moved far less
#     than 0.1 % of the data's bytes;
#  2. zone2's shard tables damaged behind globalkv's back (rows deleted,
#     values changed under the same version, an older version put back):
#     verify exits 1 and counts every damaged key; `globalkv repair` mends
#     them through the merge, moving about the differing rows' bytes; then
#     verify exits 0 from either side and the digests are identical;
#  3. no resurrection: a key deleted, its tombstone purged everywhere, an old
#     live copy put back on zone2 -- repair removes it instead of copying it,
#     and the key stays deleted on both;
#  4. a repair killed with -9 (the peer receiving the rows) is run again and
#     finishes; everything is back;
#  5. the background repair (globalkv.repair_interval) finds and mends damage
#     by itself, shard after shard, and shows its progress in
#     kv.repair_status.
use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(sleep);
use GkvTest;

my $conf = "globalkv.tombstone_min_age = 0\n";
my $z1 = new_parade_node('zone1', 1, conf => $conf);
my $z2 = new_parade_node('zone2', 2, conf => $conf);
join_parade([ $z1, $z2 ], $z1, $z2);
ok(wait_connected($_, 1), $_->name . ' pulls from its peer') foreach ($z1, $z2);

$z1->safe_psql('postgres', q{SELECT kv.create_namespace('ae')});
ok($z2->poll_query_until('postgres', q{SELECT count(*) = 1 FROM kv.namespaces WHERE name = 'ae'}),
	'namespace reached zone2');
$z1->safe_psql('postgres', q{
SELECT count(*) FROM kv.put_many('ae', ARRAY(SELECT 'k' || g FROM generate_series(1, 100000) g),
       ARRAY(SELECT jsonb_build_object('n', g, 'user', 'user-' || g, 'note', repeat('x', 80))
               FROM generate_series(1, 100000) g));
SELECT kv.patch_numeric('ae', 'ctr' || g, '{"hits": 1}') FROM generate_series(1, 20) g;
});
$z2->safe_psql('postgres', q{SELECT kv.patch_numeric('ae', 'ctr' || g, '{"hits": 2}') FROM generate_series(1, 20) g});
ok(wait_converged('ae', $z1, $z2), 'the zones agree after the load');

# run the CLI against a node: (exit status, stdout, stderr)
sub cli
{
	my ($node, @args) = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run([ 'globalkv', @args, '-d', 'host=127.0.0.1 port=' . $node->port . ' dbname=postgres' ],
		'>', \$out, '2>', \$err);
	return ($? >> 8, $out, $err);
}

my $data_bytes = $z1->safe_psql('postgres',
	q{SELECT sum(octet_length(namespace) + octet_length(key) + octet_length(value::text) + 20)
	    FROM globalkv.shard_rows()});

# 1. in sync
my ($rc, $out, $err) = cli($z1, 'verify');
is($rc, 0, 'verify exits 0 when the zones agree') or diag("$out$err");
like($out, qr/in sync/, 'and says so');
my $verify_bytes = $z1->safe_psql('postgres', q{SELECT sum(bytes) FROM kv.verify()});
cmp_ok($verify_bytes, '<=', 0.001 * $data_bytes,
	"verify of copies that agree moved $verify_bytes bytes for $data_bytes bytes of data (<= 0.1 %)");

# 2. damage zone2 as superuser, behind globalkv's back
my $tables = $z2->safe_psql('postgres', q{SELECT string_agg(table_name, ' ' ORDER BY shard_id) FROM globalkv.shards});
my @tables = split / /, $tables;
my @damaged;
foreach my $i (0 .. 2)
{
	my $t = $tables[$i];
	push @damaged, split /\n/, $z2->safe_psql('postgres', qq{
WITH d AS (DELETE FROM globalkv_data.$t WHERE ctid IN (SELECT ctid FROM globalkv_data.$t
             WHERE key LIKE 'k%' ORDER BY key LIMIT 10) RETURNING key) SELECT key FROM d});
	push @damaged, split /\n/, $z2->safe_psql('postgres', qq{
WITH d AS (UPDATE globalkv_data.$t SET value = '{"damaged": true}' WHERE ctid IN (SELECT ctid FROM globalkv_data.$t
             WHERE key LIKE 'k%' ORDER BY key DESC LIMIT 5) RETURNING key) SELECT key FROM d});
	push @damaged, split /\n/, $z2->safe_psql('postgres', qq{
WITH d AS (UPDATE globalkv_data.$t SET value = '{"old": true}', hlc = hlc - 1000000
             WHERE ctid IN (SELECT ctid FROM globalkv_data.$t
             WHERE key LIKE 'k%' ORDER BY key DESC OFFSET 5 LIMIT 5) RETURNING key) SELECT key FROM d});
}
is(scalar(@damaged), 60, 'zone2 damaged: 30 rows deleted, 15 values changed, 15 older versions put back');
my $keys_sql = join(',', map { "'$_'" } @damaged);
my $differing_row_bytes = $z1->safe_psql('postgres', qq{
SELECT sum(octet_length(r::text)) FROM globalkv.shard_rows() s,
       LATERAL (SELECT jsonb_build_object('namespace', s.namespace, 'key', s.key, 'value', s.value,
                'hlc', s.hlc, 'origin', s.origin, 'expires_at', s.expires_at, 'crdt', encode(s.crdt, 'hex'))) x(r)
 WHERE s.key IN ($keys_sql)});

($rc, $out, $err) = cli($z1, 'verify');
is($rc, 1, 'verify exits 1 when the copies differ') or diag("$out$err");
like($out, qr/^60 differing keys$/m, 'and counts the 60 damaged keys');
like($err, qr/kv\.verify: shard \d+ with node "zone2": \d+ differing keys/, 'progress per shard on stderr');
($rc, $out, $err) = cli($z2, 'verify', '--peer', 'zone1', '--shard', $z2->safe_psql('postgres',
		q{SELECT shard_id FROM globalkv.shards ORDER BY shard_id LIMIT 1}));
is($rc, 1, 'verify from zone2, one shard and one peer, finds the damage too') or diag("$out$err");
like($out, qr/^20 differing keys$/m, 'the 20 damaged keys of that shard');

($rc, $out, $err) = cli($z1, 'repair');
is($rc, 0, 'repair exits 0') or diag("$out$err");
like($out, qr/60 differing keys repaired/, 'repair mended the 60 keys');
ok(wait_converged('ae', $z1, $z2), 'digests identical after the repair');
($rc, $out, $err) = cli($z1, 'verify');
is($rc, 0, 'verify from zone1 exits 0 after the repair') or diag("$out$err");
($rc, $out, $err) = cli($z2, 'verify');
is($rc, 0, 'verify from zone2 exits 0 after the repair') or diag("$out$err");
is($z2->safe_psql('postgres', qq{SELECT count(*) FROM kv.docs WHERE namespace = 'ae' AND key IN ($keys_sql)
                                  AND value ? 'n'}), '60', 'zone2 reads the 60 documents as written');

# the rows repair moved, against the differing rows' bytes
$z2->safe_psql('postgres', qq{DELETE FROM globalkv_data.$tables[3] WHERE key IN
  (SELECT key FROM globalkv_data.$tables[3] WHERE key LIKE 'k%' ORDER BY key LIMIT 40)});
my $moved_expected = $z1->safe_psql('postgres', qq{
SELECT sum(octet_length(jsonb_build_object('namespace', namespace, 'key', key, 'value', value,
          'hlc', hlc, 'origin', origin, 'expires_at', expires_at, 'crdt', encode(crdt, 'hex'))::text))
  FROM (SELECT * FROM globalkv_data.$tables[3] WHERE key LIKE 'k%' ORDER BY key LIMIT 40) lost});
my ($row_bytes, $sent) = split /\|/, $z1->safe_psql('postgres',
	q{SELECT sum(row_bytes), sum(sent) FROM kv.repair()});
is($sent, 40, 'repair sent the 40 documents zone2 lost');
cmp_ok($row_bytes, '<=', 1.2 * $moved_expected,
	"and moved $row_bytes bytes of rows for $moved_expected bytes of differing rows (<= 1.2x)");

# 3. no resurrection: delete, purge everywhere, put an old live copy back on zone2
$z1->safe_psql('postgres', q{SELECT kv.put('ae', 'gone', '{"v": 1}')});
ok($z2->poll_query_until('postgres', q{SELECT kv.get('ae', 'gone') IS NOT NULL}), 'zone2 has the document');
my $shard_gone = $z1->safe_psql('postgres', q{SELECT shard FROM kv.key_shard('ae', 'gone')});
my $t_gone = $z1->safe_psql('postgres', "SELECT table_name FROM globalkv.shards WHERE shard_id = $shard_gone");
my $old_row = $z2->safe_psql('postgres', "SELECT format('(%L, %L, %L, %s, %s, NULL, NULL, %s)', namespace, key, value, hlc, origin, seq)"
	  . " FROM globalkv_data.$t_gone WHERE key = 'gone'");
$z1->safe_psql('postgres', q{SELECT kv.delete('ae', 'gone')});
ok($z2->poll_query_until('postgres', "SELECT count(*) = 1 FROM globalkv_data.$t_gone WHERE key = 'gone' AND value IS NULL"),
	'zone2 has the tombstone');
foreach my $n ($z1, $z2)
{
	ok($n->poll_query_until('postgres',
			qq{SELECT globalkv.purge_tombstones(604800, 0, 1000) >= 0
			      AND NOT EXISTS (SELECT 1 FROM globalkv_data.$t_gone WHERE key = 'gone')}),
		$n->name . ' purged the tombstone once its peer acknowledged it');
}
$z2->safe_psql('postgres', "INSERT INTO globalkv_data.$t_gone VALUES $old_row");
is($z2->safe_psql('postgres', q{SELECT kv.get('ae', 'gone')}), '{"v": 1}',
	'zone2 damaged: the deleted document is back there, with its old version');
($rc, $out, $err) = cli($z1, 'verify');
is($rc, 1, 'verify sees the difference') or diag("$out$err");
my $removed = $z1->safe_psql('postgres', "SELECT sum(removed) FROM kv.repair($shard_gone)");
is($removed, '1', 'repair removed the old copy: older than what zone1 purged');
is($z1->safe_psql('postgres', q{SELECT kv.get('ae', 'gone') IS NULL}), 't', 'the key stays deleted on zone1');
is($z2->safe_psql('postgres', q{SELECT kv.get('ae', 'gone') IS NULL}), 't', 'and on zone2');
($rc, $out, $err) = cli($z1, 'verify');
is($rc, 0, 'verify exits 0') or diag("$out$err");

# 4. a repair killed with -9, run again
$z2->safe_psql('postgres', join(";\n", map { "DELETE FROM globalkv_data.$_ WHERE key LIKE 'k%' AND key NOT LIKE 'k1%'" } @tables));
my $live = q{SELECT count(*) FROM globalkv.shard_rows() WHERE namespace = 'ae' AND value IS NOT NULL};
my $before = $z2->safe_psql('postgres', $live);
my ($rout, $rerr) = ('', '');
my $run = IPC::Run::start([ 'globalkv', 'repair', '-d', 'host=127.0.0.1 port=' . $z1->port . ' dbname=postgres' ],
	'>', \$rout, '2>', \$rerr);
ok($z2->poll_query_until('postgres', "SELECT ($live) > $before + 1000"), 'zone2 is receiving rows from the repair');
kill9_and_wait($z2);
$run->finish;
isnt($run->result(0), 0, 'the interrupted repair failed') or diag("$rout$rerr");
like($rerr, qr/zone2/, 'and named the node it lost');
start_after_crash($z2);
ok(wait_connected($z2, 1), 'zone2 is back');
($rc, $out, $err) = cli($z1, 'repair');
is($rc, 0, 'the repair run again finishes') or diag("$out$err");
($rc, $out, $err) = cli($z1, 'verify');
is($rc, 0, 'verify exits 0') or diag("$out$err");
ok(wait_converged('ae', $z1, $z2), 'digests identical');
is($z2->safe_psql('postgres', $live), $z1->safe_psql('postgres', $live), 'zone2 holds every document zone1 holds');

# 5. the background repair
is($z1->safe_psql('postgres', q{SELECT enabled::text || '/' || rounds FROM kv.repair_status}), 'false/0',
	'the background repair is off by default');
$z2->safe_psql('postgres', "DELETE FROM globalkv_data.$tables[5] WHERE key IN (SELECT key FROM globalkv_data.$tables[5] WHERE key LIKE 'k%' ORDER BY key LIMIT 25)");
$z1->safe_psql('postgres', q{ALTER SYSTEM SET globalkv.repair_interval = '1s'; SELECT pg_reload_conf()});
ok($z1->poll_query_until('postgres', q{SELECT rounds >= 1 AND mended_last_round >= 25 FROM kv.repair_status}),
	'a round of the background repair mended the 25 documents zone2 lost');
is($z1->safe_psql('postgres', q{SELECT shards_total || '/' || coalesce(last_error, '') FROM kv.repair_status}), '16/',
	'it went over the 16 shards without an error');
ok(wait_converged('ae', $z1, $z2), 'digests identical again');
($rc, $out, $err) = cli($z1, 'verify');
is($rc, 0, 'verify exits 0') or diag("$out$err");
$z1->safe_psql('postgres', q{ALTER SYSTEM RESET globalkv.repair_interval; SELECT pg_reload_conf()});

done_testing();
