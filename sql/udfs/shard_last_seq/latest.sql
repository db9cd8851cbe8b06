-- globalkv.shard_last_seq(shard): the last change sequence of the shard on
-- this node (0: none), i.e. how far a peer must pull it to have all of it.
-- The mover of kv.move_shard reads it on the source to tell how far behind
-- the target is; it runs under the catalog's login, which may not read the
-- shard tables themselves.
CREATE FUNCTION globalkv.shard_last_seq(p_shard integer)
RETURNS bigint
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    t text;
    last bigint;
BEGIN
    SELECT table_name INTO t FROM globalkv.shards WHERE shard_id = p_shard;
    IF t IS NULL THEN
        RAISE EXCEPTION 'shard % does not exist', p_shard USING ERRCODE = 'GK009';
    END IF;
    EXECUTE format('SELECT coalesce(max(seq), 0) FROM globalkv_data.%I', t) INTO last;
    RETURN last;
END
$fn$;
