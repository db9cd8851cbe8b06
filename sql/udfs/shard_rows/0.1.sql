-- globalkv.shard_rows() lists every stored row of every shard on this node,
-- tombstones and expired rows included: for operators, digests and tests.
CREATE FUNCTION globalkv.shard_rows(
    OUT shard_id integer, OUT namespace text, OUT key text, OUT value jsonb,
    OUT hlc bigint, OUT origin integer, OUT expires_at timestamptz,
    OUT crdt bytea, OUT seq bigint)
RETURNS SETOF record
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    s record;
BEGIN
    FOR s IN SELECT g.shard_id, g.table_name FROM globalkv.shards g ORDER BY g.shard_id LOOP
        RETURN QUERY EXECUTE format(
            'SELECT $1, namespace::text, key::text, value, hlc, origin, expires_at,
                    crdt, seq
               FROM globalkv_data.%I', s.table_name) USING s.shard_id;
    END LOOP;
END
$fn$;
