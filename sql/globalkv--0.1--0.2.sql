-- globalkv 0.1 -> 0.2: shard placements, routing, online shard moves.
-- See docs/routing.md and docs/shard-moves.md.
\echo Use "ALTER EXTENSION globalkv UPDATE TO '0.2'" to load this file. \quit

-- ---------------------------------------------------------------------
-- Placements: which node of a zone holds a shard
-- ---------------------------------------------------------------------

-- An explicit placement of one shard in one zone.  Replicated like the
-- rest of the catalog (versioned, "dropped" tombstone).  A (shard, zone)
-- without a live row here belongs to the zone's node with the smallest id:
-- see globalkv.placement_map.
CREATE TABLE globalkv.placements (
    shard_id integer NOT NULL CHECK (shard_id >= 0),
    zone_name text NOT NULL,
    node_id integer NOT NULL CHECK (node_id > 0),
    hlc bigint NOT NULL DEFAULT 0,
    origin integer NOT NULL DEFAULT 0,
    seq bigint NOT NULL DEFAULT 0,
    dropped boolean NOT NULL DEFAULT false,
    PRIMARY KEY (shard_id, zone_name)
);

-- A shard move in progress (or, while "switched", draining its source):
-- the target pulls the shard from the source until the move is complete.
-- Replicated, so the source counts the target among the shard's peers
-- when it purges tombstones.
CREATE TABLE globalkv.shard_moves (
    shard_id integer NOT NULL CHECK (shard_id >= 0),
    zone_name text NOT NULL,
    source_node integer NOT NULL,
    target_node integer NOT NULL,
    state text NOT NULL CHECK (state IN ('copying', 'switched')),
    started_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    hlc bigint NOT NULL DEFAULT 0,
    origin integer NOT NULL DEFAULT 0,
    seq bigint NOT NULL DEFAULT 0,
    dropped boolean NOT NULL DEFAULT false,
    PRIMARY KEY (shard_id, zone_name),
    CHECK (source_node <> target_node)
);
SELECT pg_catalog.pg_extension_config_dump('globalkv.placements', '');
SELECT pg_catalog.pg_extension_config_dump('globalkv.shard_moves', '');
CREATE TRIGGER catalog_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON globalkv.placements FOR EACH STATEMENT EXECUTE FUNCTION globalkv.catalog_changed();
CREATE TRIGGER catalog_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON globalkv.shard_moves FOR EACH STATEMENT EXECUTE FUNCTION globalkv.catalog_changed();

-- The one definition of "who holds shard s in zone z": the live explicit
-- placement on a live node of that zone, else the zone's smallest node id.
-- The C catalog cache (routing, replication pairing) reads this view too.
CREATE VIEW globalkv.placement_map AS
    SELECT s.shard_id, z.zone_name,
           coalesce((SELECT p.node_id
                       FROM globalkv.placements p
                       JOIN globalkv.nodes n ON n.node_id = p.node_id AND NOT n.dropped
                                             AND n.zone_name = p.zone_name
                      WHERE p.shard_id = s.shard_id AND p.zone_name = z.zone_name
                        AND NOT p.dropped),
                    z.first_node) AS node_id
      FROM globalkv.shards s
      CROSS JOIN (SELECT zone_name, min(node_id) AS first_node
                    FROM globalkv.nodes WHERE NOT dropped GROUP BY zone_name) z;

-- Placements for people: one row per shard and zone.
CREATE VIEW kv.placements AS
    SELECT m.shard_id, m.zone_name, m.node_id, n.node_name,
           m.node_id = g.node_id AS is_local,
           mv.target_node AS moving_to, mv.state AS move_state
      FROM globalkv.placement_map m
      JOIN globalkv.nodes n ON n.node_id = m.node_id
      CROSS JOIN globalkv.node g
      LEFT JOIN globalkv.shard_moves mv
             ON mv.shard_id = m.shard_id AND mv.zone_name = m.zone_name AND NOT mv.dropped;

-- globalkv.shard_peers(s): the nodes that pull shard s from this node --
-- its holder in every zone (this zone's too: a holder pulls its shards
-- from every node, which is how rows stranded on a former holder come
-- home) and the target of a move.  Tombstones of s wait for all of them.
CREATE FUNCTION globalkv.shard_peers(p_shard integer)
RETURNS SETOF integer
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT m.node_id FROM globalkv.placement_map m
     WHERE m.shard_id = p_shard AND m.node_id <> (SELECT node_id FROM globalkv.node)
    UNION
    SELECT mv.target_node FROM globalkv.shard_moves mv
     WHERE mv.shard_id = p_shard AND NOT mv.dropped
       AND mv.target_node <> (SELECT node_id FROM globalkv.node)
$fn$;

