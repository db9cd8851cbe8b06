-- kv.get(namespace, key, consistency): 'zone' is kv.get; 'all' asks the
-- key's holder in every zone and returns the document of the greatest
-- version (NULL when that is a delete or has expired); a NOTICE names the
-- zones that could not be reached (docs/api.md "Consistency per call").
CREATE FUNCTION kv.get(namespace text, key text, consistency text)
RETURNS jsonb AS 'MODULE_PATHNAME', 'gkv_get_consistent' LANGUAGE C VOLATILE PARALLEL UNSAFE;
