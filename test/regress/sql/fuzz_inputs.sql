-- fuzz_inputs: seeded random and mutated input for the parsers that run in
-- the server, where libFuzzer cannot reach them (test/fuzz/README.md): the
-- counter-state codec (a peer's crdt bytes, through globalkv.apply_row),
-- patch_numeric offsets, keys and documents.  Every input must be refused
-- with a GK or input error, or accepted -- never crash the backend (which
-- would end this test) or store a state the merge cannot read back.
SELECT kv.create_namespace('fz');
SELECT setseed(0.2026);

-- a valid counter state to mutate: what patch_numeric stores
SELECT kv.patch_numeric('fz', 'seed', '{"n": 5, "m": -2.5}');
CREATE TEMP TABLE fz_seed AS
    SELECT crdt FROM globalkv.shard_rows() WHERE namespace = 'fz' AND key = 'seed';

CREATE FUNCTION pg_temp.fz_random_bytes(n integer) RETURNS bytea LANGUAGE sql AS $$
    SELECT coalesce(string_agg(set_byte('\x00'::bytea, 0, (random() * 255)::int), ''::bytea), ''::bytea)
      FROM generate_series(1, n)
$$;

-- mutate: flip, replace, cut or extend a few bytes of the valid state
CREATE FUNCTION pg_temp.fz_mutate(b bytea) RETURNS bytea LANGUAGE plpgsql AS $$
DECLARE
    out bytea := b;
    pos integer;
BEGIN
    FOR i IN 1 .. 1 + (random() * 3)::int LOOP
        CASE (random() * 3)::int
            WHEN 0 THEN
                pos := (random() * (length(out) - 1))::int;
                out := set_byte(out, pos, get_byte(out, pos) # (1 << (random() * 7)::int));
            WHEN 1 THEN
                pos := (random() * (length(out) - 1))::int;
                out := set_byte(out, pos, (random() * 255)::int);
            WHEN 2 THEN
                out := substr(out, 1, (random() * length(out))::int);
            ELSE
                out := out || pg_temp.fz_random_bytes(1 + (random() * 8)::int);
        END CASE;
        EXIT WHEN length(out) = 0;
    END LOOP;
    RETURN out;
END
$$;

-- apply each input as a peer's row on a key of its own; tally the outcomes
CREATE FUNCTION pg_temp.fz_apply(n integer, mutate boolean, OUT accepted integer, OUT refused integer,
                                 OUT unreadable integer)
LANGUAGE plpgsql AS $$
DECLARE
    b bytea;
    base bytea := (SELECT crdt FROM fz_seed);
BEGIN
    accepted := 0; refused := 0; unreadable := 0;
    FOR i IN 1 .. n LOOP
        b := CASE WHEN mutate THEN pg_temp.fz_mutate(base) ELSE pg_temp.fz_random_bytes((random() * 64)::int) END;
        BEGIN
            PERFORM globalkv.apply_row('fz', 'k' || i || mutate::text, '{"n": 1}', 1000 + i, 1, NULL, b);
            accepted := accepted + 1;
        EXCEPTION WHEN others THEN
            refused := refused + 1;
            CONTINUE;
        END;
        -- what was accepted reads back and merges with a later increment
        BEGIN
            PERFORM kv.get('fz', 'k' || i || mutate::text);
            PERFORM kv.patch_numeric('fz', 'k' || i || mutate::text, '{"n": 1}');
        EXCEPTION WHEN others THEN
            IF SQLSTATE NOT LIKE 'GK%' THEN
                unreadable := unreadable + 1;
            END IF;
        END;
    END LOOP;
END
$$;
SELECT accepted + refused AS inputs, unreadable FROM pg_temp.fz_apply(500, false);
SELECT accepted + refused AS inputs, accepted > 0 AS some_accepted, refused > 0 AS some_refused, unreadable
  FROM pg_temp.fz_apply(1000, true);

-- patch_numeric offsets and documents: random JSON-ish text
CREATE FUNCTION pg_temp.fz_text() RETURNS text LANGUAGE sql AS $$
    SELECT string_agg(substr('{}[]":,0123456789.eE+-nulltruefalse \\u00 ab', 1 + (random() * 45)::int, 1 + (random() * 3)::int), '')
      FROM generate_series(1, 1 + (random() * 30)::int)
$$;
CREATE FUNCTION pg_temp.fz_json(n integer, OUT ok integer, OUT refused integer, OUT other_errors text)
LANGUAGE plpgsql AS $$
DECLARE
    t text;
BEGIN
    ok := 0; refused := 0;
    FOR i IN 1 .. n LOOP
        t := pg_temp.fz_text();
        BEGIN
            IF i % 2 = 0 THEN
                PERFORM kv.patch_numeric('fz', 'p' || (i % 7), t);
            ELSE
                PERFORM kv.put('fz', 'd' || (i % 7), t);
            END IF;
            ok := ok + 1;
        EXCEPTION WHEN others THEN
            refused := refused + 1;
            IF SQLSTATE NOT LIKE 'GK%' AND SQLSTATE NOT LIKE '22%' THEN
                other_errors := concat_ws(', ', other_errors, SQLSTATE);
            END IF;
        END;
    END LOOP;
END
$$;
SELECT ok + refused AS inputs, other_errors FROM pg_temp.fz_json(2000);
SELECT kv.drop_namespace('fz') > 0 AS dropped;
