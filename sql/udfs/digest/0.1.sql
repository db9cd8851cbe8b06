CREATE FUNCTION globalkv.digest(ns text DEFAULT NULL)
RETURNS text
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT md5(coalesce(string_agg(shard_id || ':' || digest, ',' ORDER BY shard_id), ''))
      FROM globalkv.shard_digests(ns)
$fn$;
