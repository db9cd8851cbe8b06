-- catalog: namespaces and expiry policies are rows, managed at run time
SELECT kv.create_namespace('sessions');
SELECT kv.create_namespace('counters.v2');
SELECT try($$SELECT kv.create_namespace('sessions')$$);
SELECT try($$SELECT kv.create_namespace('')$$);
SELECT try($$SELECT kv.create_namespace('has space')$$);
SELECT try($$SELECT kv.create_namespace('-dash-first')$$);
SELECT try(format($$SELECT kv.create_namespace(%L)$$, repeat('n', 64)));
SELECT try($$SELECT kv.create_namespace(NULL)$$);
SELECT name FROM kv.namespaces ORDER BY name COLLATE "C";

-- a namespace created in this session is usable at once (the cache reloads)
SELECT kv.put('sessions', 's1', '{"user": 1}');
SELECT kv.put('counters.v2', 'c1', '{"n": 1}');
-- dropping removes its documents and makes it unknown
SELECT kv.drop_namespace('counters.v2');
SELECT try($$SELECT kv.get('counters.v2', 'c1')$$);
SELECT try($$SELECT kv.drop_namespace('counters.v2')$$);
SELECT try($$SELECT kv.drop_namespace('DEFAULT')$$);
SELECT stored_rows('counters.v2');
-- a rolled-back creation leaves no namespace behind
BEGIN;
SELECT kv.create_namespace('ghost');
SELECT kv.put('ghost', 'k', '{}');
ROLLBACK;
SELECT try($$SELECT kv.put('ghost', 'k', '{}')$$);

-- expiry policies
SELECT kv.create_expiry_policy('SHORT', interval '1 hour');
SELECT kv.create_expiry_policy('MONTHLY', interval '1 month');
SELECT try($$SELECT kv.create_expiry_policy('SHORT', interval '2 hours')$$);
SELECT try($$SELECT kv.create_expiry_policy('NEG', interval '-1 second')$$);
SELECT try($$SELECT kv.create_expiry_policy('ZERO', interval '0')$$);
SELECT try($$SELECT kv.create_expiry_policy('bad name', interval '1 hour')$$);
SELECT name, ttl FROM kv.expiry_policies ORDER BY name;
-- the expiry time is computed once, at the write, from the policy
SELECT kv.put('sessions', 's2', '{"user": 2}', 'SHORT');
SELECT expires_at BETWEEN now() + interval '59 minutes' AND clock_timestamp() + interval '1 hour'
       AS expires_in_an_hour
  FROM kv.get_versioned('sessions', 's2');
SELECT kv.put('sessions', 's3', '{"user": 3}', 'MONTHLY');
SELECT expires_at BETWEEN now() + interval '1 month' - interval '1 minute'
                      AND clock_timestamp() + interval '1 month' AS expires_in_a_month
  FROM kv.get_versioned('sessions', 's3');
-- a TTL in seconds instead of a policy
SELECT kv.put('sessions', 's4', '{"user": 4}', 600);
SELECT expires_at BETWEEN now() + interval '599 seconds' AND clock_timestamp() + interval '600 seconds'
       AS expires_in_ten_minutes
  FROM kv.get_versioned('sessions', 's4');
-- altering a policy affects later writes only
SELECT kv.alter_expiry_policy('SHORT', interval '2 hours');
SELECT expires_at < now() + interval '61 minutes' AS old_expiry_kept
  FROM kv.get_versioned('sessions', 's2');
SELECT kv.put('sessions', 's5', '{"user": 5}', 'SHORT');
SELECT expires_at > now() + interval '119 minutes' AS new_expiry_used
  FROM kv.get_versioned('sessions', 's5');
SELECT try($$SELECT kv.alter_expiry_policy('NO_EXPIRE', interval '1 day')$$);
SELECT try($$SELECT kv.alter_expiry_policy('MISSING', interval '1 day')$$);
SELECT try($$SELECT kv.alter_expiry_policy('SHORT', interval '-1 day')$$);
-- a put under NO_EXPIRE removes the expiry
SELECT kv.put('sessions', 's2', '{"user": 2}', 'NO_EXPIRE');
SELECT expires_at IS NULL AS no_expiry FROM kv.get_versioned('sessions', 's2');
SELECT kv.drop_expiry_policy('MONTHLY');
SELECT try($$SELECT kv.put('sessions', 's6', '{}', 'MONTHLY')$$);
SELECT try($$SELECT kv.drop_expiry_policy('MONTHLY')$$);
SELECT try($$SELECT kv.drop_expiry_policy('NO_EXPIRE')$$);

-- node identity and shard count can change only while no document is stored
SELECT try($$SELECT kv.set_node(7, 'n7', 'z7')$$);
SELECT kv.set_node(1, 'node-one', 'zone-a');
SELECT node_id, node_name, zone_name FROM kv.node;
SELECT try($$SELECT kv.set_node(0, 'n', 'z')$$);
SELECT try($$SELECT kv.set_node(1, '', 'z')$$);
SELECT try($$SELECT kv.init_shards(64)$$);
SELECT try($$SELECT kv.init_shards(0)$$);
