# 022_docs.pl -- kv.docs on 2 zones x 2 nodes, the shards of each zone
# spread over its two nodes, so every query needs both nodes of its zone:
#
#  - differential: the same queries (filters, aggregates, GROUP BY on JSON
#    fields, count(DISTINCT), joins of two namespaces -- inner, left, anti
#    -- ORDER BY/LIMIT, subqueries, CTEs) on kv.docs and on a plain table
#    holding the same rows, from a node of each zone: identical results;
#  - a point query runs as one call on the node holding the key (router),
#    anything else as a fragment on each node of the zone (fan-out), with
#    the conditions that can be shipped and only the columns used; GROUP
#    BY and aggregates run on the nodes, their partial results combined
#    here; ORDER BY ... LIMIT sends only each node's first rows;
#  - writes through kv.docs on one node replicate to the other zone;
#  - a node of the zone down: the query fails with GK018 naming the node,
#    never a partial answer.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use GkvTest;
use IPC::Run;
use JSON::PP;

my ($rc, $out, $err);

my @nodes = parade_2x2(8, "max_connections = 60\nclient_connection_check_interval = 500ms\n");
my ($z1a, $z1b, $z2a, $z2b) = @nodes;

$z1a->safe_psql('postgres', q{SELECT kv.create_namespace('shop'); SELECT kv.create_namespace('crm')});
foreach my $n (@nodes)
{
	$n->poll_query_until('postgres',
		q{SELECT count(*) = 2 FROM kv.namespaces WHERE name IN ('shop', 'crm')})
	  or die 'namespaces did not arrive on ' . $n->name;
}

# The documents, generated the same way into kv.docs and into a plain
# table "ref" on every node (seeded: the same every run).  Missing fields,
# JSON nulls, numbers and strings, nested objects.
my $generate = q{
	SELECT 'shop' AS namespace, 'o' || i AS key,
	       jsonb_strip_nulls(jsonb_build_object(
	           'customer', 'c' || (i * 7919 % 61),
	           'total', (i * 104729 % 997) / 10.0,
	           'qty', i % 13,
	           'paid', CASE WHEN i % 4 = 0 THEN NULL ELSE i % 3 = 0 END,
	           'tag', CASE WHEN i % 5 = 0 THEN NULL ELSE 't' || (i % 7) END,
	           'ship', jsonb_build_object('city', 'city' || (i % 9), 'express', i % 2 = 0)))
	       || CASE WHEN i % 11 = 0 THEN '{"note": null}'::jsonb ELSE '{}'::jsonb END AS value
	  FROM generate_series(1, 600) i
	UNION ALL
	SELECT 'crm', 'c' || i, jsonb_build_object('name', 'name' || i, 'tier', i % 3)
	  FROM generate_series(0, 49) i
};
$z1b->safe_psql('postgres', "INSERT INTO kv.docs (namespace, key, value) $generate");
# some go away again: deleted through kv.docs, and through the API
$z2a->safe_psql('postgres',
	q{DELETE FROM kv.docs WHERE namespace = 'shop' AND key IN ('o5', 'o50', 'o500')});
$z1a->safe_psql('postgres', q{SELECT kv.delete('crm', 'c7')});
foreach my $n (@nodes)
{
	$n->safe_psql('postgres', "CREATE TABLE ref AS $generate");
	$n->safe_psql('postgres',
		q{DELETE FROM ref WHERE (namespace, key) IN (('shop', 'o5'), ('shop', 'o50'), ('shop', 'o500'), ('crm', 'c7'))});
}
# the nodes holding the same shards in both zones agree
foreach my $ns ('shop', 'crm')
{
	ok(wait_converged($ns, $z1a, $z2a) && wait_converged($ns, $z1b, $z2b), "$ns converged across the zones");
}

