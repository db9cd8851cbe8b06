-- globalkv.digest() fingerprints this node's documents (tombstones and
-- counter state included, local sequences not): equal digests on two nodes
-- mean identical copies.  Per shard with globalkv.shard_digests().
CREATE FUNCTION globalkv.shard_digests(ns text DEFAULT NULL,
    OUT shard_id integer, OUT rows bigint, OUT digest text)
RETURNS SETOF record
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT r.shard_id, count(*),
           md5(string_agg(concat_ws('|', r.namespace, r.key, r.value::text, r.hlc, r.origin,
                                    (extract(epoch FROM r.expires_at) * 1000000)::bigint,
                                    encode(r.crdt, 'hex')),
                          E'\n' ORDER BY r.namespace COLLATE "C", r.key COLLATE "C"))
      FROM globalkv.shard_rows() r
     WHERE ns IS NULL OR r.namespace = ns
     GROUP BY r.shard_id
$fn$;