-- kv.set_placement puts shard s of node's zone on that node, everywhere.
-- It moves no data: the new holder pulls the shard from the old one like
-- from any peer, so reads on it miss documents until it has caught up.
-- For a parade being created; to move a shard holding data, use
-- `globalkv shard move` (docs/shard-moves.md).
CREATE FUNCTION kv.set_placement(shard_id integer, node_id integer)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    z text;
    v bigint;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM globalkv.shards s WHERE s.shard_id = set_placement.shard_id) THEN
        RAISE EXCEPTION 'shard % does not exist', shard_id USING ERRCODE = 'GK009',
            HINT = format('Shards are numbered 0 to %s.', (SELECT count(*) - 1 FROM globalkv.shards));
    END IF;
    SELECT n.zone_name INTO z FROM globalkv.nodes n
     WHERE n.node_id = set_placement.node_id AND NOT n.dropped;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'node % is not in the parade', node_id USING ERRCODE = 'GK009';
    END IF;
    IF EXISTS (SELECT 1 FROM globalkv.shard_moves mv
                WHERE mv.shard_id = set_placement.shard_id AND mv.zone_name = z AND NOT mv.dropped) THEN
        RAISE EXCEPTION 'shard % of zone "%" is being moved', shard_id, z USING ERRCODE = 'GK012',
            HINT = 'Finish or roll back the move first (globalkv shard move).';
    END IF;
    v := globalkv.stamp();
    INSERT INTO globalkv.placements AS p (shard_id, zone_name, node_id, hlc, origin, seq, dropped)
    VALUES (set_placement.shard_id, z, set_placement.node_id, v,
            (SELECT g.node_id FROM globalkv.node g), v, false)
    ON CONFLICT ON CONSTRAINT placements_pkey DO UPDATE
       SET node_id = EXCLUDED.node_id, hlc = EXCLUDED.hlc, origin = EXCLUDED.origin,
           seq = EXCLUDED.seq, dropped = false;
END
$fn$;

-- kv.add_node, as in 0.1, and: when a node joins a zone that already has
-- nodes, the zone's current default placements are written down first,
-- so that the newcomer (even with a smaller id) takes no shard until a
-- move or rebalance gives it one.
CREATE OR REPLACE FUNCTION kv.add_node(node_id integer, node_name text, zone_name text, conninfo text)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v bigint;
    me integer := (SELECT g.node_id FROM globalkv.node g);
BEGIN
    IF node_id IS NULL OR node_id < 1 THEN
        RAISE EXCEPTION 'node id must be a positive integer' USING ERRCODE = 'GK009';
    END IF;
    PERFORM globalkv.check_name('node', node_name);
    PERFORM globalkv.check_name('zone', zone_name);
    IF coalesce(conninfo, '') = '' THEN
        RAISE EXCEPTION 'node connection string must not be empty' USING ERRCODE = 'GK009';
    END IF;
    PERFORM 1 FROM globalkv.nodes n
     WHERE n.node_name = add_node.node_name AND n.node_id <> add_node.node_id AND NOT n.dropped;
    IF FOUND THEN
        RAISE EXCEPTION 'another node is already named "%"', node_name USING ERRCODE = 'GK011';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM globalkv.nodes n WHERE n.node_id = add_node.node_id AND NOT n.dropped)
       AND EXISTS (SELECT 1 FROM globalkv.nodes n WHERE n.zone_name = add_node.zone_name AND NOT n.dropped)
    THEN
        v := globalkv.stamp();
        INSERT INTO globalkv.placements AS p (shard_id, zone_name, node_id, hlc, origin, seq, dropped)
        SELECT m.shard_id, m.zone_name, m.node_id, v, me, v, false
          FROM globalkv.placement_map m
         WHERE m.zone_name = add_node.zone_name
        ON CONFLICT ON CONSTRAINT placements_pkey DO UPDATE
           SET node_id = EXCLUDED.node_id, hlc = EXCLUDED.hlc, origin = EXCLUDED.origin,
               seq = EXCLUDED.seq, dropped = false
         WHERE p.dropped;
    END IF;
    v := globalkv.stamp();
    INSERT INTO globalkv.nodes AS n (node_id, node_name, zone_name, conninfo, hlc, origin, seq, dropped)
    VALUES (add_node.node_id, add_node.node_name, add_node.zone_name, add_node.conninfo,
            v, me, v, false)
    ON CONFLICT ON CONSTRAINT nodes_pkey DO UPDATE
       SET node_name = EXCLUDED.node_name, zone_name = EXCLUDED.zone_name,
           conninfo = EXCLUDED.conninfo, hlc = EXCLUDED.hlc, origin = EXCLUDED.origin,
           seq = EXCLUDED.seq, dropped = false;
END
$fn$;

-- kv.init_shards, as in 0.1, and it forgets placements and moves of the
-- old shard layout.
CREATE OR REPLACE FUNCTION kv.init_shards(shard_count integer)
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    t text;
    n bigint;
