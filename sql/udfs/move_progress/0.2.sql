-- globalkv.move_progress(s), on the target: the move's state and how far
-- the copy has got (rows stored here, the source cursor reached).
CREATE FUNCTION globalkv.move_progress(p_shard integer,
    OUT state text, OUT source_node integer, OUT target_node integer,
    OUT rows_copied bigint, OUT source_cursor bigint, OUT started_at timestamptz)
RETURNS record
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    me integer := (SELECT node_id FROM globalkv.node);
    z text := (SELECT zone_name FROM globalkv.nodes WHERE node_id = me AND NOT dropped);
    t text;
BEGIN
    SELECT m.state, m.source_node, m.target_node, m.started_at
      INTO state, source_node, target_node, started_at
      FROM globalkv.shard_moves m WHERE m.shard_id = p_shard AND m.zone_name = z AND NOT m.dropped;
    IF NOT FOUND THEN
        state := 'none';
        RETURN;
    END IF;
    SELECT table_name INTO t FROM globalkv.shards WHERE shard_id = p_shard;
    EXECUTE format('SELECT count(*) FROM globalkv_data.%I', t) INTO rows_copied;
    SELECT c.cursor INTO source_cursor FROM globalkv.peer_cursors c
     WHERE c.peer_node_id = source_node AND c.shard_id = p_shard;
    source_cursor := coalesce(source_cursor, 0);
END
$fn$;
