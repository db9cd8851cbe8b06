-- kv.changes(namespace, cursor, max_rows, wait_ms): the namespace's changes
-- in this zone since the cursor (NULL: from the beginning) -- rows (key,
-- value, version, expires_at), value NULL for a delete -- then one row with
-- key NULL whose cursor is the one to pass next; waits up to wait_ms when
-- there is nothing new (src/commands/changes.c, docs/api.md "Change feed").
CREATE FUNCTION kv.changes(namespace text, cursor text DEFAULT NULL,
    max_rows integer DEFAULT 1000, wait_ms integer DEFAULT 0,
    OUT key text, OUT value jsonb, OUT version text, OUT expires_at timestamptz,
    OUT next_cursor text)
RETURNS SETOF record AS 'MODULE_PATHNAME', 'gkv_changes' LANGUAGE C VOLATILE PARALLEL UNSAFE;
