-- kv.load_lines(namespace, first_line, lines) puts a batch of JSON lines
-- {"key": "...", "value": <any JSON>, "ttl": <seconds, optional>} -- what
-- `globalkv load` sends and `globalkv export` writes (docs/operations.md).
-- Returns one row per line it could not load (its number, counted from
-- first_line, and why); every other line is put, through kv.put_many, a
-- call per distinct ttl, so each key goes to the node holding it.  A line
-- kv.put_many refuses (GK003-GK005: a bad key or document) makes the
-- batch go again line by line, each in a subtransaction, so that the bad
-- line is named and the good ones are loaded; blank lines are skipped.
CREATE FUNCTION kv.load_lines(namespace text, first_line bigint, lines text[],
    OUT line bigint, OUT error text)
RETURNS SETOF record
LANGUAGE plpgsql
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    keys text[] := '{}';
    vals jsonb[] := '{}';
    ttls bigint[] := '{}';
    nums bigint[] := '{}';
    doc jsonb;
    t bigint;
    i integer;
BEGIN
    FOR i IN 1 .. coalesce(array_length(lines, 1), 0) LOOP
        CONTINUE WHEN btrim(lines[i]) = '';
        BEGIN
            doc := lines[i]::jsonb;
        EXCEPTION WHEN others THEN
            line := first_line + i - 1;
            error := 'not JSON: ' || SQLERRM;
            RETURN NEXT;
            CONTINUE;
        END;
        IF jsonb_typeof(doc) IS DISTINCT FROM 'object' OR jsonb_typeof(doc->'key') IS DISTINCT FROM 'string'
           OR NOT doc ? 'value'
           OR (doc ? 'ttl' AND (jsonb_typeof(doc->'ttl') <> 'number' OR (doc->>'ttl')::numeric < 1
                                OR (doc->>'ttl')::numeric <> trunc((doc->>'ttl')::numeric))) THEN
            line := first_line + i - 1;
            error := 'expected {"key": "text", "value": any JSON, "ttl": whole seconds >= 1 (optional)}';
            RETURN NEXT;
            CONTINUE;
        END IF;
        keys := keys || (doc->>'key');
        vals := vals || (doc->'value');
        ttls := ttls || (doc->>'ttl')::bigint;
        nums := nums || (first_line + i - 1);
    END LOOP;

    FOR t IN SELECT DISTINCT x FROM unnest(ttls) x LOOP
        BEGIN
            IF t IS NULL THEN
                PERFORM count(*) FROM kv.put_many(namespace,
                    ARRAY(SELECT keys[j] FROM generate_subscripts(keys, 1) j WHERE ttls[j] IS NULL ORDER BY j),
                    ARRAY(SELECT vals[j] FROM generate_subscripts(keys, 1) j WHERE ttls[j] IS NULL ORDER BY j));
            ELSE
                PERFORM count(*) FROM kv.put_many(namespace,
                    ARRAY(SELECT keys[j] FROM generate_subscripts(keys, 1) j WHERE ttls[j] = t ORDER BY j),
                    ARRAY(SELECT vals[j] FROM generate_subscripts(keys, 1) j WHERE ttls[j] = t ORDER BY j), t);
            END IF;
        EXCEPTION WHEN others THEN
            IF SQLSTATE NOT IN ('GK003', 'GK004', 'GK005') THEN
                RAISE;          -- not about a line (no such namespace, a node down): stop
            END IF;
            -- one line spoiled the batch: again one by one, naming it
            FOR i IN 1 .. array_length(keys, 1) LOOP
                CONTINUE WHEN ttls[i] IS DISTINCT FROM t;
                BEGIN
                    IF t IS NULL THEN
                        PERFORM kv.put(namespace, keys[i], vals[i]);
                    ELSE
                        PERFORM kv.put(namespace, keys[i], vals[i], t);
                    END IF;
                EXCEPTION WHEN others THEN
                    IF SQLSTATE NOT IN ('GK003', 'GK004', 'GK005') THEN
                        RAISE;
                    END IF;
                    line := nums[i];
                    error := SQLERRM;
                    RETURN NEXT;
                END;
            END LOOP;
        END;
    END LOOP;
END
$fn$;
