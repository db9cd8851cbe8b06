-- globalkv.scan_shards(namespace, prefix, after_key, page_size, shards[]):
-- the part of a kv.scan page in the listed shards, which this node holds
-- (GK017 otherwise), in key order -- what kv.scan asks of the other nodes
-- of its zone.
CREATE FUNCTION globalkv.scan_shards(namespace text, prefix text, after_key text,
    page_size integer, shards integer[], OUT key text, OUT value jsonb)
RETURNS SETOF record AS 'MODULE_PATHNAME', 'gkv_scan_shards'
LANGUAGE C STABLE PARALLEL UNSAFE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
