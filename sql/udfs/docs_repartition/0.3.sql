-- globalkv.docs_repartition(query, signature) is the plan of a query on
-- kv.docs whose grouping cannot be split into partial results (count of
-- distinct values, string_agg, ...) or that joins two uses of kv.docs on
-- document fields: the rows are repartitioned by a hash of the GROUP BY
-- key, the distinct value or the join key over the zone's nodes.  Node i
-- of n runs the query with $1 = i and $2 = n -- its conditions keep the
-- rows of bucket i -- as a query on kv.docs of its own
-- (globalkv.docs_bucket), so each node receives from every node only the
-- rows of its bucket, and returns what it made of them; the union comes
-- back here.  The planner signs the query: no other SQL can be sent
-- through it.  Its columns are declared by the planner at each call.
CREATE FUNCTION globalkv.docs_repartition(query text, signature text)
RETURNS SETOF record
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'gkv_docs_repartition';
