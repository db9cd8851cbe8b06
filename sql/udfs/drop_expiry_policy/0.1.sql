CREATE FUNCTION kv.drop_expiry_policy(name text)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v bigint;
BEGIN
    IF name = 'NO_EXPIRE' THEN
        RAISE EXCEPTION 'expiry policy "NO_EXPIRE" cannot be dropped' USING ERRCODE = 'GK012';
    END IF;
    PERFORM 1 FROM globalkv.expiry_policies p
     WHERE p.name = drop_expiry_policy.name AND NOT p.dropped FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'expiry policy "%" does not exist', name USING ERRCODE = 'GK002';
    END IF;
    v := globalkv.stamp();
    UPDATE globalkv.expiry_policies p
       SET dropped = true, hlc = v, origin = (SELECT node_id FROM globalkv.node), seq = v
     WHERE p.name = drop_expiry_policy.name;
END
$fn$;
