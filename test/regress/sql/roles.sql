-- roles: clients call the API but cannot touch shard tables; only admins
-- change the catalog
CREATE ROLE gkv_app LOGIN IN ROLE globalkv_client;
CREATE ROLE gkv_ops LOGIN IN ROLE globalkv_admin;
CREATE ROLE gkv_nobody LOGIN;
SELECT kv.create_namespace('roles');

SET ROLE gkv_app;
SELECT kv.put('roles', 'k1', '{"by": "app"}');
SELECT kv.get('roles', 'k1');
SELECT kv.patch_numeric('roles', 'k1', '{"n": 1}');
SELECT * FROM kv.put_many('roles', ARRAY['k2'], ARRAY['{"n": 2}']::jsonb[]);
SELECT * FROM kv.get_many('roles', ARRAY['k1', 'k2']);
SELECT count(*) FROM kv.get_versioned('roles', 'k1');
SELECT kv.delete('roles', 'k2');
SELECT puts > 0 AS can_read_stats FROM kv.stats;
-- but no direct access to the data, and no catalog changes
SELECT try($$SELECT count(*) FROM globalkv_data.shard_0000$$);
SELECT try($$UPDATE globalkv_data.shard_0000 SET value = '{}'$$);
SELECT try($$INSERT INTO globalkv.namespaces (name) VALUES ('sneaky')$$);
SELECT try($$SELECT kv.create_namespace('sneaky')$$);
SELECT try($$SELECT kv.drop_namespace('roles')$$);
SELECT try($$SELECT kv.create_expiry_policy('X', interval '1 day')$$);
SELECT try($$SELECT kv.init_shards(4)$$);
RESET ROLE;

SET ROLE gkv_ops;
SELECT kv.create_namespace('ops_made');
SELECT kv.create_expiry_policy('OPS_DAY', interval '1 day');
-- admins are clients too
SELECT kv.put('ops_made', 'k', '{"by": "ops"}', 'OPS_DAY');
SELECT try($$SELECT count(*) FROM globalkv_data.shard_0000$$);
RESET ROLE;

SET ROLE gkv_nobody;
SELECT try($$SELECT kv.get('roles', 'k1')$$);
SELECT try($$SELECT kv.put('roles', 'k1', '{}')$$);
SELECT try($$SELECT * FROM kv.stats$$);
RESET ROLE;

SELECT kv.get('roles', 'k1');
SELECT kv.drop_namespace('ops_made');
SELECT kv.drop_expiry_policy('OPS_DAY');
DROP ROLE gkv_app, gkv_ops, gkv_nobody;
