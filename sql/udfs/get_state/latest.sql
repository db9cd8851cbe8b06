-- globalkv.get_state(namespace, key): the stored state of a key on this
-- node, which holds its shard (GK017 otherwise) -- a tombstone too, value
-- NULL.  What kv.get(..., 'all') and kv.wait_replicated ask of each zone.
CREATE FUNCTION globalkv.get_state(namespace text, key text,
    OUT value jsonb, OUT version text, OUT expires_at timestamptz)
RETURNS SETOF record AS 'MODULE_PATHNAME', 'gkv_get_state'
LANGUAGE C STABLE STRICT PARALLEL UNSAFE;
