-- bench/outside_in.sh, -M simple (a new connection per call): kv_get.sql with
-- the key quoted, since pgbench pastes variables into the text unquoted.
\set k random(1, :nkeys)
SELECT kv.get('bench', ':k');
