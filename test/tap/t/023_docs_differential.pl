# 023_docs_differential.pl -- generated queries on kv.docs against a plain
# table holding the same rows, on 2 zones x 2 nodes (each zone's shards
# spread over its two nodes, so every query needs both nodes of its zone).
#
# A seeded generator makes the documents (nested objects, numbers as JSON
# numbers and as strings, missing fields, JSON nulls, keys that refer to
# documents of another namespace) and the queries: filters, aggregates
# with and without GROUP BY and HAVING and FILTER, count(DISTINCT), ORDER
# BY ... LIMIT ... OFFSET, joins of two namespaces (inner, left, anti),
# subqueries and CTEs.  Each query runs from a node of each zone on
# kv.docs and on the plain table; the results must be identical.  Every
# query has an ORDER BY over all its output columns, so equal means equal.
#
#   GKV_DOCS_QUERIES=N  queries per node (default 150)
#   GKV_DOCS_SEED=S     the seed (default 20261204); a failure names both
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use GkvTest;

my $seed = $ENV{GKV_DOCS_SEED} // 20261204;
my $nqueries = $ENV{GKV_DOCS_QUERIES} // 150;
srand($seed);
note("seed $seed, $nqueries queries per node");

my @nodes = parade_2x2(8, "max_connections = 60\n");
my ($z1a, $z1b, $z2a, $z2b) = @nodes;

$z1a->safe_psql('postgres', q{SELECT kv.create_namespace('gen'); SELECT kv.create_namespace('who')});
foreach my $n (@nodes)
{
	$n->poll_query_until('postgres',
		q{SELECT count(*) = 2 FROM kv.namespaces WHERE name IN ('gen', 'who')})
	  or die 'namespaces did not arrive on ' . $n->name;
}

# ---- the documents ----
sub pick { return $_[int(rand(@_))]; }

sub json_number
{
	my $r = rand();
	return int(rand(200)) - 50 if $r < 0.6;
	return sprintf('%.2f', rand(1000) - 100) if $r < 0.9;
	return int(rand(5)) * 1000000;
}

my @rows;
foreach my $i (1 .. 500)
{
	my @fields;
	push @fields, '"a": ' . json_number() if rand() < 0.85;
	push @fields, '"a": null' if @fields == 0 && rand() < 0.3;
	push @fields, sprintf('"b": "%s"', json_number()) if rand() < 0.7;
	push @fields, sprintf('"s": "s%d"', int(rand(9))) if rand() < 0.8;
	push @fields, '"s": null' if rand() < 0.05;
	push @fields, sprintf('"flag": %s', pick('true', 'false')) if rand() < 0.6;
	push @fields, sprintf('"who": "w%d"', int(rand(40))) if rand() < 0.9;
	push @fields, sprintf('"o": {"x": %d, "y": "%s"}', int(rand(6)), pick('p', 'q', 'r'))
	  if rand() < 0.7;
	push @fields, sprintf('"tags": ["t%d", "t%d"]', int(rand(4)), int(rand(4))) if rand() < 0.4;
	push @rows, sprintf(q{('gen', 'g%04d', '{%s}')}, $i, join(', ', @fields));
}
foreach my $i (0 .. 29)
{
	push @rows, sprintf(q{('who', 'w%d', '{"name": "n%d", "tier": %d}')}, $i, $i, int(rand(3)));
}
my $values = join(",\n", @rows);
$z1b->safe_psql('postgres', "INSERT INTO kv.docs (namespace, key, value) VALUES $values");
foreach my $n (@nodes)
{
	$n->safe_psql('postgres',
		"CREATE TABLE ref (namespace text COLLATE \"C\", key text COLLATE \"C\", value jsonb);"
		  . " INSERT INTO ref VALUES $values");
}
foreach my $ns ('gen', 'who')
{
	ok(wait_converged($ns, $z1a, $z2a) && wait_converged($ns, $z1b, $z2b), "$ns converged across the zones");
}

