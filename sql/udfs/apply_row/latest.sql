-- globalkv.apply_row merges a document state through the replication
-- apply path (repairs, tests); returns INSERT, UPDATE or CONFLICT.
CREATE FUNCTION globalkv.apply_row(namespace text, key text, value jsonb, hlc bigint,
                                   origin integer, expires_at timestamptz, crdt bytea)
RETURNS text AS 'MODULE_PATHNAME', 'gkv_apply_row' LANGUAGE C VOLATILE;
