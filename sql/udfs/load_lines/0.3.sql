-- kv.load_lines(namespace, first_line, lines) puts a batch of JSON lines
-- {"key": "...", "value": <any JSON>, "ttl": <seconds, optional>} -- what
-- `globalkv load` sends and `globalkv export` writes (docs/operations.md).
-- Returns one row per line it could not load (its number, counted from
-- first_line, and why); every other line is put, through kv.put_many, a
-- call per distinct ttl, so each key goes to the node holding it.
-- globalkv.load_parse (C) checks the lines without raising.  Should it
-- raise all the same (a number beyond numeric's range), the batch is
-- parsed again line by line to name the line, which is then left out.  A
-- line kv.put_many still refuses (GK003-GK005) makes its group go again
-- key by key, each in a subtransaction; blank lines are skipped.
CREATE FUNCTION kv.load_lines(namespace text, first_line bigint, lines text[],
    OUT line bigint, OUT error text)
RETURNS SETOF record
LANGUAGE plpgsql
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    g record;
    i integer;
    todo text[] := lines;
    stage text;
    bad_lines bigint[] := '{}';
    bad_errors text[] := '{}';
BEGIN
    <<attempt>>
    LOOP
        stage := 'parse';
        BEGIN
            FOR g IN SELECT * FROM globalkv.load_parse(first_line, todo) LOOP
                stage := 'put';
                IF g.error IS NOT NULL THEN
                    bad_lines := bad_lines || g.bad_line;
                    bad_errors := bad_errors || g.error;
                    CONTINUE;
                END IF;
                BEGIN
                    IF g.ttl IS NULL THEN
                        PERFORM count(*) FROM kv.put_many(namespace, g.keys, g.vals);
                    ELSE
                        PERFORM count(*) FROM kv.put_many(namespace, g.keys, g.vals, g.ttl);
                    END IF;
                EXCEPTION WHEN others THEN
                    IF SQLSTATE NOT IN ('GK003', 'GK004', 'GK005') THEN
                        RAISE;      -- not about a line (no such namespace, a node down): stop
                    END IF;
                    -- one line spoiled the group: again one by one, naming it
                    FOR i IN 1 .. array_length(g.keys, 1) LOOP
                        BEGIN
                            IF g.ttl IS NULL THEN
                                PERFORM kv.put(namespace, g.keys[i], g.vals[i]);
                            ELSE
                                PERFORM kv.put(namespace, g.keys[i], g.vals[i], g.ttl);
                            END IF;
                        EXCEPTION WHEN others THEN
                            IF SQLSTATE NOT IN ('GK003', 'GK004', 'GK005') THEN
                                RAISE;
                            END IF;
                            bad_lines := bad_lines || g.nums[i];
                            bad_errors := bad_errors || SQLERRM;
                        END;
                    END LOOP;
                END;
            END LOOP;
            EXIT attempt;
        EXCEPTION WHEN others THEN
            -- only a parse that raised is retried, once; nothing was put yet
            IF stage <> 'parse' OR todo IS DISTINCT FROM lines OR SQLSTATE = '57014' THEN
                RAISE;
            END IF;
            FOR i IN 1 .. coalesce(array_length(todo, 1), 0) LOOP
                BEGIN
                    PERFORM count(*) FROM globalkv.load_parse(first_line + i - 1, ARRAY[todo[i]]);
                EXCEPTION WHEN others THEN
                    IF SQLSTATE = '57014' THEN
                        RAISE;
                    END IF;
                    bad_lines := bad_lines || (first_line + i - 1);
                    bad_errors := bad_errors || ('not JSON: ' || SQLERRM);
                    todo[i] := '';
                END;
            END LOOP;
            IF todo IS NOT DISTINCT FROM lines THEN
                RAISE;      -- no single line raises: not about a line
            END IF;
        END;
    END LOOP;
    RETURN QUERY SELECT b.l, b.e FROM unnest(bad_lines, bad_errors) AS b(l, e) ORDER BY b.l;
END
$fn$;
