-- globalkv.verify_rows: every row of some buckets of a shard (see
-- globalkv.verify_digest) -- those whose first md5 byte is in b1s, or, with
-- b2s, those whose first byte is b1s[1] and second byte in b2s --
-- tombstones and expired documents included, with the hash the digests are
-- made of; kv.verify compares them key by key.  In key order ("C").
CREATE FUNCTION globalkv.verify_rows(shard integer, b1s integer[], b2s integer[] DEFAULT NULL,
    OUT namespace text, OUT key text, OUT hlc bigint, OUT origin integer,
    OUT live boolean, OUT counter boolean, OUT row_hash text)
RETURNS SETOF record
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    t text := (SELECT table_name FROM globalkv.shards s WHERE s.shard_id = shard);
BEGIN
    IF t IS NULL OR b1s IS NULL OR (b2s IS NOT NULL AND cardinality(b1s) <> 1) THEN
        RAISE EXCEPTION 'invalid verify request: shard %', shard USING ERRCODE = 'GK009';
    END IF;
    RETURN QUERY EXECUTE format(
        'SELECT namespace, key, hlc, origin,'
        '       value IS NOT NULL AND (expires_at IS NULL OR expires_at > now()), crdt IS NOT NULL,'
        '       md5(concat_ws(''|'', namespace, key, value::text, hlc, origin,'
        '           (extract(epoch FROM expires_at) * 1000000)::bigint, encode(crdt, ''hex'')))'
        '  FROM (SELECT *, decode(md5(namespace || ''/'' || key), ''hex'') AS m FROM globalkv_data.%I) d'
        ' WHERE get_byte(m, 0) = ANY ($1)'
        '   AND ($2 IS NULL OR get_byte(m, 1) = ANY ($2))'
        ' ORDER BY namespace COLLATE "C", key COLLATE "C"', t)
    USING b1s, b2s;
END
$fn$;
