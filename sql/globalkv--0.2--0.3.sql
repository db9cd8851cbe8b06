-- globalkv 0.2 -> 0.3: the catalog merge and the tombstone purge in C, the
-- clock's bit layout no longer retyped in SQL, shard moves driven by the
-- server.
\echo Use "ALTER EXTENSION globalkv UPDATE TO '0.3'" to load this file. \quit