# ---- the queries ----
my @filters = (
	sub { sprintf(q{(T.value->>'a')::numeric > %d}, int(rand(150)) - 50) },
	sub { sprintf(q{(T.value->>'a')::numeric <= %d}, int(rand(150)) - 50) },
	sub { q{T.value ? 'b'} },
	sub { q{NOT (T.value ? 'a')} },
	sub { sprintf(q{T.value->>'s' = 's%d'}, int(rand(9))) },
	sub { sprintf(q{T.value->>'s' IN ('s%d', 's%d')}, int(rand(9)), int(rand(9))) },
	sub { q{T.value->>'s' IS NULL} },
	sub { sprintf(q{T.value @> '{"o": {"x": %d}}'}, int(rand(6))) },
	sub { sprintf(q{T.key < 'g%04d'}, int(rand(500))) },
	sub { sprintf(q{T.key LIKE 'g0%d%%'}, int(rand(5))) },
	sub { q{(T.value->>'flag')::boolean} },
	sub { sprintf(q{(T.value->'o'->>'x')::int BETWEEN %d AND %d}, int(rand(3)), 2 + int(rand(4))) },
	sub { sprintf(q{T.value->'tags' ? 't%d'}, int(rand(4))) },
	sub { sprintf(q{coalesce((T.value->>'b')::numeric, 0) < %d}, int(rand(300))) },
	sub { q{T.value->>'s' = lower(upper(T.value->>'s'))} },
	sub { sprintf(q{(T.value->>'a')::numeric %% 3 = %d OR T.value->>'s' = 's1'}, int(rand(3))) },
);

my @aggregates = (
	q{count(*)},
	q{count(T.value->>'a')},
	q{sum((T.value->>'a')::numeric)},
	q{sum((T.value->'o'->>'x')::int)},
	q{sum((T.value->'o'->>'x')::bigint)},
	q{avg((T.value->'o'->>'x')::int)},
	q{avg((T.value->>'b')::numeric)},
	q{min((T.value->>'a')::numeric)},
	q{max((T.value->>'b')::numeric)},
	q{min(T.key)},
	q{max(T.key)},
	q{min(T.value->>'s')},
	q{bool_and((T.value->>'flag')::boolean)},
	q{bool_or((T.value->>'flag')::boolean)},
	q{count(DISTINCT T.value->>'s')},
	q{count(DISTINCT T.value->>'who')},
	q{count(*) FILTER (WHERE (T.value->>'a')::numeric > 0)},
	q{sum((T.value->>'a')::numeric) FILTER (WHERE T.value ? 'o')},
	q{max(jsonb_array_length(T.value->'tags'))},
	q{string_agg(T.key, ',' ORDER BY T.key)},
);

my @groupings = (
	q{T.value->>'s'},
	q{(T.value->'o'->>'x')::int},
	q{T.value->'o'->>'y'},
	q{(T.value->>'flag')::boolean},
	q{T.value->>'s' IS NULL},
	q{(T.value->'o'->>'x')::int % 2},
	q{T.value->'o'},
	q{T.namespace},
);

sub where_clause
{
	my ($prefix) = @_;
	my @conds = ("T.namespace = 'gen'");
	push @conds, $filters[int(rand(@filters))]->() foreach 1 .. int(rand(3));
	my $where = join(' AND ', @conds);
	$where =~ s/\bT\./$prefix./g;
	return $where;
}

sub some_aggregates
{
	my ($prefix, $n) = @_;
	my @aggs = map { $aggregates[int(rand(@aggregates))] } 1 .. $n;
	my $s = join(', ', @aggs);
	$s =~ s/\bT\./$prefix./g;
	return $s;
}