BEGIN
    IF shard_count IS NULL OR shard_count < 1 OR shard_count > 4096 THEN
        RAISE EXCEPTION 'shard count must be between 1 and 4096'
            USING ERRCODE = 'GK009';
    END IF;
    -- lock out every writer first, so "empty" stays true until we commit
    FOR t IN SELECT table_name FROM globalkv.shards ORDER BY shard_id LOOP
        EXECUTE format('LOCK TABLE globalkv_data.%I IN ACCESS EXCLUSIVE MODE', t);
    END LOOP;
    FOR t IN SELECT table_name FROM globalkv.shards ORDER BY shard_id LOOP
        EXECUTE format('SELECT count(*) FROM (SELECT 1 FROM globalkv_data.%I LIMIT 1) s', t) INTO n;
        IF n > 0 THEN
            RAISE EXCEPTION 'cannot change the shard count of a node that stores documents'
                USING ERRCODE = 'GK012',
                      DETAIL = format('Shard table %s is not empty.', t);
        END IF;
    END LOOP;
    FOR t IN SELECT table_name FROM globalkv.shards LOOP
        -- tables made by CREATE EXTENSION belong to it: detach, then drop
        IF EXISTS (SELECT 1 FROM pg_depend d
                    WHERE d.classid = 'pg_class'::regclass
                      AND d.objid = format('globalkv_data.%I', t)::regclass
                      AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e') THEN
            EXECUTE format('ALTER EXTENSION globalkv DROP TABLE globalkv_data.%I', t);
        END IF;
        EXECUTE format('DROP TABLE globalkv_data.%I', t);
    END LOOP;
    DELETE FROM globalkv.shards;
    DELETE FROM globalkv.placements;
    DELETE FROM globalkv.shard_moves;
    FOR i IN 0 .. shard_count - 1 LOOP
        PERFORM globalkv.create_shard_table(i, shard_count);
    END LOOP;
    RETURN shard_count;
END
$fn$;

-- apply_catalog_row, as in 0.1, plus placements and shard moves.  Their
-- stream key is "<shard>/<zone>".
CREATE OR REPLACE FUNCTION globalkv.apply_catalog_row(tbl text, k text, val jsonb,
                                                      p_hlc bigint, p_origin integer)
RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    cur_hlc bigint;
    cur_origin integer;
    v bigint;
    k_shard integer;
    k_zone text;
BEGIN
    IF tbl IN ('placements', 'shard_moves') THEN
        k_shard := split_part(k, '/', 1)::integer;
        k_zone := substr(k, length(split_part(k, '/', 1)) + 2);
    END IF;
    IF tbl = 'namespaces' THEN
        SELECT hlc, origin INTO cur_hlc, cur_origin FROM globalkv.namespaces WHERE name = k FOR UPDATE;
    ELSIF tbl = 'expiry_policies' THEN
        SELECT hlc, origin INTO cur_hlc, cur_origin FROM globalkv.expiry_policies WHERE name = k FOR UPDATE;
    ELSIF tbl = 'nodes' THEN
        SELECT hlc, origin INTO cur_hlc, cur_origin FROM globalkv.nodes WHERE node_id = k::integer FOR UPDATE;
    ELSIF tbl = 'placements' THEN
        SELECT hlc, origin INTO cur_hlc, cur_origin FROM globalkv.placements
         WHERE shard_id = k_shard AND zone_name = k_zone FOR UPDATE;
    ELSIF tbl = 'shard_moves' THEN
        SELECT hlc, origin INTO cur_hlc, cur_origin FROM globalkv.shard_moves
         WHERE shard_id = k_shard AND zone_name = k_zone FOR UPDATE;
    ELSE
        RAISE EXCEPTION 'unknown catalog table "%" in the replication stream', tbl
            USING ERRCODE = 'XX001';
    END IF;
    IF FOUND AND (cur_hlc, cur_origin) >= (p_hlc, p_origin) THEN
        RETURN false;
    END IF;
    v := globalkv.stamp();
    IF tbl = 'namespaces' THEN
        INSERT INTO globalkv.namespaces AS t (name, created_at, hlc, origin, seq, dropped)
        VALUES (k, coalesce((val->>'created_at')::timestamptz, now()), p_hlc, p_origin, v, val IS NULL)
        ON CONFLICT ON CONSTRAINT namespaces_pkey DO UPDATE
           SET created_at = EXCLUDED.created_at, hlc = EXCLUDED.hlc, origin = EXCLUDED.origin,
               seq = EXCLUDED.seq, dropped = EXCLUDED.dropped
         WHERE (t.hlc, t.origin) < (EXCLUDED.hlc, EXCLUDED.origin);
        IF val IS NULL THEN
            PERFORM globalkv.lock_shards_against_writes();
            PERFORM globalkv.remove_namespace_documents(k);
        END IF;
    ELSIF tbl = 'expiry_policies' THEN
        INSERT INTO globalkv.expiry_policies AS t (name, ttl, hlc, origin, seq, dropped)
        VALUES (k, (val->>'ttl')::interval, p_hlc, p_origin, v, val IS NULL)
        ON CONFLICT ON CONSTRAINT expiry_policies_pkey DO UPDATE
           SET ttl = EXCLUDED.ttl, hlc = EXCLUDED.hlc, origin = EXCLUDED.origin,
               seq = EXCLUDED.seq, dropped = EXCLUDED.dropped
         WHERE (t.hlc, t.origin) < (EXCLUDED.hlc, EXCLUDED.origin);
    ELSIF tbl = 'nodes' THEN
        INSERT INTO globalkv.nodes AS t (node_id, node_name, zone_name, conninfo, hlc, origin, seq, dropped)
        VALUES (k::integer, coalesce(val->>'node_name', 'node' || k), coalesce(val->>'zone_name', 'unknown'),
                coalesce(val->>'conninfo', ''), p_hlc, p_origin, v, val IS NULL)
        ON CONFLICT ON CONSTRAINT nodes_pkey DO UPDATE
           SET node_name = CASE WHEN EXCLUDED.dropped THEN t.node_name ELSE EXCLUDED.node_name END,
               zone_name = CASE WHEN EXCLUDED.dropped THEN t.zone_name ELSE EXCLUDED.zone_name END,
               conninfo = CASE WHEN EXCLUDED.dropped THEN t.conninfo ELSE EXCLUDED.conninfo END,
               hlc = EXCLUDED.hlc, origin = EXCLUDED.origin,
               seq = EXCLUDED.seq, dropped = EXCLUDED.dropped
         WHERE (t.hlc, t.origin) < (EXCLUDED.hlc, EXCLUDED.origin);
    ELSIF tbl = 'placements' THEN
        INSERT INTO globalkv.placements AS t (shard_id, zone_name, node_id, hlc, origin, seq, dropped)
        VALUES (k_shard, k_zone, coalesce((val->>'node_id')::integer, 1), p_hlc, p_origin, v, val IS NULL)
        ON CONFLICT ON CONSTRAINT placements_pkey DO UPDATE
           SET node_id = CASE WHEN EXCLUDED.dropped THEN t.node_id ELSE EXCLUDED.node_id END,
               hlc = EXCLUDED.hlc, origin = EXCLUDED.origin,
               seq = EXCLUDED.seq, dropped = EXCLUDED.dropped
         WHERE (t.hlc, t.origin) < (EXCLUDED.hlc, EXCLUDED.origin);
    ELSE
        INSERT INTO globalkv.shard_moves AS t (shard_id, zone_name, source_node, target_node, state,
                                               started_at, hlc, origin, seq, dropped)
        VALUES (k_shard, k_zone, coalesce((val->>'source_node')::integer, 1),
                coalesce((val->>'target_node')::integer, 2), coalesce(val->>'state', 'copying'),
                coalesce((val->>'started_at')::timestamptz, now()), p_hlc, p_origin, v, val IS NULL)
        ON CONFLICT ON CONSTRAINT shard_moves_pkey DO UPDATE
           SET source_node = CASE WHEN EXCLUDED.dropped THEN t.source_node ELSE EXCLUDED.source_node END,
               target_node = CASE WHEN EXCLUDED.dropped THEN t.target_node ELSE EXCLUDED.target_node END,
               state = CASE WHEN EXCLUDED.dropped THEN t.state ELSE EXCLUDED.state END,
               started_at = CASE WHEN EXCLUDED.dropped THEN t.started_at ELSE EXCLUDED.started_at END,
               hlc = EXCLUDED.hlc, origin = EXCLUDED.origin,
               seq = EXCLUDED.seq, dropped = EXCLUDED.dropped
         WHERE (t.hlc, t.origin) < (EXCLUDED.hlc, EXCLUDED.origin);
    END IF;
    RETURN true;
END
$fn$;

-- globalkv.catalog_row(tbl, k) -> the row as the replication stream
-- carries it, for copying one catalog change to another node at once
-- (shard moves) instead of waiting for replication.
CREATE FUNCTION globalkv.catalog_row(tbl text, k text,
                                     OUT val jsonb, OUT hlc bigint, OUT origin integer)
RETURNS record
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    k_shard integer := split_part(k, '/', 1)::integer;
    k_zone text := substr(k, length(split_part(k, '/', 1)) + 2);
BEGIN
    IF tbl = 'placements' THEN
        SELECT CASE WHEN p.dropped THEN NULL ELSE jsonb_build_object('node_id', p.node_id) END,
               p.hlc, p.origin
          INTO val, hlc, origin
          FROM globalkv.placements p WHERE p.shard_id = k_shard AND p.zone_name = k_zone;
    ELSIF tbl = 'shard_moves' THEN
        SELECT CASE WHEN m.dropped THEN NULL ELSE
                   jsonb_build_object('source_node', m.source_node, 'target_node', m.target_node,
                                      'state', m.state, 'started_at', m.started_at) END,
               m.hlc, m.origin
          INTO val, hlc, origin
          FROM globalkv.shard_moves m WHERE m.shard_id = k_shard AND m.zone_name = k_zone;
    ELSE
        RAISE EXCEPTION 'catalog_row supports placements and shard_moves, not "%"', tbl
            USING ERRCODE = 'GK009';
    END IF;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no % row "%"', tbl, k USING ERRCODE = 'GK009';
    END IF;
END
$fn$;

-- purge_tombstones, as in 0.1, but a shard's tombstones wait only for the
-- shard's peers (globalkv.shard_peers), and only those are marked for a
-- resync when the retention forces a purge.
CREATE OR REPLACE FUNCTION globalkv.purge_tombstones(retention_seconds integer, min_age_seconds integer,
                                                     max_rows integer)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    s record;
    safe bigint;
    cutoff bigint := ((extract(epoch FROM now() - make_interval(secs => retention_seconds)) * 1000)::bigint << 16);
    min_age_cutoff bigint := ((extract(epoch FROM now() - make_interval(secs => min_age_seconds)) * 1000)::bigint << 16);
    n bigint;
    maxseq bigint;
    found boolean;
    total bigint := 0;
BEGIN
    FOR s IN SELECT shard_id, table_name FROM globalkv.shards ORDER BY shard_id LOOP
        SELECT min(coalesce(a.cursor, 0)) INTO safe
          FROM globalkv.shard_peers(s.shard_id) p(node_id)
          LEFT JOIN globalkv.peer_acks a ON a.peer_node_id = p.node_id AND a.shard_id = s.shard_id;
        safe := coalesce(safe, 9223372036854775807);   -- no peers: nobody to wait for
        -- look first: the DELETE would hold a RowExclusiveLock on the shard
        -- until the end of this transaction, holding up a move's fence
        n := 0;
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM globalkv_data.%I WHERE value IS NULL AND seq <= $1 AND hlc < $2)',
                       s.table_name) INTO found USING safe, min_age_cutoff;
        IF found THEN
            EXECUTE format(
                'WITH gone AS (DELETE FROM globalkv_data.%1$I WHERE ctid = ANY(ARRAY(
                     SELECT ctid FROM globalkv_data.%1$I WHERE value IS NULL AND seq <= $1 AND hlc < $3
                      LIMIT $2 FOR UPDATE SKIP LOCKED)) AND value IS NULL RETURNING 1)
                 SELECT count(*) FROM gone', s.table_name) INTO n USING safe, max_rows, min_age_cutoff;
        END IF;
        total := total + n;

        n := 0;
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM globalkv_data.%I WHERE value IS NULL AND hlc < $1)',
                       s.table_name) INTO found USING cutoff;
        IF found THEN
            PERFORM pg_advisory_xact_lock(18251, 1);
            EXECUTE format(
                'WITH gone AS (DELETE FROM globalkv_data.%1$I WHERE ctid = ANY(ARRAY(
                     SELECT ctid FROM globalkv_data.%1$I WHERE value IS NULL AND hlc < $1
                      LIMIT $2 FOR UPDATE SKIP LOCKED)) AND value IS NULL RETURNING seq)
                 SELECT count(*), max(seq) FROM gone', s.table_name) INTO n, maxseq USING cutoff, max_rows;
        END IF;
        IF n > 0 THEN
            total := total + n;
            INSERT INTO globalkv.peer_acks AS a (peer_node_id, shard_id, cursor, acked_at, resync_below)
            SELECT p.node_id, s.shard_id, 0, now(), maxseq
              FROM globalkv.shard_peers(s.shard_id) p(node_id)
            ON CONFLICT (peer_node_id, shard_id) DO UPDATE
               SET resync_below = greatest(a.resync_below, EXCLUDED.resync_below)
             WHERE a.cursor < EXCLUDED.resync_below;
            IF FOUND THEN
                RAISE LOG 'globalkv: purged % tombstones of shard % older than the retention; peers that had not acknowledged them must resync',
                    n, s.shard_id;
            END IF;
        END IF;
    END LOOP;
    RETURN total;
