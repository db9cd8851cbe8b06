-- Helpers for bench/replication.sh, installed on every node of the
-- benchmark's parade (schema "bench", local to each node: globalkv does not
-- replicate it).  They run on the server so that waiting and timing do not
-- depend on how fast the shell can start psql.  Every wait is bounded.

CREATE SCHEMA bench;

-- bench.max_seq(): the highest seq stored on this node (every shard,
-- through the seq indexes).  A peer whose cursor for this node has reached
-- it has pulled everything this node has stored so far.
CREATE FUNCTION bench.max_seq() RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    q text;
    m bigint;
BEGIN
    SELECT 'SELECT greatest(0' || string_agg(format(', (SELECT max(seq) FROM globalkv_data.%I)', table_name), '')
           || ')'
      INTO q FROM globalkv.shards;
    EXECUTE q INTO m;
    RETURN m;
END
$fn$;

-- bench.wait_blocked(peers, timeout_ms): wait until the apply worker of
-- each of these peers reports that globalkv.debug_block_pull_from stops it.
CREATE FUNCTION bench.wait_blocked(peers int[], timeout_ms int) RETURNS boolean
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    t0 timestamptz := clock_timestamp();
BEGIN
    LOOP
        IF (SELECT count(*) FROM globalkv.replication_status() s
             WHERE s.peer_node_id = ANY (peers)
               AND s.last_error LIKE '%blocked by globalkv.debug_block_pull_from%')
           = cardinality(peers) THEN
            RETURN true;
        END IF;
        IF clock_timestamp() - t0 > timeout_ms * interval '1 ms' THEN
            RETURN false;
        END IF;
        PERFORM pg_sleep(0.02);
    END LOOP;
END
$fn$;

-- bench.wait_cursors(peers, targets, timeout_ms): wait until this node's
-- cursor for peers[i] is at least targets[i] for every i (the peer's
-- bench.max_seq() taken earlier); returns the unix time in ms at which
-- that was first seen (polled every 2 ms), NULL on timeout.
CREATE FUNCTION bench.wait_cursors(peers int[], targets bigint[], timeout_ms int) RETURNS numeric
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    t0 timestamptz := clock_timestamp();
BEGIN
    LOOP
        IF (SELECT count(*) FROM globalkv.replication_status() s,
                   unnest(peers, targets) AS w(peer, target)
             WHERE s.peer_node_id = w.peer AND s.cursor >= w.target)
           = cardinality(peers) THEN
            RETURN round(extract(epoch FROM clock_timestamp()) * 1000, 1);
        END IF;
        IF clock_timestamp() - t0 > timeout_ms * interval '1 ms' THEN
            RETURN NULL;
        END IF;
        PERFORM pg_sleep(0.002);
    END LOOP;
END
$fn$;

-- bench.catchup(peers, nrows, timeout_ms): reload the configuration (the
-- caller has just removed globalkv.debug_block_pull_from with ALTER
-- SYSTEM), then poll the apply workers of these peers every 2 ms until
-- they have stored nrows rows that changed something here (rows_applied -
-- conflicts, summed over the peers, counted from the call).  Returns unix
-- ms of the reload, of the first commit of applied rows and of the one that
-- completed nrows, and how many rows the first commit brought.
CREATE FUNCTION bench.catchup(peers int[], nrows bigint, timeout_ms int,
    OUT t_reload numeric, OUT t_first numeric, OUT t_done numeric,
    OUT first_rows bigint, OUT done_rows bigint)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    base bigint;
    n bigint;
    t0 timestamptz;
BEGIN
    SELECT coalesce(sum(s.rows_applied - s.conflicts), 0) INTO base
      FROM globalkv.replication_status() s WHERE s.peer_node_id = ANY (peers);
    t0 := clock_timestamp();
    PERFORM pg_reload_conf();
    t_reload := round(extract(epoch FROM t0) * 1000, 1);
    LOOP
        SELECT coalesce(sum(s.rows_applied - s.conflicts), 0) - base INTO n
          FROM globalkv.replication_status() s WHERE s.peer_node_id = ANY (peers);
        IF n > 0 AND t_first IS NULL THEN
            t_first := round(extract(epoch FROM clock_timestamp()) * 1000, 1);
            first_rows := n;
        END IF;
        IF n >= nrows THEN
            t_done := round(extract(epoch FROM clock_timestamp()) * 1000, 1);
            done_rows := n;
            RETURN;
        END IF;
        IF clock_timestamp() - t0 > timeout_ms * interval '1 ms' THEN
            done_rows := n;
            RETURN;
        END IF;
        PERFORM pg_sleep(0.002);
    END LOOP;
END
$fn$;