sub one_query
{
	my $shape = int(rand(9));
	if ($shape == 0)
	{
		# aggregates over everything that matches
		return 'SELECT ' . some_aggregates('d', 1 + int(rand(4))) . ' FROM @T d WHERE ' . where_clause('d');
	}
	if ($shape <= 2)
	{
		# grouped, maybe with HAVING, sorted on every column
		my $ngroups = 1 + int(rand(2));
		my @g = map { $groupings[int(rand(@groupings))] } 1 .. $ngroups;
		my $naggs = 1 + int(rand(3));
		my $cols = join(', ', @g) . ', ' . some_aggregates('T', $naggs);
		my $having = rand() < 0.4 ? sprintf(' HAVING count(*) > %d', int(rand(20))) : '';
		my $order = join(', ', map { "$_ NULLS FIRST" } 1 .. ($ngroups + $naggs));
		my $q = "SELECT $cols FROM \@T T WHERE " . where_clause('T')
		  . ' GROUP BY ' . join(', ', 1 .. $ngroups) . "$having ORDER BY $order";
		$q =~ s/\bT\b/d/g;
		$q =~ s/\@d/\@T/g;
		return $q;
	}
	if ($shape == 3)
	{
		# the first rows in some order
		my $order = pick(q{d.key}, q{(d.value->>'a')::numeric DESC NULLS LAST, d.key},
			q{d.value->'o'->>'x' NULLS FIRST, d.key DESC}, q{(d.value->>'b')::numeric, d.key});
		return sprintf(q{SELECT d.key, d.value->>'a' FROM @T d WHERE %s ORDER BY %s LIMIT %d%s},
			where_clause('d'), $order, 1 + int(rand(30)),
			rand() < 0.5 ? sprintf(' OFFSET %d', int(rand(20))) : '');
	}
	if ($shape == 4)
	{
		# documents and who they refer to
		my $join = pick('JOIN', 'LEFT JOIN');
		return sprintf(q{SELECT w.value->>'tier' AS tier, count(*), count(w.key), sum((d.value->>'a')::numeric)
		  FROM @T d %s @T w ON w.namespace = 'who' AND w.key = d.value->>'who'
		  WHERE %s GROUP BY 1 ORDER BY 1 NULLS FIRST, 2, 3, 4}, $join, where_clause('d'));
	}
	if ($shape == 5)
	{
		# the ones referred to by nothing that matches (anti join)
		return sprintf(q{SELECT w.key FROM @T w WHERE w.namespace = 'who'
		  AND NOT EXISTS (SELECT 1 FROM @T d WHERE %s AND d.value->>'who' = w.key) ORDER BY 1},
			where_clause('d'));
	}
	if ($shape == 6)
	{
		# a CTE, aggregated again
		return sprintf(q{WITH m AS (SELECT d.value->>'s' AS s, count(*) AS n, sum((d.value->>'a')::numeric) AS a
		  FROM @T d WHERE %s GROUP BY 1)
		  SELECT count(*), sum(n), max(a), min(s) FROM m WHERE n > %d}, where_clause('d'), int(rand(5)));
	}
	if ($shape == 7)
	{
		# a subquery in WHERE over the other namespace
		return sprintf(q{SELECT d.key FROM @T d WHERE %s AND d.value->>'who' IN
		  (SELECT w.key FROM @T w WHERE w.namespace = 'who' AND (w.value->>'tier')::int = %d) ORDER BY 1},
			where_clause('d'), int(rand(3)));
	}
	# DISTINCT values
	return sprintf(q{SELECT DISTINCT %s FROM @T d WHERE %s ORDER BY 1 NULLS FIRST},
		pick(q{d.value->>'s'}, q{d.value->'o'->>'y'}, q{(d.value->>'a')::numeric > 0}), where_clause('d'));
}

my @queries = map { one_query() } 1 .. $nqueries;

# all of one node's queries in one session: results between markers
sub run_all
{
	my ($node, $table) = @_;
	my $script = '';
	foreach my $i (0 .. $#queries)
	{
		(my $q = $queries[$i]) =~ s/\@T/$table/g;
		$script .= "\\echo ===== $i\n$q;\n";
	}
	my ($rc, $out, $err) = $node->psql('postgres', $script, on_error_stop => 0);
	my %result;
	my $current;
	foreach my $line (split /\n/, $out)
	{
		if ($line =~ /^===== (\d+)$/) { $current = $1; $result{$current} = ''; next; }
		$result{$current} .= "$line\n" if defined $current;
	}
	return (\%result, $err);
}

foreach my $from ($z1a, $z2b)
{
	my ($got, $got_err) = run_all($from, 'kv.docs');
	my ($want, $want_err) = run_all($from, 'ref');
	is($got_err, $want_err, 'the same errors (none expected) from ' . $from->name);
	foreach my $i (0 .. $#queries)
	{
		is($got->{$i}, $want->{$i},
			"generated query $i (seed $seed) from " . $from->name . ' matches the plain table')
		  or diag($queries[$i]);
	}
}

# some of them really pushed their aggregates down
my $pushed = 0;
foreach my $q (@queries)
{
	next unless $q =~ /GROUP BY/ && $q !~ /JOIN|EXISTS|WITH|IN \(/;
	(my $on_docs = $q) =~ s/\@T/kv.docs/g;
	$pushed++ if $z1a->safe_psql('postgres', "EXPLAIN (VERBOSE, COSTS OFF) $on_docs") =~ /GROUP BY 1/;
}
cmp_ok($pushed, '>', 0, "$pushed grouped queries were grouped on the nodes");

done_testing();