END
$fn$;

-- ---------------------------------------------------------------------
-- Routing (src/routing/)
-- ---------------------------------------------------------------------

-- kv.shard_map() -> the shard map as the client library reads it
-- (format in docs/routing.md).
CREATE FUNCTION kv.shard_map() RETURNS text
    AS 'MODULE_PATHNAME', 'gkv_shard_map' LANGUAGE C STABLE;

-- ---------------------------------------------------------------------
-- Online shard moves (docs/shard-moves.md).  The `globalkv shard move`
-- command drives these steps; each is safe to repeat.
-- ---------------------------------------------------------------------

-- globalkv.fence_shard(s): C helper of move_fence; see src/routing/fence.c.
CREATE FUNCTION globalkv.fence_shard(shard integer) RETURNS void
    AS 'MODULE_PATHNAME', 'gkv_fence_shard' LANGUAGE C VOLATILE;

-- Step 1, on the target: record the move (state "copying"); from then on
-- the target's apply worker pulls the shard from the source, from
-- cursor 0.  Repeating it for the same move changes nothing (resume).
CREATE FUNCTION globalkv.move_prepare(p_shard integer, p_source integer)
RETURNS text
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    me integer := (SELECT node_id FROM globalkv.node);
    z text := (SELECT zone_name FROM globalkv.nodes WHERE node_id = me AND NOT dropped);
    src_zone text;
    holder integer;
    mv record;
    t text;
    v bigint;
