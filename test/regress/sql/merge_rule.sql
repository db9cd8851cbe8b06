--
-- merge_rule: GkvDocMerge (src/storage/document.c, docs/merge-rule.md), driven
-- through globalkv.apply_row -- the replication apply path, which takes a
-- state with an explicit version (hlc, origin), expiry and counter state.
-- Each case is a set of states as the nodes that wrote them store them; every
-- order of arrival is applied to a key of its own, then every state is
-- delivered again.  The merge must end in one state whatever the order, and
-- re-delivery must change nothing.
--
-- Versions are small hlcs (1970): observing them leaves this node's clock
-- alone.  Tombstones that old may be purged once committed, and expired rows
-- removed, so each order is applied and read in one statement.
--
SELECT kv.create_namespace('mr');

-- mr_crdt(reset, fields) encodes a counter state the way document.c stores
-- it (GkvCounterStateSerialize): fields is {"name": {"epoch": [hlc, origin],
-- "base": n (optional), "contrib": [[origin, hlc, sum], ...]}}
CREATE FUNCTION pg_temp.mr_crdt(reset_hlc bigint, reset_origin integer, reset_deleted boolean,
                                fields jsonb) RETURNS bytea
LANGUAGE sql IMMUTABLE AS $$
    SELECT '\x01'::bytea
        || CASE WHEN reset_deleted THEN '\x01'::bytea ELSE '\x00'::bytea END
        || int8send(reset_hlc) || int4send(reset_origin)
        || int4send((SELECT count(*)::integer FROM jsonb_object_keys(fields)))
        || coalesce((SELECT string_agg(
               int4send(octet_length(convert_to(f.key, 'UTF8'))) || convert_to(f.key, 'UTF8')
               || int8send((f.value->'epoch'->>0)::bigint) || int4send((f.value->'epoch'->>1)::integer)
               || CASE WHEN f.value ? 'base'
                       THEN '\x01'::bytea || int4send(octet_length((f.value->>'base')::numeric::text))
                            || convert_to((f.value->>'base')::numeric::text, 'UTF8')
                       ELSE '\x00'::bytea END
               || int4send(jsonb_array_length(f.value->'contrib'))
               || coalesce((SELECT string_agg(int4send((c->>0)::integer) || int8send((c->>1)::bigint)
                                              || int4send(octet_length((c->>2)::numeric::text))
                                              || convert_to((c->>2)::numeric::text, 'UTF8'),
                                              ''::bytea ORDER BY (c->>0)::integer)
                              FROM jsonb_array_elements(f.value->'contrib') c), ''::bytea),
               ''::bytea ORDER BY convert_to(f.key, 'UTF8'))
             FROM jsonb_each(fields) f), ''::bytea)
$$;

-- the encoder writes what patch_numeric stores
SELECT kv.put('mr', 'genuine', '{"n": 10, "s": "x"}');
CREATE TEMP TABLE genuine_put AS
    SELECT split_part(version, ':', 1)::bigint AS hlc, split_part(version, ':', 2)::integer AS origin
      FROM kv.get_versioned('mr', 'genuine');
SELECT kv.patch_numeric('mr', 'genuine', '{"n": 5}');
SELECT r.crdt = pg_temp.mr_crdt(p.hlc, p.origin, false, jsonb_build_object('n', jsonb_build_object(
           'epoch', jsonb_build_array(p.hlc, p.origin), 'base', 10,
           'contrib', jsonb_build_array(jsonb_build_array(r.origin, r.hlc, 5))))) AS encoder_matches
  FROM globalkv.shard_rows() r, genuine_put p
 WHERE r.namespace = 'mr' AND r.key = 'genuine';

-- the states, as their writers store them
CREATE TEMP TABLE mr_state (name text PRIMARY KEY, value jsonb, hlc bigint, origin integer,
                            expires_at timestamptz, crdt bytea);
