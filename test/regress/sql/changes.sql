-- changes: kv.changes on one node -- every change once, in order per key,
-- resumable, deletes as value NULL, other namespaces left out, a bounded
-- wait.  A call reads at most max_rows rows of every namespace per node,
-- so a consumer reads pages until one comes back empty: pg_temp.drain does
-- that, from the cursor in the setting feed.cursor, and leaves the last
-- cursor there.
SELECT kv.create_namespace('feed');
SELECT kv.create_namespace('other');
CREATE FUNCTION pg_temp.drain(page_size integer, OUT key text, OUT value jsonb, OUT page integer)
RETURNS SETOF record LANGUAGE plpgsql AS $$
DECLARE
    cur text := nullif(current_setting('feed.cursor', true), '');
    r record;
    got boolean;
BEGIN
    page := 0;
    LOOP
        page := page + 1;
        got := false;
        FOR r IN SELECT * FROM kv.changes('feed', cur, page_size, 0) LOOP
            IF r.key IS NULL THEN
                cur := r.next_cursor;
            ELSE
                key := r.key;
                value := r.value;
                got := true;
                RETURN NEXT;
            END IF;
        END LOOP;
        EXIT WHEN NOT got OR page > 1000;
    END LOOP;
    PERFORM set_config('feed.cursor', cur, false);
END
$$;

SELECT kv.put('feed', 'a', '{"n": 1}');
SELECT kv.put('other', 'x', '{"n": 1}');
SELECT kv.put('feed', 'b', '{"n": 2}', 600);
SELECT kv.delete('feed', 'a');

-- from the beginning: b, and a's delete (a's put was overwritten by it)
SELECT key, value FROM pg_temp.drain(100) ORDER BY key;
SELECT current_setting('feed.cursor') LIKE 'gkv1/%' AS cursor_format;
-- the last row of a call carries the cursor, and only it
SELECT count(*) FILTER (WHERE key IS NULL) AS cursor_rows, count(*) FILTER (WHERE next_cursor IS NOT NULL) AS with_cursor,
       bool_and(version IS NOT NULL) FILTER (WHERE key IS NOT NULL) AS versioned
  FROM kv.changes('feed', NULL, 100000, 0);

-- nothing new: nothing
SELECT count(*) AS rows_after FROM pg_temp.drain(100);
-- new changes, a patch and a touch: exactly those, once
SELECT kv.patch_numeric('feed', 'c', '{"n": 5}');
SELECT kv.touch('feed', 'b', 1200);
SELECT key, value FROM pg_temp.drain(100) ORDER BY key;
-- small pages go on from their cursors without losing or repeating
SELECT count(*) FROM generate_series(1, 25) i, LATERAL kv.put('feed', 'k' || i, jsonb_build_object('i', i));
SELECT count(*) AS changes, count(DISTINCT key) AS keys, max(page) > 3 AS several_pages FROM pg_temp.drain(7);
SELECT count(*) AS rows_after FROM pg_temp.drain(7);
-- the wait: returns after wait_ms when nothing comes (the wait itself is
-- in TAP 030, where another session writes)
SELECT count(*) FILTER (WHERE key IS NOT NULL) AS none_within
  FROM kv.changes('feed', current_setting('feed.cursor'), 10, 200);

-- bad input
SELECT try($$SELECT * FROM kv.changes('feed', 'garbage')$$);
SELECT try($$SELECT * FROM kv.changes('feed', NULL, 0)$$);
SELECT try($$SELECT * FROM kv.changes('feed', NULL, 10, 60001)$$);
SELECT try($$SELECT * FROM kv.changes('nowhere')$$);
SET ROLE globalkv_client;
SELECT count(*) > 0 AS a_client_may FROM kv.changes('feed');
RESET ROLE;
SELECT kv.drop_namespace('feed') > 0, kv.drop_namespace('other') > 0;
