-- globalkv.docs_fanout(fragment, signature) is the plan of any other query
-- on kv.docs: it runs the fragment -- a SELECT on kv.docs with the filters,
-- columns, aggregates, GROUP BY, ORDER BY and LIMIT the planner could push
-- down -- on every node of this zone that holds placements, in parallel,
-- and returns the union; the rest of the query runs here (combining partial
-- aggregates, sorting).  Its columns are those of the fragment, which the
-- planner declares at each call.  The planner signs each fragment: no other
-- SQL can be sent through it.
CREATE FUNCTION globalkv.docs_fanout(fragment text, signature text)
RETURNS SETOF record
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'gkv_docs_fanout';