INSERT INTO mr_state VALUES
    ('put_a1',      '{"v": "a"}',   1000, 1, NULL, NULL),
    ('put_b2',      '{"v": "b"}',   2000, 2, NULL, NULL),
    ('put_c1',      '{"v": "c"}',   3000, 1, NULL, NULL),
    ('tie_1',       '{"v": "one"}', 1500, 1, NULL, NULL),
    ('tie_2',       '{"v": "two"}', 1500, 2, NULL, NULL),
    ('del_b2',      NULL,           2000, 2, NULL, NULL),
    ('exp_b2',      '{"v": "b"}',   2000, 2, '2100-01-01 00:00:00+00', NULL),
    ('expired_b2',  '{"v": "b"}',   2000, 2, '2001-01-01 00:00:00+00', NULL),
    -- counters: a put both nodes saw, then increments of n
    ('put_base',    '{"n": 10, "s": "x"}', 1000, 1, NULL, NULL),
    -- node 1 adds 5, then 2 more (its contribution is a running sum)
    ('inc_1',       '{"n": 15, "s": "x"}', 2000, 1, NULL,
     pg_temp.mr_crdt(1000, 1, false, '{"n": {"epoch": [1000, 1], "base": 10, "contrib": [[1, 2000, 5]]}}')),
    ('inc_1_again', '{"n": 17, "s": "x"}', 2200, 1, NULL,
     pg_temp.mr_crdt(1000, 1, false, '{"n": {"epoch": [1000, 1], "base": 10, "contrib": [[1, 2200, 7]]}}')),
    -- node 2 adds 3, not having seen node 1's increments
    ('inc_2',       '{"n": 13, "s": "x"}', 2100, 2, NULL,
     pg_temp.mr_crdt(1000, 1, false, '{"n": {"epoch": [1000, 1], "base": 10, "contrib": [[2, 2100, 3]]}}')),
    -- node 1 puts (or deletes) concurrently with node 2's increment
    ('put_reset',   '{"n": 0, "s": "y"}',  2050, 1, NULL, NULL),
    ('del_reset',   NULL,                  2050, 1, NULL, NULL),
    -- node 2 adds 4 after it saw the put, or 1 after it saw the delete
    ('inc_after_put', '{"n": 4, "s": "y"}', 2300, 2, NULL,
     pg_temp.mr_crdt(2050, 1, false, '{"n": {"epoch": [2050, 1], "base": 0, "contrib": [[2, 2300, 4]]}}')),
    ('inc_after_del', '{"n": 1}',           2300, 2, NULL,
     pg_temp.mr_crdt(2050, 1, true, '{"n": {"epoch": [2050, 1], "contrib": [[2, 2300, 1]]}}'));

-- mr_apply(key, names): delivers the named states in that order
CREATE FUNCTION pg_temp.mr_apply(k text, names text[]) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    n text;
    s record;
    out text[] := '{}';
BEGIN
    FOREACH n IN ARRAY names LOOP
        SELECT * INTO STRICT s FROM mr_state WHERE name = n;
        out := out || globalkv.apply_row('mr', k, s.value, s.hlc, s.origin, s.expires_at, s.crdt);
    END LOOP;
    RETURN array_to_string(out, ',');
END
$$;

-- mr_row(key): the stored row of a key, tombstones and expired rows included
CREATE FUNCTION pg_temp.mr_row(k text, OUT value jsonb, OUT hlc bigint, OUT origin integer,
                               OUT expires_at timestamptz, OUT crdt bytea)
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('SELECT value, hlc, origin, expires_at, crdt FROM globalkv_data.%I
                     WHERE namespace = $1 AND key = $2',
                   (SELECT table_name FROM globalkv.shards WHERE shard_id = (kv.key_shard('mr', k)).shard))
       INTO value, hlc, origin, expires_at, crdt USING 'mr', k;
END
$$;

-- mr_orders(case, names): every order of arrival of the states, each on its
-- own key: the results, the final state (fingerprint: the whole row, counter
-- state included), what kv.get reads, and the results of delivering every
-- state once more
CREATE FUNCTION pg_temp.mr_orders(c text, names text[],
    OUT arrival text, OUT results text, OUT state text, OUT fingerprint text, OUT reads jsonb,
    OUT redelivery text)
RETURNS SETOF record
LANGUAGE plpgsql AS $$
DECLARE
    perm text[];
    i integer := 0;
    k text;
    r record;
