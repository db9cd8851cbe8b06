-- kv.resync() makes this node start over from its peers: it removes every
-- row older than the tombstone retention (the ones a purged tombstone may
-- have deleted elsewhere) and pulls everything again from every peer.
-- Rows written here more recently stay, and replicate as usual.  0.3: the
-- cutoff through globalkv.hlc_at instead of the clock's bit layout retyped,
-- and the coverage floor raised (src/replication/coverage.c).
CREATE OR REPLACE FUNCTION kv.resync()
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    t text;
    n bigint;
    total bigint := 0;
    cutoff bigint := globalkv.hlc_at(now() - current_setting('globalkv.tombstone_retention')::interval);
BEGIN
    PERFORM globalkv.lock_shards_against_writes();
    FOR t IN SELECT table_name FROM globalkv.shards ORDER BY shard_id LOOP
        EXECUTE format('DELETE FROM globalkv_data.%I WHERE hlc < $1', t) USING cutoff;
        GET DIAGNOSTICS n = ROW_COUNT;
        total := total + n;
    END LOOP;
    DELETE FROM globalkv.peer_cursors;
    INSERT INTO globalkv.peer_cursors (peer_node_id, shard_id, cursor, updated_at, full_resync)
    SELECT p.node_id, sh.shard_id, 0, now(), true
      FROM globalkv.nodes p
      CROSS JOIN (SELECT -1 AS shard_id UNION ALL SELECT shard_id FROM globalkv.shards) sh
     WHERE NOT p.dropped AND p.node_id <> (SELECT node_id FROM globalkv.node);
    -- peers must no longer leave out rows on the strength of what we held
    PERFORM globalkv.coverage_reset();
    -- apply workers hold cursors in memory: restart them (the launcher does)
    PERFORM pg_terminate_backend(pid) FROM pg_stat_activity
      WHERE backend_type = 'globalkv apply' AND datname = current_database();
    RAISE LOG 'globalkv: resync started, % old rows removed, pulling everything from every peer', total;
    RETURN total;
END
$fn$;
