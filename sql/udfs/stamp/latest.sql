-- globalkv.stamp() returns a fresh clock tick for a catalog change: the
-- change's hlc and its local sequence.
CREATE FUNCTION globalkv.stamp() RETURNS bigint
    AS 'MODULE_PATHNAME', 'gkv_stamp' LANGUAGE C VOLATILE;
