-- globalkv.move_apply_catalog_row(tbl, k, val, hlc, origin): a row of a
-- shard move -- the move itself or the shard's placement -- copied from the
-- target and applied here at once instead of when replication brings it.
-- globalkv.apply_catalog_row, limited to those two tables, for the mover of
-- kv.move_shard, which runs under the catalog's login (docs/shard-moves.md).
CREATE FUNCTION globalkv.move_apply_catalog_row(tbl text, k text, val jsonb,
                                                p_hlc bigint, p_origin integer)
RETURNS boolean
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF tbl IS DISTINCT FROM 'placements' AND tbl IS DISTINCT FROM 'shard_moves' THEN
        RAISE EXCEPTION 'a shard move copies placements and shard_moves rows, not "%"', tbl
            USING ERRCODE = 'GK009';
    END IF;
    RETURN globalkv.apply_catalog_row(tbl, k, val, p_hlc, p_origin);
END
$fn$;
