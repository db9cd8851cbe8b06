-- globalkv.fence_shard(s): C helper of move_fence; see src/routing/fence.c.
CREATE FUNCTION globalkv.fence_shard(shard integer) RETURNS void
    AS 'MODULE_PATHNAME', 'gkv_fence_shard' LANGUAGE C VOLATILE;
