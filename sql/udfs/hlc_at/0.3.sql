-- globalkv.hlc_at(t) is the lowest clock value of instant t: SQL compares
-- rows' hlc with a time through it, without knowing the clock's bit layout
-- (src/include/globalkv/clock.h).
CREATE FUNCTION globalkv.hlc_at(t timestamptz)
RETURNS bigint
LANGUAGE C
STABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'gkv_hlc_at';
