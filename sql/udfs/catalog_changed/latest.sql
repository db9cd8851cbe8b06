CREATE FUNCTION globalkv.catalog_changed() RETURNS trigger
    AS 'MODULE_PATHNAME', 'gkv_catalog_changed' LANGUAGE C;
