-- globalkv.docs_router(namespace, key, with_value) is the plan of a query
-- on kv.docs that pins one document: it reads the document on the node of
-- this zone that holds its shard (here, with no SQL; elsewhere, as one
-- statement), failing over to the other zones as the kv API does.
CREATE FUNCTION globalkv.docs_router(namespace text, key text, with_value boolean,
                                     OUT namespace text, OUT key text, OUT value jsonb,
                                     OUT version text, OUT expires_at timestamptz)
RETURNS SETOF record
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'gkv_docs_router';