BEGIN
    IF z IS NULL THEN
        RAISE EXCEPTION 'this node is not in a parade' USING ERRCODE = 'GK013';
    END IF;
    SELECT zone_name INTO src_zone FROM globalkv.nodes WHERE node_id = p_source AND NOT dropped;
    IF src_zone IS DISTINCT FROM z THEN
        RAISE EXCEPTION 'node % is not in zone "%"', p_source, z USING ERRCODE = 'GK009',
            HINT = 'A shard moves between nodes of one zone.';
    END IF;
    SELECT node_id INTO holder FROM globalkv.placement_map WHERE shard_id = p_shard AND zone_name = z;
    IF holder IS NULL THEN
        RAISE EXCEPTION 'shard % does not exist', p_shard USING ERRCODE = 'GK009';
    END IF;
    SELECT * INTO mv FROM globalkv.shard_moves WHERE shard_id = p_shard AND zone_name = z AND NOT dropped;
    IF FOUND THEN
        IF mv.source_node = p_source AND mv.target_node = me THEN
            RETURN mv.state;                       -- resuming
        END IF;
        RAISE EXCEPTION 'shard % of zone "%" is already moving from node % to node %',
            p_shard, z, mv.source_node, mv.target_node USING ERRCODE = 'GK012';
    END IF;
    IF holder <> p_source THEN
        RAISE EXCEPTION 'shard % of zone "%" is on node %, not on node %', p_shard, z, holder, p_source
            USING ERRCODE = 'GK009';
    END IF;
    -- start from nothing: whatever this node has of the shard is stale
    SELECT table_name INTO t FROM globalkv.shards WHERE shard_id = p_shard;
    EXECUTE format('TRUNCATE globalkv_data.%I', t);
    DELETE FROM globalkv.peer_cursors WHERE shard_id = p_shard;
    DELETE FROM globalkv.peer_acks WHERE shard_id = p_shard;
    v := globalkv.stamp();
    INSERT INTO globalkv.shard_moves AS m (shard_id, zone_name, source_node, target_node, state,
                                           started_at, hlc, origin, seq, dropped)
    VALUES (p_shard, z, p_source, me, 'copying', now(), v, me, v, false)
    ON CONFLICT ON CONSTRAINT shard_moves_pkey DO UPDATE
       SET source_node = EXCLUDED.source_node, target_node = EXCLUDED.target_node,
           state = EXCLUDED.state, started_at = EXCLUDED.started_at, hlc = EXCLUDED.hlc,
           origin = EXCLUDED.origin, seq = EXCLUDED.seq, dropped = false;
    RAISE LOG 'globalkv: move of shard % (zone "%") from node % to this node started', p_shard, z, p_source;
    RETURN 'copying';
