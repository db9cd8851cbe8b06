-- kv.docs: every live document of this zone, across every shard placement
-- on every node of the zone (docs/sql.md).  Its definition is a stand-in:
-- globalkv's planner replaces globalkv.docs_unplanned() in every query.
-- Namespaces and keys compare and sort byte by byte (collation "C"), as the
-- shard tables store them: the same order on every node, and their indexes
-- serve kv.docs.
CREATE VIEW kv.docs AS
    SELECT d.namespace COLLATE "C" AS namespace, d.key COLLATE "C" AS key,
           d.value, d.version, d.expires_at
      FROM globalkv.docs_unplanned() d;
COMMENT ON VIEW kv.docs IS
    'every live document of this zone, across all shards and nodes; planned by globalkv (docs/sql.md)';
CREATE TRIGGER docs_write INSTEAD OF INSERT OR UPDATE OR DELETE ON kv.docs
    FOR EACH ROW EXECUTE FUNCTION globalkv.docs_write();
