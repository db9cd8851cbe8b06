-- patch_numeric: counters inside documents
SELECT kv.create_namespace('pn');

-- a document with strings, a nested object, an integer and a decimal
SELECT kv.put('pn', 'item', '{"title": "Lamp", "meta": {"color": "red", "n": 5}, "clicks": 10, "score": 0.5}');
-- integers and decimals; new fields are created; other fields untouched
SELECT kv.patch_numeric('pn', 'item', '{"clicks": 1, "score": 0.25, "views": 7}', 'NO_EXPIRE');
SELECT kv.patch_numeric('pn', 'item', '{"clicks": -3, "score": -0.05}');
-- decimal arithmetic is exact: 0.1 + 0.2 = 0.3
SELECT kv.patch_numeric('pn', 'dec', '{"x": 0.1}');
SELECT kv.patch_numeric('pn', 'dec', '{"x": 0.2}');
-- big and small magnitudes
SELECT kv.patch_numeric('pn', 'dec', '{"big": 12345678901234567890123, "tiny": 1e-20}');
SELECT kv.patch_numeric('pn', 'dec', '{"big": 1, "tiny": 1e-20}');
-- null removes a field; patching it again starts from zero
SELECT kv.patch_numeric('pn', 'item', '{"views": null}');
SELECT kv.patch_numeric('pn', 'item', '{"views": 2}');
-- removing a field that is not there is harmless
SELECT kv.patch_numeric('pn', 'item', '{"nothing": null}');
-- an empty offsets object changes nothing but the version
SELECT kv.patch_numeric('pn', 'item', '{}');
SELECT kv.get('pn', 'item');
-- patching a missing key creates the document
SELECT kv.patch_numeric('pn', 'new-counter', '{"hits": 1}');
-- a put replaces the document and resets its counters
SELECT kv.put('pn', 'item', '{"title": "Lamp 2", "clicks": 100}');
SELECT kv.patch_numeric('pn', 'item', '{"clicks": 1}');
-- a delete resets too: patching a deleted key starts a new document
SELECT kv.delete('pn', 'item');
SELECT kv.patch_numeric('pn', 'item', '{"clicks": 1}');
SELECT kv.get('pn', 'item');

-- errors leave the document untouched
SELECT kv.put('pn', 'mixed', '{"name": "x", "n": 1}');
SELECT try($$SELECT kv.patch_numeric('pn', 'mixed', '{"name": 1}')$$);
SELECT try($$SELECT kv.patch_numeric('pn', 'mixed', '{"n": 1, "name": 1}')$$);
SELECT try($$SELECT kv.patch_numeric('pn', 'mixed', '{"n": "1"}')$$);
SELECT try($$SELECT kv.patch_numeric('pn', 'mixed', '{"n": true}')$$);
SELECT try($$SELECT kv.patch_numeric('pn', 'mixed', '{"n": {"a": 1}}')$$);
SELECT try($$SELECT kv.patch_numeric('pn', 'mixed', '{"n": [1]}')$$);
SELECT try($$SELECT kv.patch_numeric('pn', 'mixed', '[1]')$$);
SELECT try($$SELECT kv.patch_numeric('pn', 'mixed', '5')$$);
SELECT try($$SELECT kv.patch_numeric('pn', 'mixed', '{"n": 1')$$);
SELECT try($$SELECT kv.patch_numeric('pn', 'mixed', '{"n": NaN}')$$);
-- overflow is an error, never a wrap or an infinity
SELECT kv.put('pn', 'huge', '{"n": 1e308}');
SELECT try($$SELECT kv.patch_numeric('pn', 'huge', '{"n": 1e308}')$$);
SELECT try($$SELECT kv.patch_numeric('pn', 'huge', '{"m": 2e308}')$$);
SELECT try($$SELECT kv.patch_numeric('pn', 'huge', '{"n": -3e308}')$$);
SELECT kv.patch_numeric('pn', 'huge', '{"n": -1e308}');
SELECT kv.get('pn', 'mixed');

-- the stats view counted the patches
SELECT patches > 0 AS counted FROM kv.stats;