END
$fn$;

-- globalkv.move_progress(s), on the target: the move's state and how far
-- the copy has got (rows stored here, the source cursor reached).
CREATE FUNCTION globalkv.move_progress(p_shard integer,
    OUT state text, OUT source_node integer, OUT target_node integer,
    OUT rows_copied bigint, OUT source_cursor bigint, OUT started_at timestamptz)
RETURNS record
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    me integer := (SELECT node_id FROM globalkv.node);
    z text := (SELECT zone_name FROM globalkv.nodes WHERE node_id = me AND NOT dropped);
    t text;
BEGIN
    SELECT m.state, m.source_node, m.target_node, m.started_at
      INTO state, source_node, target_node, started_at
      FROM globalkv.shard_moves m WHERE m.shard_id = p_shard AND m.zone_name = z AND NOT m.dropped;
    IF NOT FOUND THEN
        state := 'none';
        RETURN;
    END IF;
    SELECT table_name INTO t FROM globalkv.shards WHERE shard_id = p_shard;
    EXECUTE format('SELECT count(*) FROM globalkv_data.%I', t) INTO rows_copied;
    SELECT c.cursor INTO source_cursor FROM globalkv.peer_cursors c
     WHERE c.peer_node_id = source_node AND c.shard_id = p_shard;
    source_cursor := coalesce(source_cursor, 0);
END
$fn$;

