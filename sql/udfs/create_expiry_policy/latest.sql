CREATE FUNCTION kv.create_expiry_policy(name text, ttl interval)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v bigint;
BEGIN
    PERFORM globalkv.check_name('expiry policy', name);
    IF ttl IS NOT NULL AND ttl <= interval '0' THEN
        RAISE EXCEPTION 'expiry policy TTL must be positive, not %', ttl USING ERRCODE = 'GK009';
    END IF;
    PERFORM 1 FROM globalkv.expiry_policies p WHERE p.name = create_expiry_policy.name AND NOT p.dropped;
    IF FOUND THEN
        RAISE EXCEPTION 'expiry policy "%" already exists', name USING ERRCODE = 'GK011';
    END IF;
    v := globalkv.stamp();
    INSERT INTO globalkv.expiry_policies AS p (name, ttl, created_at, hlc, origin, seq, dropped)
    VALUES (create_expiry_policy.name, ttl, now(), v, (SELECT node_id FROM globalkv.node), v, false)
    ON CONFLICT ON CONSTRAINT expiry_policies_pkey DO UPDATE
       SET ttl = EXCLUDED.ttl, created_at = EXCLUDED.created_at, hlc = EXCLUDED.hlc,
           origin = EXCLUDED.origin, seq = EXCLUDED.seq, dropped = false;
END
$fn$;
