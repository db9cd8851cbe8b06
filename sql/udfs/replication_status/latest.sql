CREATE FUNCTION globalkv.replication_status(
    OUT peer_node_id integer, OUT peer_name text, OUT connected boolean, OUT pid integer,
    OUT cursor bigint, OUT lag_ms bigint, OUT lag_rows bigint, OUT rows_applied bigint,
    OUT conflicts bigint, OUT batches bigint, OUT max_clock_skew_ms bigint,
    OUT last_contact timestamptz, OUT last_error text, OUT last_error_at timestamptz)
RETURNS SETOF record AS 'MODULE_PATHNAME', 'gkv_replication_status' LANGUAGE C VOLATILE;
