-- kv.scan(namespace, prefix, after_key, page_size): the live documents whose
-- key starts with prefix, in key order (bytewise, C collation), after
-- after_key when given, at most page_size of them, across every shard of
-- the zone (src/commands/scan.c, docs/api.md "Prefix scans"); it reads the
-- shard tables, which clients may not, so it runs as their owner.  prefix and
-- after_key are data: compared, never matched as patterns.
CREATE FUNCTION kv.scan(namespace text, prefix text, after_key text DEFAULT NULL,
    page_size integer DEFAULT 1000, OUT key text, OUT value jsonb)
RETURNS SETOF record AS 'MODULE_PATHNAME', 'gkv_scan'
LANGUAGE C STABLE PARALLEL UNSAFE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
