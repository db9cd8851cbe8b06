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
