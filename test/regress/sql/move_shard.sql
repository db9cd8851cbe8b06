--
-- move_shard: kv.move_shard (docs/shard-moves.md) refuses a bad request
-- before it writes anything on any node, and only admins may call it or
-- watch moves.  This node joins a parade: itself, reachable through its
-- Unix socket, one more node of its zone and a node of another zone;
-- neither of those can be reached.  (Moves that succeed are in the TAP
-- tests 020 and 021.)
--
SELECT node_id, node_name, zone_name FROM kv.node;
SELECT kv.add_node(1, 'node-one', 'zone-a',
    format('host=''%s'' port=%s dbname=%s',
           split_part(current_setting('unix_socket_directories'), ',', 1),
           current_setting('port'), current_database()));
SELECT kv.add_node(2, 'unreachable', 'zone-a', 'host=127.0.0.1 port=1 dbname=regression');
SELECT kv.add_node(3, 'elsewhere', 'zone-b', 'host=127.0.0.1 port=1 dbname=regression');
-- zone-a's shards are pinned to node-one (node 2 joined after it); zone-b has one node
SELECT zone_name, node_name, count(*) FROM kv.placements GROUP BY 1, 2 ORDER BY 1;

-- what a move writes: placements and moves, here and (through us) nowhere else
CREATE FUNCTION public.move_catalog() RETURNS text
LANGUAGE sql AS $$
    SELECT (SELECT string_agg(format('%s/%s:%s%s', shard_id, zone_name, node_id,
                                     CASE WHEN dropped THEN 'x' ELSE '' END), ' '
                              ORDER BY zone_name, shard_id)
              FROM globalkv.placements)
           || ' | ' ||
           coalesce((SELECT string_agg(format('%s/%s:%s->%s %s%s', shard_id, zone_name,
                                              source_node, target_node, state,
                                              CASE WHEN dropped THEN 'x' ELSE '' END), ' '
                                       ORDER BY zone_name, shard_id)
                       FROM globalkv.shard_moves), 'no moves')
$$;
CREATE TABLE public.catalog_before AS SELECT public.move_catalog() AS c;

-- bad requests: unknown shard, unknown node, NULLs
SELECT public.try($$SELECT kv.move_shard(99999, 2)$$);
SELECT public.try($$SELECT kv.move_shard(-1, 2)$$);
SELECT public.try($$SELECT kv.move_shard(0, 42)$$);
SELECT public.try($$SELECT kv.move_shard(NULL, 2)$$);
SELECT public.try($$SELECT kv.move_shard(0, 2, NULL)$$);
-- the target already holds it (asked of the target itself, over a connection)
SELECT public.try($$SELECT kv.move_shard(0, 1)$$);
-- a node of another zone: the move would be of that zone's copy of the
-- shard (a move never crosses zones); that node cannot be reached
SELECT public.try($$SELECT kv.move_shard(0, 3)$$);
-- a target in the zone that cannot be reached
SELECT public.try($$SELECT kv.move_shard(0, 2)$$);
SELECT public.move_catalog() = c AS nothing_written FROM public.catalog_before;

-- a rollback with nothing to roll back says so and changes nothing
SELECT shard, zone, source, target, state, rows_copied, write_stall_ms
  FROM kv.move_shard(0, 1, rollback => true);
SELECT public.move_catalog() = c AS nothing_written FROM public.catalog_before;

-- a move in progress (started here by hand: from node 2 to this node) is
-- seen in kv.shard_moves_in_progress; resuming it, or rolling it back,
-- needs its source (the mover's lock is there), which cannot be reached:
-- the move stays as it was
SELECT kv.set_placement(5, 2);
SELECT globalkv.move_prepare(5, 2);
SELECT shard_id, zone_name, source_name, target_name, state, phase, mover_pid, rows_copied
  FROM kv.shard_moves_in_progress;
DROP TABLE public.catalog_before;
CREATE TABLE public.catalog_before AS SELECT public.move_catalog() AS c;
SELECT public.try($$SELECT kv.move_shard(5, 1)$$);
SELECT public.try($$SELECT kv.move_shard(5, 1, true)$$);
SELECT public.move_catalog() = c AS nothing_written FROM public.catalog_before;
SELECT globalkv.move_abort(5);
SELECT kv.set_placement(5, 1);
UPDATE public.catalog_before SET c = public.move_catalog();

-- the steps run on the nodes under the login of the catalog's connection
-- strings: a replication login may run them (this one gets as far as the
-- target's answer), a client login may not -- found before anything is
-- written
CREATE ROLE gkv_mover_repl LOGIN IN ROLE globalkv_replication;
CREATE ROLE gkv_mover_app LOGIN IN ROLE globalkv_client;
CREATE TABLE public.node_one AS SELECT conninfo FROM kv.nodes_admin WHERE node_id = 1;
SELECT kv.add_node(1, 'node-one', 'zone-a', conninfo || ' user=gkv_mover_repl') FROM public.node_one;
SELECT public.try($$SELECT kv.move_shard(0, 1)$$);
SELECT kv.add_node(1, 'node-one', 'zone-a', conninfo || ' user=gkv_mover_app') FROM public.node_one;
SELECT public.try($$SELECT kv.move_shard(0, 1)$$);
SELECT kv.add_node(1, 'node-one', 'zone-a', conninfo) FROM public.node_one;
DROP TABLE public.node_one;
SELECT public.move_catalog() = c AS nothing_written FROM public.catalog_before;

-- only admins move shards and watch moves
CREATE ROLE gkv_mover_ops LOGIN IN ROLE globalkv_admin;
SET ROLE gkv_mover_app;
SELECT public.try($$SELECT kv.move_shard(0, 2)$$);
SELECT public.try($$SELECT count(*) FROM kv.shard_moves_in_progress$$);
RESET ROLE;
SET ROLE gkv_mover_ops;
SELECT public.try($$SELECT kv.move_shard(99999, 2)$$);
SELECT count(*) FROM kv.shard_moves_in_progress;
RESET ROLE;
DROP ROLE gkv_mover_app, gkv_mover_ops, gkv_mover_repl;
SELECT proname, prosecdef, proconfig FROM pg_proc
 WHERE oid = 'kv.move_shard(integer, integer, boolean)'::regprocedure;

DROP FUNCTION public.move_catalog();
DROP TABLE public.catalog_before;
SELECT kv.drop_node(3);
SELECT kv.drop_node(2);
-- and this node leaves the parade again, for the tests that follow
SELECT kv.drop_node(1);
SELECT count(*) AS placements FROM kv.placements;
