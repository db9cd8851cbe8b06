-- kv.wait_replicated(namespace, key, version, zones, timeout_ms): waits
-- until the key's holder in 'zones' zones (NULL: all) stores that version
-- or a newer one and returns how many do; GK019 after timeout_ms.
CREATE FUNCTION kv.wait_replicated(namespace text, key text, version text,
    zones integer DEFAULT NULL, timeout_ms integer DEFAULT 5000)
RETURNS integer AS 'MODULE_PATHNAME', 'gkv_wait_replicated' LANGUAGE C VOLATILE PARALLEL UNSAFE;
