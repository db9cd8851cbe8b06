-- globalkv.catalog_row(tbl, k) -> the row as the replication stream
-- carries it, for copying one catalog change to another node at once
-- (shard moves) instead of waiting for replication.
CREATE FUNCTION globalkv.catalog_row(tbl text, k text,
                                     OUT val jsonb, OUT hlc bigint, OUT origin integer)
RETURNS record
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    k_shard integer := split_part(k, '/', 1)::integer;
    k_zone text := substr(k, length(split_part(k, '/', 1)) + 2);
BEGIN
    IF tbl = 'placements' THEN
        SELECT CASE WHEN p.dropped THEN NULL ELSE jsonb_build_object('node_id', p.node_id) END,
               p.hlc, p.origin
          INTO val, hlc, origin
          FROM globalkv.placements p WHERE p.shard_id = k_shard AND p.zone_name = k_zone;
    ELSIF tbl = 'shard_moves' THEN
        SELECT CASE WHEN m.dropped THEN NULL ELSE
                   jsonb_build_object('source_node', m.source_node, 'target_node', m.target_node,
                                      'state', m.state, 'started_at', m.started_at) END,
               m.hlc, m.origin
          INTO val, hlc, origin
          FROM globalkv.shard_moves m WHERE m.shard_id = k_shard AND m.zone_name = k_zone;
    ELSE
        RAISE EXCEPTION 'catalog_row supports placements and shard_moves, not "%"', tbl
            USING ERRCODE = 'GK009';
    END IF;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no % row "%"', tbl, k USING ERRCODE = 'GK009';
    END IF;
END
$fn$;
