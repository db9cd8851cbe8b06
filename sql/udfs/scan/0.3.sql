-- kv.scan(namespace, prefix, after_key, page_size): the live documents whose
-- key starts with prefix, in key order (bytewise, C collation), after
-- after_key when given, at most page_size of them -- across every shard of
-- the zone (docs/api.md "Prefix scans").  A page is one kv.docs query:
-- each node reads its shards' primary keys in order from the first key of
-- the range and stops after page_size rows (ORDER BY ... LIMIT pushed
-- down), the querying node merges.  The range is [prefix, next) where next
-- is the prefix with its last character incremented: in UTF-8, bytewise
-- order is code point order and no encoded character is a prefix of
-- another, so exactly the keys starting with prefix lie in it.  prefix and
-- after_key are data: compared, never matched as patterns.
CREATE FUNCTION kv.scan(namespace text, prefix text, after_key text DEFAULT NULL,
    page_size integer DEFAULT 1000, OUT key text, OUT value jsonb)
RETURNS SETOF record
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    upper_bound text := NULL;
    stem text := prefix;
    last integer;
BEGIN
    IF namespace IS NULL OR prefix IS NULL OR page_size IS NULL THEN
        RAISE EXCEPTION 'namespace, prefix and page_size of kv.scan must not be null'
            USING ERRCODE = 'GK009';
    END IF;
    IF page_size < 1 OR page_size > current_setting('globalkv.max_batch_keys')::integer THEN
        RAISE EXCEPTION 'page_size must be between 1 and globalkv.max_batch_keys (%), not %',
            current_setting('globalkv.max_batch_keys'), page_size
            USING ERRCODE = 'GK009';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM kv.namespaces n WHERE n.name = namespace) THEN
        RAISE EXCEPTION 'namespace "%" does not exist', namespace USING ERRCODE = 'GK001';
    END IF;
    -- the first string after every string that starts with the prefix
    WHILE stem <> '' LOOP
        last := ascii(right(stem, 1));
        stem := left(stem, -1);
        IF last < 1114111 THEN
            -- the next code point, past the surrogates (not characters)
            upper_bound := stem || chr(CASE WHEN last + 1 BETWEEN 55296 AND 57343 THEN 57344 ELSE last + 1 END);
            EXIT;
        END IF;
    END LOOP;
    RETURN QUERY EXECUTE format(
        'SELECT d.key, d.value FROM kv.docs d WHERE d.namespace = %L AND d.key >= %L%s%s'
        ' ORDER BY d.key LIMIT %s',
        namespace, prefix,
        CASE WHEN upper_bound IS NOT NULL THEN format(' AND d.key < %L', upper_bound) ELSE '' END,
        CASE WHEN after_key IS NOT NULL THEN format(' AND d.key > %L', after_key) ELSE '' END,
        page_size);
END
$fn$;
