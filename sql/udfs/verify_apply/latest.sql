-- globalkv.verify_apply: merges rows fetched by globalkv.verify_fetch on
-- another node, each through globalkv.apply_row (the replication apply
-- path: a newer version wins, counters merge); returns how many changed
-- something here.
CREATE FUNCTION globalkv.verify_apply(batch jsonb)
RETURNS bigint
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    r record;
    changed bigint := 0;
BEGIN
    FOR r IN SELECT * FROM jsonb_to_recordset(batch)
               AS x(namespace text, key text, value jsonb, hlc bigint, origin integer,
                    expires_at timestamptz, crdt text)
    LOOP
        IF globalkv.apply_row(r.namespace, r.key, r.value, r.hlc, r.origin, r.expires_at,
                              decode(r.crdt, 'hex')) <> 'CONFLICT' THEN
            changed := changed + 1;
        END IF;
    END LOOP;
    RETURN changed;
END
$fn$;
