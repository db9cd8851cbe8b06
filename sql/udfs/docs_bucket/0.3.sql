-- globalkv.docs_bucket(query, bucket, buckets) runs one bucket of a
-- repartitioned query on kv.docs for the node that asked
-- (globalkv.docs_repartition): the query, read-only, with $1 = bucket and
-- $2 = buckets, kv.docs meaning the whole zone again (the sessions nodes
-- open to each other otherwise read their own placements only), and
-- without repartitioning it once more.  It runs as its caller and grants
-- nothing the caller does not have; only the login nodes use to reach each
-- other may call it.
CREATE FUNCTION globalkv.docs_bucket(query text, bucket integer, buckets integer)
RETURNS SETOF record
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'gkv_docs_bucket';
