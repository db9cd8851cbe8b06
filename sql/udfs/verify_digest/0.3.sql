-- globalkv.verify_digest: digests of one shard of this node for kv.verify and
-- kv.repair (src/operations/anti_entropy.c, docs/operations.md).  Keys fall
-- in 65,536 buckets by the first two bytes of md5(namespace '/' key): depth 0
-- is the whole shard (one row, bucket 0), depth 1 its 256 buckets by the
-- first byte, depth 2 the 256 buckets by the second byte within the depth-1
-- bucket b1 (kv.verify opens it for a bucket of more than 2,000 rows).  A
-- digest is the md5 of the sorted row hashes of the bucket's live
-- documents: tombstones and expired documents are left out, as every node
-- removes them on its own schedule (globalkv.verify_rows shows them).
-- Buckets without a live document are not returned.
CREATE FUNCTION globalkv.verify_digest(shard integer, depth integer, b1 integer DEFAULT NULL,
    OUT bucket integer, OUT rows bigint, OUT digest text)
RETURNS SETOF record
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    t text := (SELECT table_name FROM globalkv.shards s WHERE s.shard_id = shard);
BEGIN
    IF t IS NULL OR depth NOT IN (0, 1, 2) OR (depth = 2 AND b1 IS NULL) THEN
        RAISE EXCEPTION 'invalid verify request: shard %, depth %', shard, depth
            USING ERRCODE = 'GK009';
    END IF;
    RETURN QUERY EXECUTE format(
        'SELECT b, count(*), md5(string_agg(h, '''' ORDER BY h)) FROM ('
        '  SELECT CASE $1 WHEN 0 THEN 0'
        '         WHEN 1 THEN get_byte(decode(md5(namespace || ''/'' || key), ''hex''), 0)'
        '         ELSE get_byte(decode(md5(namespace || ''/'' || key), ''hex''), 1) END AS b,'
        '         md5(concat_ws(''|'', namespace, key, value::text, hlc, origin,'
        '             (extract(epoch FROM expires_at) * 1000000)::bigint, encode(crdt, ''hex''))) AS h'
        '    FROM globalkv_data.%I'
        '   WHERE value IS NOT NULL AND (expires_at IS NULL OR expires_at > now())'
        '     AND ($1 < 2 OR get_byte(decode(md5(namespace || ''/'' || key), ''hex''), 0) = $2)) r'
        ' GROUP BY b ORDER BY b', t)
    USING depth, b1;
END
$fn$;