BEGIN
    FOR perm IN
        WITH RECURSIVE p(a) AS (
            SELECT ARRAY[]::text[]
            UNION ALL
            SELECT p.a || n FROM p, unnest(names) n WHERE NOT n = ANY(p.a))
        SELECT a FROM p WHERE cardinality(a) = cardinality(names) ORDER BY a::text
    LOOP
        i := i + 1;
        k := c || ':' || i;
        arrival := array_to_string(perm, ' ');
        results := pg_temp.mr_apply(k, perm);
        SELECT * INTO r FROM pg_temp.mr_row(k);
        state := coalesce(r.value::text, 'deleted') || ' @ ' || r.hlc || ':' || r.origin
                 || coalesce(', expires ' || to_char(r.expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD'), '');
        fingerprint := md5(r::text);
        reads := kv.get('mr', k);
        redelivery := pg_temp.mr_apply(k, perm);
        IF md5(pg_temp.mr_row(k)::text) <> fingerprint THEN
            redelivery := redelivery || ' and changed the state';
        END IF;
        RETURN NEXT;
    END LOOP;
END
$$;

-- ---- two states, both orders -----------------------------------------------
-- the newer version wins whichever arrives first; on equal hlcs the greater
-- origin wins; a delete is a version like a put: a newer delete wins, and an
-- older put arriving after it leaves the key deleted; a newer put revives;
-- the expiry comes with the winning version, even an expired one
SELECT c AS "case", arrival, results, state, reads, redelivery
  FROM (VALUES ('newer',         ARRAY['put_a1', 'put_b2']),
               ('tie',           ARRAY['tie_1', 'tie_2']),
               ('delete',        ARRAY['put_a1', 'del_b2']),
               ('revive',        ARRAY['del_b2', 'put_c1']),
               ('expiry',        ARRAY['put_a1', 'exp_b2']),
               ('expired',       ARRAY['put_a1', 'expired_b2'])) cases(c, names),
       pg_temp.mr_orders(c, names)
 ORDER BY 1, 2;

-- ---- more states, every order --------------------------------------------
-- one outcome whatever the order, and delivering everything again is a no-op
SELECT c AS "case", count(*) AS orders, count(DISTINCT fingerprint) AS outcomes,
       min(state) AS state, min(reads::text) AS reads,
       bool_and(redelivery ~ '^(CONFLICT,?)+$') AS redelivery_is_noop
  FROM (VALUES
        -- a newer put without expiry clears the expiry
        ('expiry cleared',          ARRAY['put_a1', 'exp_b2', 'put_c1']),
        -- increments from two nodes both count: 10 + 5 + 3
        ('counters commute',        ARRAY['put_base', 'inc_1', 'inc_2']),
        -- a node's later running sum replaces its earlier one: 10 + 7 + 3
        ('own contribution grows',  ARRAY['put_base', 'inc_1', 'inc_1_again', 'inc_2']),
        -- a put resets the increments it did not see, even a later one
        ('put resets counters',     ARRAY['put_base', 'inc_1', 'inc_2', 'put_reset']),
        -- increments made after the put count on top of it: 0 + 4
        ('increment after put',     ARRAY['put_base', 'inc_1', 'inc_2', 'put_reset', 'inc_after_put']),
        -- a delete resets them too: a tombstone
        ('delete resets counters',  ARRAY['put_base', 'inc_1', 'inc_2', 'del_reset']),
        -- an increment after the delete starts a new document: n = 1
        ('increment after delete',  ARRAY['put_base', 'inc_1', 'inc_2', 'del_reset', 'inc_after_del'])
       ) cases(c, names),
       pg_temp.mr_orders(c, names)
 GROUP BY c
 ORDER BY c;

-- re-delivery of one increment does not count it twice
SELECT pg_temp.mr_apply('redelivered', ARRAY['put_base', 'inc_2', 'inc_2', 'inc_2']) AS results;
SELECT kv.get('mr', 'redelivered');
-- ---- touch: a new version and expiry on the current reset ------------------
-- (GkvDocBuildTouch) node 2 touches what it holds: put_a1, or put_base with
-- its own increment inc_2
INSERT INTO mr_state VALUES
    ('touch_a2',    '{"v": "a"}', 2500, 2, '2100-01-01 00:00:00+00',
     pg_temp.mr_crdt(1000, 1, false, '{}')),
    ('touch_base2', '{"n": 13, "s": "x"}', 2400, 2, '2100-01-01 00:00:00+00',
     pg_temp.mr_crdt(1000, 1, false, '{"n": {"epoch": [1000, 1], "base": 10, "contrib": [[2, 2100, 3]]}}'));
SELECT c AS "case", count(*) AS orders, count(DISTINCT fingerprint) AS outcomes,
       min(state) AS state, min(reads::text) AS reads,
       bool_and(redelivery ~ '^(CONFLICT,?)+$') AS redelivery_is_noop
  FROM (VALUES
        -- the touch's expiry, the value it saw
        ('touch',                    ARRAY['put_a1', 'touch_a2']),
        -- a newer put wins over the touch, expiry and all
        ('touch, newer put',         ARRAY['put_a1', 'touch_a2', 'put_c1']),
        -- a put the touch did not see keeps its value: the touch only
        -- brings its expiry (its version is the newer)
        ('touch, concurrent put',    ARRAY['put_a1', 'put_b2', 'touch_a2']),
        -- nor does a touch bring back a document deleted concurrently
        ('touch, concurrent delete', ARRAY['put_a1', 'del_b2', 'touch_a2']),
        -- the touch carries the increments it saw and loses none it did
        -- not: 10 + 5 + 3
        ('touch keeps counters',     ARRAY['put_base', 'inc_1', 'inc_2', 'touch_base2']),
        -- a put the touch did not see resets the counters all the same
        ('touch, put resets',        ARRAY['put_base', 'inc_1', 'inc_2', 'touch_base2', 'put_reset'])
       ) cases(c, names),
       pg_temp.mr_orders(c, names)
 GROUP BY c
 ORDER BY c;

-- ---- random histories (a property test, seeded) ----------------------------
-- 60 cases, each the states of a small random history of one key: one or
-- two puts, perhaps a delete, increments from random origins on top of a
-- random put, touches of a random put -- well-formed as nodes would store
-- them (the document each node shows), every version distinct.  Every order of arrival must end in one state,
-- and delivering everything again must change nothing.
SELECT setseed(0.4242);
CREATE FUNCTION pg_temp.mr_random_case(c integer) RETURNS text[]
LANGUAGE plpgsql AS $$
DECLARE
    names text[] := '{}';
    puts jsonb[] := '{}';          -- {"hlc", "origin", "n"}
    h bigint := 1000;
    p jsonb;
    o integer;
    nm text;
    sums jsonb := '{}';
BEGIN
    FOR i IN 1 .. 1 + (random() < 0.5)::int LOOP
        h := h + 1 + (random() * 5)::int;
        o := 1 + (random() * 2)::int;
        nm := format('r%s_put%s', c, i);
        p := jsonb_build_object('hlc', h, 'origin', o, 'n', (random() * 20)::int, 'name', nm);
        puts := puts || p;
        INSERT INTO mr_state VALUES (nm, jsonb_build_object('n', p->'n', 's', nm), h, o,
            CASE WHEN random() < 0.3 THEN timestamptz '2100-01-01' END, NULL);
        names := names || nm;
    END LOOP;
    IF random() < 0.4 THEN
        h := h + 1 + (random() * 5)::int;
        nm := format('r%s_del', c);
        INSERT INTO mr_state VALUES (nm, NULL, h, 1 + (random() * 2)::int, NULL, NULL);
        names := names || nm;
    END IF;
    WHILE cardinality(names) < 4 LOOP
        p := puts[1 + (random() * (cardinality(puts) - 1))::int];
        h := h + 1 + (random() * 5)::int;
        o := 1 + (random() * 2)::int;
        IF random() < 0.25 THEN
            -- a touch of that put by o
            nm := format('r%s_touch%s', c, cardinality(names));
            INSERT INTO mr_state VALUES (nm, jsonb_build_object('n', p->'n', 's', p->'name'), h, o,
                timestamptz '2100-06-01', pg_temp.mr_crdt((p->>'hlc')::bigint, (p->>'origin')::int, false, '{}'));
        ELSE
            -- o's running sum on top of that put grows with its hlc
            sums := jsonb_set(sums, ARRAY[o::text], to_jsonb(coalesce((sums->>o::text)::int, 0) + 1 + (random() * 4)::int));
            nm := format('r%s_inc%s', c, cardinality(names));
            -- the document its node shows: the put's, n counted up
            INSERT INTO mr_state VALUES (nm,
                jsonb_build_object('n', (p->>'n')::int + (sums->>o::text)::int, 's', p->'name'), h, o, NULL,
                pg_temp.mr_crdt((p->>'hlc')::bigint, (p->>'origin')::int, false, jsonb_build_object('n', jsonb_build_object(
                    'epoch', jsonb_build_array((p->>'hlc')::bigint, (p->>'origin')::int), 'base', p->'n',
                    'contrib', jsonb_build_array(jsonb_build_array(o, h, (sums->>o::text)::int))))));
        END IF;
        names := names || nm;
    END LOOP;
    RETURN names;
END
$$;
CREATE TEMP TABLE mr_random AS SELECT c, pg_temp.mr_random_case(c) AS names FROM generate_series(1, 60) c;
SELECT count(*) AS cases, count(*) FILTER (WHERE outcomes = 1) AS one_outcome,
       count(*) FILTER (WHERE noop) AS redelivery_noop, sum(orders) AS orders
  FROM (SELECT r.c, count(*) AS orders, count(DISTINCT o.fingerprint) AS outcomes,
               bool_and(o.redelivery ~ '^(CONFLICT,?)+$') AS noop
          FROM mr_random r, pg_temp.mr_orders('rnd' || r.c, r.names) o
         GROUP BY r.c) t;

SELECT kv.drop_namespace('mr') > 0 AS dropped;