my @queries = (
	q{SELECT count(*) FROM T},
	q{SELECT namespace, count(*) FROM T GROUP BY namespace ORDER BY 1},
	q{SELECT key FROM T WHERE namespace = 'shop' AND (value->>'total')::numeric > 90 ORDER BY key},
	q{SELECT value->>'customer' AS c, count(*), sum((value->>'total')::numeric), min((value->>'qty')::int),
	         max(value->>'tag'), avg((value->>'qty')::int)::numeric(10,4), bool_and((value->>'paid')::boolean),
	         bool_or((value->'ship'->>'express')::boolean)
	    FROM T WHERE namespace = 'shop' GROUP BY 1 HAVING count(*) > 5 ORDER BY 1},
	q{SELECT count(DISTINCT value->>'customer'), count(DISTINCT value->'ship'->>'city') FROM T WHERE namespace = 'shop'},
	q{SELECT value->>'tag' AS tag, count(*) FROM T WHERE namespace = 'shop' GROUP BY 1 ORDER BY 1 NULLS FIRST},
	q{SELECT count(*) FROM T WHERE namespace = 'shop' AND value ? 'note'},
	q{SELECT count(*) FROM T WHERE namespace = 'shop' AND value @> '{"ship": {"city": "city3"}}'},
	q{SELECT key FROM T WHERE namespace = 'shop' AND value->>'paid' IS NULL ORDER BY key LIMIT 7},
	q{SELECT key, value->>'total' FROM T WHERE namespace = 'shop'
	   ORDER BY (value->>'total')::numeric DESC, key LIMIT 5 OFFSET 3},
	q{SELECT o.key, c.value->>'name' FROM T o JOIN T c ON c.namespace = 'crm' AND c.key = o.value->>'customer'
	   WHERE o.namespace = 'shop' AND (o.value->>'qty')::int = 3 ORDER BY 1},
	q{SELECT count(*), count(c.key) FROM T o LEFT JOIN T c ON c.namespace = 'crm' AND c.key = o.value->>'customer'
	   WHERE o.namespace = 'shop'},
	q{SELECT c.key FROM T c WHERE c.namespace = 'crm'
	     AND NOT EXISTS (SELECT 1 FROM T o WHERE o.namespace = 'shop' AND o.value->>'customer' = c.key) ORDER BY 1},
	q{SELECT c.value->>'tier' AS tier, count(o.key) FROM T c LEFT JOIN T o
	     ON o.namespace = 'shop' AND o.value->>'customer' = c.key
	   WHERE c.namespace = 'crm' GROUP BY 1 ORDER BY 1},
	q{WITH big AS (SELECT key, (value->>'total')::numeric AS t FROM T WHERE namespace = 'shop' AND (value->>'total')::numeric > 50)
	  SELECT count(*), round(sum(t), 2) FROM big},
	q{SELECT key FROM T WHERE namespace = 'crm' AND key IN
	     (SELECT value->>'customer' FROM T WHERE namespace = 'shop' AND (value->>'qty')::int > 11) ORDER BY 1},
	q{SELECT key FROM T WHERE namespace = 'shop' AND key = 'o42'},
	q{SELECT value FROM T WHERE namespace = 'crm' AND key = 'c7'},
	q{SELECT count(*), sum((value->>'qty')::int), sum((value->>'qty')::bigint), avg((value->>'total')::numeric),
	         avg((value->>'qty')::bigint), min(key), max(key), bool_or((value->>'paid')::boolean)
	    FROM T WHERE namespace = 'nobody'},
	q{SELECT (value->>'qty')::int % 4 AS q4, value->'ship'->>'city' AS city, count(*) FILTER (WHERE value ? 'tag'),
	         max((value->>'total')::numeric) FILTER (WHERE (value->>'paid')::boolean)
	    FROM T WHERE namespace = 'shop' GROUP BY 1, 2 HAVING min(key) > 'o1' ORDER BY 1, 2},
	q{SELECT value->'ship', count(*) FROM T WHERE namespace = 'shop' GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 4},
	q{SELECT count(*) + 1, sum((value->>'qty')::int) / 2, count(*) > 100 FROM T WHERE namespace = 'shop'},
	q{SELECT c.key, o.key IS NOT NULL AS has, coalesce(o.value->>'tag', '?') FROM T c LEFT JOIN T o
	     ON o.namespace = 'shop' AND o.value->>'customer' = c.key AND (o.value->>'qty')::int = 1
	   WHERE c.namespace = 'crm' ORDER BY 1, 2, 3},
	q{SELECT c.key FROM T c LEFT JOIN T o ON o.namespace = 'shop' AND o.value->>'customer' = c.key
	   WHERE c.namespace = 'crm' AND o.key IS NULL ORDER BY 1},
	q{SELECT value->>'tag', coalesce(value->>'tag', 'ALL'), count(*) FROM T WHERE namespace = 'shop'
	   GROUP BY ROLLUP (value->>'tag') ORDER BY 1 NULLS FIRST, 2, 3},
	q{SELECT count(*) FROM T d JOIN (SELECT 1 AS one) x ON true, LATERAL jsonb_object_keys(d.value) k
	   WHERE d.namespace = 'crm'},
	q{SELECT count(*), sum((j.value->>'qty')::int) FROM (T d JOIN (SELECT 1 AS one) x ON true) AS j
	   WHERE j.namespace = 'shop' AND j.key > 'o3'},
	q{SELECT count(*) FROM (T d JOIN (SELECT 1 AS one) x ON true) AS j, LATERAL jsonb_object_keys(j.value) k
	   WHERE j.namespace = 'crm'},
	q{SELECT key, value->>'tag' FROM T WHERE namespace = 'shop' AND value->>'tag' IS NOT NULL
	   ORDER BY value->'tag', key LIMIT 4},
);