-- Step 2, on the source, in a transaction the mover keeps open: block
-- writes to the shard (readers go on), and return the last change
-- sequence of the shard and this node's cursors for it.  While fenced,
-- a pull of this shard reads to its end without waiting for the clock
-- horizon (no write of it can be in flight).
CREATE FUNCTION globalkv.move_fence(p_shard integer, OUT last_seq bigint, OUT cursors jsonb)
RETURNS record
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    t text;
BEGIN
    SELECT table_name INTO t FROM globalkv.shards WHERE shard_id = p_shard;
    IF t IS NULL THEN
        RAISE EXCEPTION 'shard % does not exist', p_shard USING ERRCODE = 'GK009';
    END IF;
    EXECUTE format('LOCK TABLE globalkv_data.%I IN SHARE MODE', t);
    PERFORM globalkv.fence_shard(p_shard);
    EXECUTE format('SELECT coalesce(max(seq), 0) FROM globalkv_data.%I', t) INTO last_seq;
    SELECT coalesce(jsonb_object_agg(c.peer_node_id::text, c.cursor), '{}'::jsonb) INTO cursors
      FROM globalkv.peer_cursors c WHERE c.shard_id = p_shard;
END
$fn$;

-- Step 3, on the target, once it has pulled the fenced shard to last_seq:
-- take over the source's cursors for the shard, make this node the
-- shard's holder in its zone, and mark the move "switched".  Returns the
-- new placement's stream key for copying it to the source at once.
CREATE FUNCTION globalkv.move_switch(p_shard integer, p_source integer, p_cursors jsonb)
RETURNS text
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    me integer := (SELECT node_id FROM globalkv.node);
    z text := (SELECT zone_name FROM globalkv.nodes WHERE node_id = me AND NOT dropped);
    mv record;
    v bigint;
BEGIN
    SELECT * INTO mv FROM globalkv.shard_moves
     WHERE shard_id = p_shard AND zone_name = z AND NOT dropped FOR UPDATE;
    IF NOT FOUND OR mv.target_node <> me OR mv.source_node <> p_source THEN
        RAISE EXCEPTION 'no move of shard % from node % to this node', p_shard, p_source
            USING ERRCODE = 'GK009';
    END IF;
    IF mv.state = 'copying' THEN
        INSERT INTO globalkv.peer_cursors AS c (peer_node_id, shard_id, cursor, updated_at)
        SELECT e.key::integer, p_shard, e.value::bigint, now()
          FROM jsonb_each_text(p_cursors) e
         WHERE e.key::integer NOT IN (me, p_source)
        ON CONFLICT (peer_node_id, shard_id) DO UPDATE
           SET cursor = greatest(c.cursor, EXCLUDED.cursor), updated_at = now();
        v := globalkv.stamp();
        INSERT INTO globalkv.placements AS p (shard_id, zone_name, node_id, hlc, origin, seq, dropped)
        VALUES (p_shard, z, me, v, me, v, false)
        ON CONFLICT ON CONSTRAINT placements_pkey DO UPDATE
           SET node_id = EXCLUDED.node_id, hlc = EXCLUDED.hlc, origin = EXCLUDED.origin,
               seq = EXCLUDED.seq, dropped = false;
        v := globalkv.stamp();
        UPDATE globalkv.shard_moves SET state = 'switched', hlc = v, origin = me, seq = v
         WHERE shard_id = p_shard AND zone_name = z;
        RAISE LOG 'globalkv: shard % of zone "%" switched from node % to this node', p_shard, z, p_source;
    END IF;
    RETURN p_shard || '/' || z;
END
$fn$;

-- Step 4, on the source after the switch: wait out writers that started
-- before this node learned of the switch, and return the shard's last
-- change sequence here; the move is drained when the target's cursor on
-- this node has reached it.
CREATE FUNCTION globalkv.move_drain_point(p_shard integer)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    me integer := (SELECT node_id FROM globalkv.node);
    z text := (SELECT zone_name FROM globalkv.nodes WHERE node_id = me AND NOT dropped);
    t text;
    last bigint;
BEGIN
    IF (SELECT node_id FROM globalkv.placement_map WHERE shard_id = p_shard AND zone_name = z) = me THEN
        RAISE EXCEPTION 'this node still holds shard %', p_shard USING ERRCODE = 'GK012';
    END IF;
    SELECT table_name INTO t FROM globalkv.shards WHERE shard_id = p_shard;
    EXECUTE format('LOCK TABLE globalkv_data.%I IN SHARE MODE', t);
    EXECUTE format('SELECT coalesce(max(seq), 0) FROM globalkv_data.%I', t) INTO last;
    RETURN last;
END
$fn$;

