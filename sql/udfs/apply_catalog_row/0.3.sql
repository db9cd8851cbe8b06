-- globalkv.apply_catalog_row applies one catalog row as replication brings
-- it (a shard move copies rows between nodes with it): the greater version
-- wins.  0.3: the merge is the library's (GkvCatalogApply,
-- src/replication/catalog_sync.c), the one the apply worker runs, with the
-- comparison documents use; no second merge in PL/pgSQL.
CREATE OR REPLACE FUNCTION globalkv.apply_catalog_row(tbl text, k text, val jsonb,
                                                      p_hlc bigint, p_origin integer)
RETURNS boolean
LANGUAGE C
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'gkv_apply_catalog_row';
