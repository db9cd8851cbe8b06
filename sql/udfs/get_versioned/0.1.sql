CREATE FUNCTION kv.get_versioned(namespace text, key text,
                                 OUT value jsonb, OUT version text,
                                 OUT expires_at timestamptz)
RETURNS SETOF record AS 'MODULE_PATHNAME', 'gkv_get_versioned'
LANGUAGE C VOLATILE PARALLEL UNSAFE ROWS 1;
