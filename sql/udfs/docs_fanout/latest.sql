-- globalkv.docs_fanout(fragment, signature) is the plan of any other query
-- on kv.docs: it runs the fragment -- a SELECT on kv.docs with the filters
-- and columns the planner could push down -- on every node of this zone
-- that holds placements, in parallel, and returns the union; the rest of
-- the query runs here.  The planner signs each fragment: no other SQL can
-- be sent through it.
CREATE FUNCTION globalkv.docs_fanout(fragment text, signature text,
                                     OUT namespace text, OUT key text, OUT value jsonb,
                                     OUT version text, OUT expires_at timestamptz)
RETURNS SETOF record
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'gkv_docs_fanout';
