-- kv.move_shard(shard_id, target_node): move the shard's placement in
-- target_node's zone to target_node while writes go on, driven by this
-- server over connections of its own to the source and the target (the
-- catalog's connection strings, as replication uses).  Progress comes as
-- NOTICEs; the result is one row.  Running it again resumes an
-- interrupted move from what the target's catalog says; with rollback =>
-- true it undoes a move that has not switched.  Every step commits on its
-- node as the move goes: a ROLLBACK of the calling transaction undoes
-- nothing of it.  See docs/shard-moves.md and src/operations/shard_move.c.
CREATE FUNCTION kv.move_shard(shard_id integer, target_node integer,
                              rollback boolean DEFAULT false,
                              OUT shard integer, OUT zone text,
                              OUT source integer, OUT target integer,
                              OUT state text, OUT rows_copied bigint,
                              OUT write_stall_ms bigint, OUT elapsed_ms bigint)
RETURNS record
AS 'MODULE_PATHNAME', 'gkv_move_shard'
LANGUAGE C VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp;
