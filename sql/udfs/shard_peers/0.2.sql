-- globalkv.shard_peers(s): the nodes that pull shard s from this node --
-- its holder in every zone (this zone's too: a holder pulls its shards
-- from every node, which is how rows stranded on a former holder come
-- home) and the target of a move.  Tombstones of s wait for all of them.
CREATE FUNCTION globalkv.shard_peers(p_shard integer)
RETURNS SETOF integer
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT m.node_id FROM globalkv.placement_map m
     WHERE m.shard_id = p_shard AND m.node_id <> (SELECT node_id FROM globalkv.node)
    UNION
    SELECT mv.target_node FROM globalkv.shard_moves mv
     WHERE mv.shard_id = p_shard AND NOT mv.dropped
       AND mv.target_node <> (SELECT node_id FROM globalkv.node)
$fn$;
