-- globalkv.ack records how far a peer has applied this node's changes.
CREATE FUNCTION globalkv.ack(peer integer, shards integer[], cursors bigint[])
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF peer IS NULL OR array_length(shards, 1) IS DISTINCT FROM array_length(cursors, 1) THEN
        RAISE EXCEPTION 'invalid acknowledgement' USING ERRCODE = 'GK009';
    END IF;
    INSERT INTO globalkv.peer_acks AS a (peer_node_id, shard_id, cursor, acked_at)
    SELECT peer, s, c, now() FROM unnest(shards, cursors) AS u(s, c)
    ON CONFLICT (peer_node_id, shard_id) DO UPDATE
       SET cursor = greatest(a.cursor, EXCLUDED.cursor), acked_at = EXCLUDED.acked_at;
END
$fn$;
