-- load: kv.load_lines, what `globalkv load` sends -- every bad line named
-- by its number, every good one put, nothing else written
SELECT kv.create_namespace('load');

-- good lines, bad lines of every kind, a blank one; numbers from 10
SELECT * FROM kv.load_lines('load', 10, ARRAY[
    '{"key": "a", "value": {"n": 1}}',
    'not json',
    '{"key": "b"}',
    '   ',
    '{"key": "", "value": {}}',
    '{"key": "c", "value": {}, "ttl": -5}',
    '{"key": "c", "value": {}, "ttl": 1.5}',
    '{"key": "c", "value": {}, "ttl": 99999999999999999999}',
    '{"key": "c", "value": {}, "ttl": "60"}',
    '{"key": 7, "value": {}}',
    '[1, 2]',
    '{"key": "d", "value": [1]}',
    '{"key": "e", "value": "\u0000"}',
    '{"key": "f", "value": {"n": 6}, "ttl": 3600}',
    NULL,
    '{"key": "g", "value": {"n": 7}, "ttl": 60}'
]) ORDER BY line;
SELECT key, value, expires_at IS NOT NULL AS expires FROM kv.docs WHERE namespace = 'load' ORDER BY key;
SELECT ceil(extract(epoch FROM expires_at - now())) BETWEEN 3590 AND 3600 AS ttl_kept
  FROM kv.get_versioned('load', 'f');

-- a key twice in one batch: its last line wins, whatever the TTLs
SELECT * FROM kv.load_lines('load', 1, ARRAY[
    '{"key": "dup", "value": {"v": 1}}',
    '{"key": "dup", "value": {"v": 2}, "ttl": 600}',
    '{"key": "dup", "value": {"v": 3}}',
    '{"key": "dup2", "value": {"v": 1}, "ttl": 600}',
    '{"key": "dup2", "value": {"v": 2}}',
    '{"key": "dup2", "value": {"v": 3}, "ttl": 600}'
]);
SELECT key, value, expires_at IS NOT NULL AS expires FROM kv.docs
 WHERE namespace = 'load' AND key LIKE 'dup%' ORDER BY key;

-- what the parser passes but the document cannot hold (a number beyond
-- numeric's range, nesting past the stack): the line is named, the rest loads
SELECT line, left(error, 40) AS error FROM kv.load_lines('load', 1, ARRAY[
    '{"key": "h", "value": {"n": 8}}',
    '{"key": "i", "value": {"n": 1e999999}}',
    '{"key": "j", "value": {"n": 9}}',
    '{"key": "deep", "value": {"a": ' || repeat('[', 200000) || repeat(']', 200000) || '}}'
]);
SELECT key FROM kv.docs WHERE namespace = 'load' AND key IN ('h', 'i', 'j', 'deep') ORDER BY key;

-- not about a line: stops the batch with its own error, nothing written
SELECT try($$SELECT * FROM kv.load_lines('no_such_ns', 1, ARRAY['{"key": "k", "value": {}}'])$$);
SELECT try($$SELECT * FROM kv.load_lines('load', 1, ARRAY[['{"key": "k", "value": {}}']])$$);
SET globalkv.max_batch_keys = 2;
SELECT try($$SELECT * FROM kv.load_lines('load', 1, ARRAY['{}', '{}', '{}'])$$);
RESET globalkv.max_batch_keys;
SELECT count(*) FROM kv.docs WHERE namespace = 'load' AND key = 'k';

-- an empty batch
SELECT * FROM kv.load_lines('load', 1, '{}');
