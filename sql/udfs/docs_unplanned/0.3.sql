-- globalkv.docs_unplanned() is what the view kv.docs is defined over.  The
-- planner of globalkv replaces it in every query on kv.docs (by this node's
-- placements, one owning placement, or every placement of the zone:
-- docs/sql.md); executed as it is, it raises an error, so a query the
-- planner never saw (a SQL function inlined after planning began) fails
-- instead of returning nothing.
CREATE FUNCTION globalkv.docs_unplanned(OUT namespace text, OUT key text, OUT value jsonb,
                                        OUT version text, OUT expires_at timestamptz)
RETURNS SETOF record
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'gkv_docs_unplanned';
