-- globalkv.docs_index_apply(name, definition) builds the index "name" of
-- kv.docs on every shard table of this node -- CREATE INDEX IF NOT EXISTS
-- <name>_<shard> ON <shard table> <definition> -- or, with definition NULL,
-- drops it from every shard table.  The node that runs CREATE INDEX ...
-- ON kv.docs calls it on every node; the catalog's replication calls it
-- for a node that was away.  The definition is parsed and checked again
-- here (one index, built-in immutable functions only), and the tables are
-- indexed as their owner.
CREATE FUNCTION globalkv.docs_index_apply(name text, definition text)
RETURNS void
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'gkv_docs_index_apply';
