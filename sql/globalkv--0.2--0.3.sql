-- globalkv 0.2 -> 0.3: the catalog merge and the tombstone purge in C, the
-- clock's bit layout no longer retyped in SQL, shard moves driven by the
-- server.
\echo Use "ALTER EXTENSION globalkv UPDATE TO '0.3'" to load this file. \quit

-- ---------------------------------------------------------------------
-- the catalog merge and the tombstone purge in the library; the clock's
-- bit layout known to SQL only through globalkv.hlc_at
-- ---------------------------------------------------------------------
#include "udfs/apply_catalog_row/0.3.sql"
#include "udfs/purge_tombstones/0.3.sql"
#include "udfs/hlc_at/0.3.sql"
REVOKE EXECUTE ON FUNCTION globalkv.hlc_at(timestamptz) FROM PUBLIC;
#include "udfs/resync/0.3.sql"

-- ---------------------------------------------------------------------
-- kv.docs: SQL over every document of the zone (docs/sql.md)
-- ---------------------------------------------------------------------
#include "udfs/docs_unplanned/0.3.sql"
#include "udfs/docs_router/0.3.sql"
#include "udfs/docs_fanout/0.3.sql"
#include "udfs/docs_write/0.3.sql"
#include "views/docs/0.3.sql"
REVOKE EXECUTE ON FUNCTION globalkv.docs_unplanned(), globalkv.docs_router(text, text, boolean),
    globalkv.docs_fanout(text, text), globalkv.docs_write() FROM PUBLIC;
-- a query on kv.docs runs these as its caller: clients may, nobody else
GRANT EXECUTE ON FUNCTION globalkv.docs_unplanned(), globalkv.docs_router(text, text, boolean),
    globalkv.docs_fanout(text, text), globalkv.docs_write() TO globalkv_client;
GRANT SELECT, INSERT, UPDATE, DELETE ON kv.docs TO globalkv_client;