-- bench.seq_span(origin_node, key_prefix): the rows of one origin whose
-- keys start with key_prefix, and the span of this node's clock over which
-- they were stored here: (seq >> 16) is unix ms.
CREATE FUNCTION bench.seq_span(origin_node int, key_prefix text,
    OUT nrows bigint, OUT first_ms bigint, OUT last_ms bigint)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    q text;
BEGIN
    SELECT 'SELECT count(*), min(seq >> 16), max(seq >> 16) FROM ('
           || string_agg(format('SELECT seq FROM globalkv_data.%I WHERE origin = $1 AND namespace = ''DEFAULT'' AND key LIKE $2',
                                table_name), ' UNION ALL ')
           || ') r'
      INTO q FROM globalkv.shards;
    EXECUTE q INTO nrows, first_ms, last_ms USING origin_node, key_prefix || '%';
END
$fn$;

-- bench.lag(a_ms, b_ms, tail_ms): per-row replication lag on this node of
-- the documents written (repl_put.sql puts the writer's clock_timestamp()
-- in ms into "t") between a_ms and b_ms: (seq >> 16) - t, where seq is
-- this node's clock when the row was stored here.  Reads what
-- globalkv.shard_rows() reads, straight from the shard tables through the
-- seq index.  tail_*: only the rows written in the last tail_ms.
CREATE FUNCTION bench.lag(a_ms numeric, b_ms numeric, tail_ms numeric,
    OUT nrows bigint, OUT p50 numeric, OUT p99 numeric, OUT max numeric,
    OUT tail_rows bigint, OUT tail_p99 numeric, OUT tail_max numeric)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    q text;
BEGIN
    SELECT 'SELECT (seq >> 16) - (value->>''t'')::numeric AS lag, (value->>''t'')::numeric AS t FROM ('
           || string_agg(format('SELECT seq, value FROM globalkv_data.%I WHERE seq >= $1', table_name),
                         ' UNION ALL ')
           || ') r WHERE value ? ''t'''
      INTO q FROM globalkv.shards;
    EXECUTE 'SELECT count(*), round(percentile_disc(0.5) WITHIN GROUP (ORDER BY lag), 1),'
         || ' round(percentile_disc(0.99) WITHIN GROUP (ORDER BY lag), 1), round(max(lag), 1),'
         || ' count(*) FILTER (WHERE t >= $3 - $4),'
         || ' round(percentile_disc(0.99) WITHIN GROUP (ORDER BY lag) FILTER (WHERE t >= $3 - $4), 1),'
         || ' round(max(lag) FILTER (WHERE t >= $3 - $4), 1)'
         || ' FROM (' || q || ') s WHERE t BETWEEN $2 AND $3'
       INTO nrows, p50, p99, max, tail_rows, tail_p99, tail_max
      USING (floor(a_ms)::bigint - 1000) << 16, a_ms, b_ms, tail_ms;
END
$fn$;

-- bench.sample_waits(duration_ms, every_ms): samples pg_stat_activity of
-- this node for duration_ms and counts, per kind of process, what it was
-- doing: a wait event, or "CPU" (active, no wait event).
CREATE FUNCTION bench.sample_waits(duration_ms int, every_ms int)
RETURNS TABLE (who text, doing text, samples bigint, share numeric)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    t0 timestamptz := clock_timestamp();
    nsamples int := 0;
BEGIN
    CREATE TEMP TABLE IF NOT EXISTS bench_waits (who text, doing text);
    TRUNCATE bench_waits;
    WHILE clock_timestamp() - t0 < duration_ms * interval '1 ms' LOOP
        PERFORM pg_stat_clear_snapshot();
        INSERT INTO bench_waits
        SELECT CASE WHEN a.application_name LIKE 'globalkv apply from node%' THEN 'apply worker'
                    WHEN a.usename = 'globalkv_repl' THEN 'serving a peer''s pull'
                    WHEN a.application_name = 'pgbench' THEN 'pgbench backend'
                    ELSE coalesce(nullif(a.backend_type, ''), 'other') END,
               CASE WHEN a.state = 'idle' THEN 'idle (client)'
                    WHEN a.wait_event IS NULL THEN 'CPU'
                    ELSE a.wait_event_type || ':' || a.wait_event END
          FROM pg_stat_activity a
         WHERE a.pid <> pg_backend_pid()
           AND (a.backend_type IN ('client backend') OR a.application_name LIKE 'globalkv apply from node%');
        nsamples := nsamples + 1;
        PERFORM pg_sleep(every_ms / 1000.0);
    END LOOP;
    RETURN QUERY
        SELECT w.who, w.doing, count(*),
               round(100.0 * count(*) / sum(count(*)) OVER (PARTITION BY w.who), 1)
          FROM bench_waits w GROUP BY 1, 2 ORDER BY 1, 3 DESC;
END
$fn$;