foreach my $from ($z1a, $z2b)
{
	foreach my $i (0 .. $#queries)
	{
		(my $on_docs = $queries[$i]) =~ s/\bT\b/kv.docs/g;
		(my $on_ref = $queries[$i]) =~ s/\bT\b/ref/g;
		my $got = $from->safe_psql('postgres', $on_docs);
		my $want = $from->safe_psql('postgres', $on_ref);
		is($got, $want, 'query ' . ($i + 1) . ' from ' . $from->name . ' matches the plain table');
	}
}

# the plans: one call to the node holding the key, a fragment on every node
my $plan = $z1a->safe_psql('postgres',
	q{EXPLAIN (VERBOSE, COSTS OFF) SELECT value FROM kv.docs WHERE namespace = 'shop' AND key = 'o42'});
like($plan, qr/docs_router\('shop'::text, 'o42'::text, true\)/, 'a point query is routed');
$plan = $z1a->safe_psql('postgres',
	q{EXPLAIN (VERBOSE, COSTS OFF) SELECT key FROM kv.docs WHERE namespace = 'shop' AND (value->>'qty')::int = 3});
like($plan, qr/docs_fanout/, 'any other query fans out');
like($plan, qr/WHERE \(docs.namespace = ''shop''::text\) AND \(\(\(docs.value ->> ''qty''::text\)\)::integer = 3\)/,
	'its conditions are shipped');
like($plan, qr/docs_fanout\('SELECT docs.key FROM kv.docs docs WHERE/,
	'and columns only they read stay behind');
$plan = $z1a->safe_psql('postgres', q{EXPLAIN (VERBOSE, COSTS OFF)
	SELECT o.key, c.value->>'name' FROM kv.docs o JOIN kv.docs c ON c.namespace = 'crm' AND c.key = o.value->>'customer'
	 WHERE o.namespace = 'shop' AND (o.value->>'qty')::int > random() * 10 ORDER BY 1});
like($plan, qr/docs_fanout\('SELECT docs.key, \(docs.value ->> ''customer''::text\), \(docs.value ->> ''qty''::text\) FROM kv.docs docs WHERE \(docs.namespace = ''shop''::text\)'/,
	'what the query reads of a document is computed on the nodes: its fields travel, not the document');
$plan = $z1a->safe_psql('postgres',
	q{EXPLAIN (VERBOSE, COSTS OFF) SELECT count(*) FROM kv.docs WHERE namespace = 'shop' AND value->>'tag' = random()::text});
my ($call) = $plan =~ /(Function Call: docs_fanout.*)/;
unlike($call, qr/random/, 'a volatile condition is not shipped');
like($plan, qr/Filter: .*random\(\)/, 'it is evaluated here');
like($call, qr/docs.namespace = ''shop''::text/, 'while the others still are shipped');

# aggregates and GROUP BY run on the nodes; here the partial results are combined
$plan = $z1a->safe_psql('postgres', q{EXPLAIN (VERBOSE, COSTS OFF)
	SELECT value->>'customer', count(*), avg((value->>'qty')::int), min(key) FROM kv.docs
	 WHERE namespace = 'shop' GROUP BY 1 HAVING sum((value->>'total')::numeric) > 10 ORDER BY 2 DESC LIMIT 3});
($call) = $plan =~ /(Function Call: docs_fanout.*)/;
like($call, qr/SELECT \(docs.value ->> ''customer''::text\), count\(\*\), sum\(\(\(docs.value ->> ''qty''::text\)\)::integer\), count\(\(\(docs.value ->> ''qty''::text\)\)::integer\), min\(docs.key\), sum\(/,
	'GROUP BY and the aggregates are shipped (avg as a sum and a count, HAVING\'s aggregate too)');
like($call, qr/GROUP BY 1'/, 'each node groups its own rows');
like($plan, qr/HashAggregate|GroupAggregate/, 'and the groups of every node are combined here');
unlike($plan, qr/Output: .*d\.value/, 'no document travels');
# count(DISTINCT) and grouping that cannot be split are repartitioned
my $log_offset = -s $z1b->logfile;
$plan = $z1a->safe_psql('postgres', q{EXPLAIN (ANALYZE, VERBOSE, COSTS OFF)
	SELECT count(DISTINCT value->>'customer') FROM kv.docs WHERE namespace = 'shop'});
like($plan, qr/Function Call: docs_repartition\('SELECT pg_catalog.count\(s.v\) FROM \(SELECT \(docs.value ->> ''customer''::text\) AS v FROM kv.docs docs WHERE \(docs.namespace = ''shop''::text\) AND \(COALESCE\(\(\(hashtext/,
	'count(DISTINCT) is repartitioned by a hash of the value');
# the bucket nodes ship their bucket's condition on: a node sends each bucket
# only the distinct values of that bucket
ok($z1b->log_contains(qr/FROM kv.docs docs WHERE \(docs.namespace = 'shop'::text\) AND \(COALESCE\(\(\(hashtext\(\(docs.value ->> 'customer'::text\)\) & 2147483647\) % 2\), 0\) = [01]\) GROUP BY 1/, $log_offset),
	'each bucket asks every node only for its own distinct values');
like($plan, qr/Strategy: repartition/, 'EXPLAIN says so');
my @bucket_rows = $plan =~ /Task: z1\w, (\d+) rows/g;
is("@bucket_rows", '1 1', 'this node receives one count per bucket, never the values');
$plan = $z1a->safe_psql('postgres', q{EXPLAIN (VERBOSE, COSTS OFF)
	SELECT value->>'customer', count(DISTINCT value->>'tag') FROM kv.docs WHERE namespace = 'shop' GROUP BY 1 HAVING count(*) > 3});
like($plan, qr/docs_repartition\('SELECT \(docs.value ->> ''customer''::text\), count\(DISTINCT \(docs.value ->> ''tag''::text\)\) FROM kv.docs docs WHERE .* GROUP BY 1 HAVING \(count\(\*\) > 3\)'/,
	'a GROUP BY with count(DISTINCT) runs whole on each bucket, HAVING too');
# a join of two namespaces on a document field: both sides repartitioned by the key
$plan = $z1a->safe_psql('postgres', q{EXPLAIN (ANALYZE, VERBOSE, COSTS OFF)
	SELECT c.value->>'tier', count(*) FROM kv.docs o LEFT JOIN kv.docs c ON c.namespace = 'crm' AND c.key = o.value->>'customer'
	 WHERE o.namespace = 'shop' GROUP BY 1});
like($plan, qr/docs_repartition\(' SELECT \(c.value ->> ''tier''::text\) AS c1,\s+count\(\*\) AS c2\s+FROM \(kv.docs o\s+LEFT JOIN kv.docs c ON .*COALESCE\(\(\(hashtext\(c.key\) & 2147483647\) % \$2\), 0\) = \$1.*WHERE .*COALESCE\(\(\(hashtext\(\(o.value ->> ''customer''::text\)\) & 2147483647\) % \$2\), 0\) = \$1/s,
	'a LEFT JOIN is repartitioned: the preserved side cut into buckets in WHERE, the nullable side in ON');
ok($z1b->log_contains(qr/FROM kv.docs docs WHERE \(docs.namespace = 'shop'::text\) AND \(COALESCE\(\(\(hashtext\(\(docs.value ->> 'customer'::text\)\) & 2147483647\) % 2\), 0\) = [01]\)/, $log_offset),
	'each bucket asks every node only for the rows of its bucket of the join');
my @join_rows = $plan =~ /Task: z1\w, (\d+) rows/g;
ok(@join_rows == 2 && $join_rows[0] <= 4 && $join_rows[1] <= 4,
	"each bucket sends its groups, not the joined rows (@join_rows)") or diag($plan);
$plan = $z1a->safe_psql('postgres', q{EXPLAIN (VERBOSE, COSTS OFF)
	SELECT max(value->>'tag') FROM kv.docs WHERE namespace = 'shop'});
($call) = $plan =~ /(Function Call: docs_fanout.*)/;
unlike($call, qr/max/, 'nor is max() of text ordered by a locale\'s rules');
$plan = $z1a->safe_psql('postgres', q{EXPLAIN (VERBOSE, COSTS OFF)
	SELECT key FROM kv.docs WHERE namespace = 'shop' ORDER BY (value->>'total')::numeric DESC, key LIMIT 5 OFFSET 3});
like($plan, qr/ORDER BY \(\(docs.value ->> ''total''::text\)\)::numeric DESC NULLS FIRST, docs.key ASC NULLS LAST LIMIT 8'/,
	'ORDER BY ... LIMIT ... OFFSET sends only the first LIMIT + OFFSET rows of each node');
like($plan, qr/Limit.*Sort/s, 'which are sorted and limited again here');

# EXPLAIN names the strategy, the nodes and what was pushed down;
# EXPLAIN ANALYZE what each task returned
$plan = $z1a->safe_psql('postgres', q{EXPLAIN (COSTS OFF) SELECT value FROM kv.docs WHERE namespace = 'shop' AND key = 'o42'});
like($plan, qr/kv.docs:\n\s+Strategy: router/, 'EXPLAIN names the router');
$plan = $z1a->safe_psql('postgres', q{EXPLAIN (COSTS OFF)
	SELECT value->>'customer', count(*) FROM kv.docs WHERE namespace = 'shop' GROUP BY 1});
like($plan, qr/Strategy: fan-out\n\s+Pushed Down: WHERE, GROUP BY, partial aggregates \(combined here\)\n\s+Nodes: 2\n\s+Placements: z1a \(here, \d+ shards\), z1b \(\d+ shards\)/,
	'EXPLAIN names the fan-out, what it pushed down and the placements it reads');
# bytes received: one row per group from each node, not one per document
my $grouped = $z1a->safe_psql('postgres', q{EXPLAIN (ANALYZE, COSTS OFF)
	SELECT value->>'customer', count(*) FROM kv.docs WHERE namespace = 'shop' GROUP BY 1});
my ($grows, $gbytes) = $grouped =~ /Task: z1b, (\d+) rows, (\d+) bytes/;
ok(defined $grows && $grows <= 61, "a node sends one row per group: $grows rows for 61 customers")
  or diag($grouped);
my $rowwise = $z1a->safe_psql('postgres', q{EXPLAIN (ANALYZE, COSTS OFF)
	SELECT value->>'customer', max(value->>'tag') FROM kv.docs WHERE namespace = 'shop' GROUP BY 1});
my ($rrows, $rbytes) = $rowwise =~ /Task: z1b, (\d+) rows, (\d+) bytes/;
ok(defined $rrows && $rrows > 200, "without pushdown a node sends a row per document ($rrows)")
  or diag($rowwise);
cmp_ok($gbytes * 4, '<', $rbytes,
	"bytes received grow with groups x placements ($gbytes), not with documents ($rbytes)");
like($grouped, qr/Task: z1a \(here\), \d+ rows, [\d.]+ ms/, 'the task run here is named too');
my $json = $z1a->safe_psql('postgres', q{EXPLAIN (ANALYZE, FORMAT JSON, COSTS OFF)
	SELECT count(*) FROM kv.docs WHERE namespace = 'shop'});
like($json, qr/"Relation Name": "kv.docs",\s+"Strategy": "fan-out",.*"Tasks": \[/s,
	'EXPLAIN (FORMAT JSON) has the same, as JSON');
ok(eval { JSON::PP::decode_json($json); 1 }, 'and the JSON stays well-formed') or diag($@);

# writes through kv.docs on one zone reach the other
$z1b->safe_psql('postgres', q{
	INSERT INTO kv.docs (namespace, key, value) VALUES ('shop', 'new1', '{"customer": "c1", "total": 1}');
	UPDATE kv.docs SET value = value || '{"flag": true}' WHERE namespace = 'shop' AND value->>'customer' = 'c2';
	DELETE FROM kv.docs WHERE namespace = 'shop' AND (value->>'qty')::int = 12;
});
my $expect = $z1b->safe_psql('postgres', q{
	SELECT count(*) FILTER (WHERE key = 'new1'), count(*) FILTER (WHERE value ? 'flag'),
	       count(*) FILTER (WHERE (value->>'qty')::int = 12) FROM kv.docs WHERE namespace = 'shop'});
is((split /\|/, $expect)[2], '0', 'the DELETE removed every matching document');
ok(wait_converged('shop', $z1a, $z2a) && wait_converged('shop', $z1b, $z2b),
	'the writes through kv.docs converged');
is($z2b->safe_psql('postgres', q{
	SELECT count(*) FILTER (WHERE key = 'new1'), count(*) FILTER (WHERE value ? 'flag'),
	       count(*) FILTER (WHERE (value->>'qty')::int = 12) FROM kv.docs WHERE namespace = 'shop'}),
	$expect, 'zone2 reads the writes made through kv.docs in zone1');

# a statement that times out leaves no fragment running on another node:
# a fragment there waits for a lock someone else holds on a shard table
my $held = $z1b->safe_psql('postgres', q{
	SELECT s.table_name FROM globalkv.shards s JOIN kv.placements p USING (shard_id)
	 WHERE p.zone_name = 'zone1' AND p.node_id = 2 ORDER BY 1 LIMIT 1});
my $locker = IPC::Run::start(
	[ 'psql', '-XAtq', '-h', $z1b->host, '-p', $z1b->port, '-d', 'postgres', '-c',
	  "BEGIN; LOCK TABLE globalkv_data.$held IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(120)" ]);
ok($z1b->poll_query_until('postgres',
	"SELECT count(*) > 0 FROM pg_locks WHERE mode = 'AccessExclusiveLock' AND relation = 'globalkv_data.$held'::regclass"),
	'a session on z1b holds a shard table');
($rc, $out, $err) = $z1a->psql('postgres',
	q{SET statement_timeout = '1s'; SELECT count(*) FROM kv.docs WHERE namespace = 'shop'});
like($err, qr/statement timeout/, 'the query on z1a times out');
ok($z1b->poll_query_until('postgres',
	q{SELECT count(*) = 0 FROM pg_stat_activity WHERE query LIKE '%FROM kv.docs docs%' AND pid <> pg_backend_pid()}),
	'and its fragment on z1b was cancelled with it');

# pg_cancel_backend, and a client that goes away, stop the fragments too
foreach my $how ('cancel', 'disconnect')
{
	my ($o, $e) = ('', '');
	my $client = IPC::Run::start(
		[ 'psql', '-XAtq', '-h', $z1a->host, '-p', $z1a->port, '-d', 'postgres', '-c',
		  "SELECT /* $how */ count(*) FROM kv.docs WHERE namespace = 'shop'" ],
		'>', \$o, '2>', \$e);
	ok($z1b->poll_query_until('postgres',
		q{SELECT count(*) > 0 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%FROM kv.docs docs%'}),
		"a fragment waits on z1b ($how)");
	if ($how eq 'cancel')
	{
		$z1a->safe_psql('postgres',
			"SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query LIKE 'SELECT /* cancel */%'");
		$client->finish;
		like($e, qr/canceling statement due to user request/, 'pg_cancel_backend cancels the query');
	}
	else
	{
		$client->kill_kill;
	}
	ok($z1b->poll_query_until('postgres',
		q{SELECT count(*) = 0 FROM pg_stat_activity WHERE query LIKE '%FROM kv.docs docs%' AND pid <> pg_backend_pid()}),
		"and its fragment on z1b is gone ($how)");
}
$locker->kill_kill;

# a node of the zone down: its shards are read from the other zone, with a
# NOTICE -- the whole answer, never part of it
my $whole = q{SELECT count(*), sum((value->>'qty')::int), count(*) FILTER (WHERE value ? 'flag')
	FROM kv.docs WHERE namespace = 'crm' OR (value->>'qty')::int >= 0};
my $want = $z1a->safe_psql('postgres', $whole);
my $distinct_query = q{SELECT count(DISTINCT value->>'customer') FROM kv.docs WHERE namespace = 'shop'};
my $distinct_before = $z1a->safe_psql('postgres', $distinct_query);
my $join_query = q{SELECT c.value->>'tier', count(*), count(c.key) FROM kv.docs o
	LEFT JOIN kv.docs c ON c.namespace = 'crm' AND c.key = o.value->>'customer' WHERE o.namespace = 'shop' GROUP BY 1 ORDER BY 1};
my $join_before = $z1a->safe_psql('postgres', $join_query);

# kill -9 of a node while its tasks run: a fan-out and a repartitioned
# query, both waiting on z1b (a lock held there), get their answer whole
# once z1b dies -- its part read from zone2, its bucket run here
$locker = IPC::Run::start(
	[ 'psql', '-XAtq', '-h', $z1b->host, '-p', $z1b->port, '-d', 'postgres', '-c',
	  "BEGIN; LOCK TABLE globalkv_data.$held IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(120)" ]);
ok($z1b->poll_query_until('postgres',
	"SELECT count(*) > 0 FROM pg_locks WHERE mode = 'AccessExclusiveLock' AND relation = 'globalkv_data.$held'::regclass"),
	'z1b holds a shard table again');
my %running;
foreach my $q ([ fanout => $whole ], [ repartition => $distinct_query ])
{
	my ($out_q, $err_q) = ('', '');
	my $h = IPC::Run::start(
		[ 'psql', '-XAtq', '-h', $z1a->host, '-p', $z1a->port, '-d', 'postgres', '-c', $q->[1] ],
		'>', \$out_q, '2>', \$err_q);
	$running{$q->[0]} = [ $h, \$out_q, \$err_q ];
}
ok($z1b->poll_query_until('postgres',
	q{SELECT count(*) >= 2 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%kv.docs docs%'}),
	'the tasks of both queries wait on z1b');
kill9_and_wait($z1b);
$locker->kill_kill;
foreach my $name ('fanout', 'repartition')
{
	my ($h, $o, $e) = @{ $running{$name} };
	$h->finish;
	chomp(my $got = $$o);
	is($got, $name eq 'fanout' ? $want : $distinct_before, "the $name answers whole after z1b was killed");
	like($$e, $name eq 'fanout' ? qr/shards of an unreachable node of this zone are read from node "z2b"/ :
		qr/bucket \d of 2 of a repartitioned query runs here: node "z1b" cannot be reached/,
		"with a NOTICE saying where its part came from ($name)");
}
ok(start_after_crash($z1b), 'z1b starts again');
ok(wait_connected($z1b, 3), 'and pulls from its peers again');

$z1b->stop('fast');
($rc, $out, $err) = $z1a->psql('postgres', $whole);
is($rc, 0, 'a fan-out with a node of the zone down still answers');
is($out, $want, 'the whole answer: the shards of z1b came from zone2');
like($err, qr/NOTICE:  kv.docs: \d+ shards of an unreachable node of this zone are read from node "z2b" of zone "zone2"/,
	'and a NOTICE says where from');
($rc, $out, $err) = $z1a->psql('postgres', $distinct_query);
is($out, $distinct_before, 'a repartitioned query with a node down still answers whole');
like($err, qr/bucket \d of 2 of a repartitioned query runs here: node "z1b" cannot be reached/,
	'its bucket ran here, with a NOTICE');
($rc, $out, $err) = $z1a->psql('postgres', $join_query);
is($out, $join_before, 'a repartitioned join with a node down still answers whole');
is($z2a->safe_psql('postgres', q{SELECT count(*) FROM kv.docs WHERE namespace = 'crm'}),
	$z2a->safe_psql('postgres', q{SELECT count(*) FROM ref WHERE namespace = 'crm'}),
	'the other zone answers whole');
# with the shards' other copies gone as well, the query fails, naming a node
$z2b->stop('fast');
($rc, $out, $err) = $z1a->psql('postgres', q{SELECT count(*) FROM kv.docs WHERE namespace = 'shop'});
isnt($rc, 0, 'with no copy of some shards reachable, the query fails');
like($err, qr/cannot be reached.*kv.docs cannot be read whole/, 'and says why');
$z2b->start;
$z1b->start;

done_testing();
