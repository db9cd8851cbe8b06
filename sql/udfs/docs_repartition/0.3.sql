-- globalkv.docs_repartition(head, tail, signature) is the plan of a query on
-- kv.docs whose grouping cannot be split into partial results (count of
-- distinct values, string_agg, ...): the rows are repartitioned by a hash
-- of the GROUP BY key (or of the distinct value) over the zone's nodes.
-- Node i of n runs head || n || ', 0) = ' || i || tail -- the query
-- restricted to bucket i (head ends with the start of that condition) --
-- as a query on kv.docs of its own (globalkv.docs_bucket), so each node
-- receives from every node only the rows of its bucket, and returns the
-- finished groups of its bucket; the union comes back here.  The planner
-- signs head and tail: no other SQL can be sent through it.  Its columns
-- are declared by the planner at each call.
CREATE FUNCTION globalkv.docs_repartition(head text, tail text, signature text)
RETURNS SETOF record
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'gkv_docs_repartition';
