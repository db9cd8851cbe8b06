-- globalkv.move_status(): the moves this node's backends are driving now
-- (kv.move_shard), as each last reported: phase, rows copied, how far
-- behind the target is, the write stall so far.  Read by the view
-- kv.shard_moves_in_progress; see src/operations/move_status.c.
CREATE FUNCTION globalkv.move_status(
    OUT pid integer, OUT shard_id integer, OUT zone_name text,
    OUT source_node integer, OUT target_node integer, OUT phase text,
    OUT rows_copied bigint, OUT behind_ms bigint, OUT write_stall_ms bigint,
    OUT started_at timestamptz, OUT updated_at timestamptz)
RETURNS SETOF record AS 'MODULE_PATHNAME', 'gkv_move_status' LANGUAGE C VOLATILE;