-- Step 5, on the target: the move is complete (it stops pulling the shard
-- from the source).
CREATE FUNCTION globalkv.move_complete(p_shard integer)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    me integer := (SELECT node_id FROM globalkv.node);
    z text := (SELECT zone_name FROM globalkv.nodes WHERE node_id = me AND NOT dropped);
    v bigint;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM globalkv.shard_moves
                    WHERE shard_id = p_shard AND zone_name = z AND NOT dropped
                      AND state = 'switched' AND target_node = me) THEN
        RETURN;
    END IF;
    v := globalkv.stamp();
    UPDATE globalkv.shard_moves SET dropped = true, hlc = v, origin = me, seq = v
     WHERE shard_id = p_shard AND zone_name = z;
    RAISE LOG 'globalkv: move of shard % to this node complete', p_shard;
END
$fn$;

-- Step 6, on the source: forget the shard (its rows now live on the
-- target).  Refused while this node holds the shard or a move from it is
-- still draining.
CREATE FUNCTION globalkv.move_cleanup(p_shard integer)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    me integer := (SELECT node_id FROM globalkv.node);
    z text := (SELECT zone_name FROM globalkv.nodes WHERE node_id = me AND NOT dropped);
    t text;
    n bigint;
BEGIN
    IF (SELECT node_id FROM globalkv.placement_map WHERE shard_id = p_shard AND zone_name = z) = me THEN
        RAISE EXCEPTION 'this node holds shard %', p_shard USING ERRCODE = 'GK012';
    END IF;
    IF EXISTS (SELECT 1 FROM globalkv.shard_moves
                WHERE shard_id = p_shard AND zone_name = z AND NOT dropped AND source_node = me) THEN
        RAISE EXCEPTION 'the move of shard % from this node is not complete', p_shard
            USING ERRCODE = 'GK012';
    END IF;
    SELECT table_name INTO t FROM globalkv.shards WHERE shard_id = p_shard;
    EXECUTE format('SELECT count(*) FROM globalkv_data.%I', t) INTO n;
    EXECUTE format('TRUNCATE globalkv_data.%I', t);
    DELETE FROM globalkv.peer_cursors WHERE shard_id = p_shard;
    DELETE FROM globalkv.peer_acks WHERE shard_id = p_shard;
    RAISE LOG 'globalkv: removed % rows of shard %, which moved away', n, p_shard;
    RETURN n;
END
$fn$;

-- Roll back a move that has not switched, on the target: stop copying and
-- drop what was copied.  After the switch a move can only be finished (or
-- followed by a move back).
CREATE FUNCTION globalkv.move_abort(p_shard integer)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    me integer := (SELECT node_id FROM globalkv.node);
    z text := (SELECT zone_name FROM globalkv.nodes WHERE node_id = me AND NOT dropped);
    mv record;
    t text;
    v bigint;
BEGIN
    SELECT * INTO mv FROM globalkv.shard_moves
     WHERE shard_id = p_shard AND zone_name = z AND NOT dropped FOR UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF mv.target_node <> me THEN
        RAISE EXCEPTION 'the move of shard % goes to node %, not this node', p_shard, mv.target_node
            USING ERRCODE = 'GK009';
    END IF;
    IF mv.state <> 'copying' THEN
        RAISE EXCEPTION 'the move of shard % has switched and cannot be rolled back', p_shard
            USING ERRCODE = 'GK012',
                  HINT = 'Finish it (run the same move again), then move the shard back if needed.';
    END IF;
    v := globalkv.stamp();
    UPDATE globalkv.shard_moves SET dropped = true, hlc = v, origin = me, seq = v
     WHERE shard_id = p_shard AND zone_name = z;
    SELECT table_name INTO t FROM globalkv.shards WHERE shard_id = p_shard;
    EXECUTE format('TRUNCATE globalkv_data.%I', t);
    DELETE FROM globalkv.peer_cursors WHERE shard_id = p_shard;
    DELETE FROM globalkv.peer_acks WHERE shard_id = p_shard;
    RAISE LOG 'globalkv: move of shard % from node % rolled back', p_shard, mv.source_node;
END
$fn$;

-- ---------------------------------------------------------------------
-- Privileges
-- ---------------------------------------------------------------------
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA kv FROM PUBLIC;
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA globalkv FROM PUBLIC;
GRANT EXECUTE ON FUNCTION kv.shard_map() TO globalkv_client;
GRANT SELECT ON kv.placements TO globalkv_client;
GRANT SELECT ON globalkv.placements, globalkv.shard_moves, globalkv.placement_map
    TO globalkv_client, globalkv_replication;
GRANT EXECUTE ON FUNCTION
    kv.set_placement(integer, integer), globalkv.shard_peers(integer),
    globalkv.catalog_row(text, text),
    globalkv.move_prepare(integer, integer), globalkv.move_progress(integer),
    globalkv.move_fence(integer), globalkv.move_switch(integer, integer, jsonb),
    globalkv.move_drain_point(integer), globalkv.move_complete(integer),
    globalkv.move_cleanup(integer), globalkv.move_abort(integer)
  TO globalkv_admin;
