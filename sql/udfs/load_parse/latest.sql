-- globalkv.load_parse(first_line, lines) checks the lines of a bulk load
-- without raising (src/commands/load.c): one row per bad line (bad_line,
-- error), one row per distinct TTL with the keys, values and line numbers
-- to put (a key repeated in the batch only with its last line).
CREATE FUNCTION globalkv.load_parse(first_line bigint, lines text[],
    OUT ttl bigint, OUT keys text[], OUT vals jsonb[], OUT nums bigint[],
    OUT bad_line bigint, OUT error text)
RETURNS SETOF record AS 'MODULE_PATHNAME', 'gkv_load_parse'
LANGUAGE C STABLE STRICT;
