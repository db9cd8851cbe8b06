-- kv.alter_expiry_policy changes the TTL used by later writes; documents
-- already written keep the expiry time they were given.
CREATE FUNCTION kv.alter_expiry_policy(name text, ttl interval)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v bigint;
BEGIN
    IF name = 'NO_EXPIRE' THEN
        RAISE EXCEPTION 'expiry policy "NO_EXPIRE" cannot be changed' USING ERRCODE = 'GK012';
    END IF;
    IF ttl IS NOT NULL AND ttl <= interval '0' THEN
        RAISE EXCEPTION 'expiry policy TTL must be positive, not %', ttl USING ERRCODE = 'GK009';
    END IF;
    PERFORM 1 FROM globalkv.expiry_policies p
     WHERE p.name = alter_expiry_policy.name AND NOT p.dropped FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'expiry policy "%" does not exist', name USING ERRCODE = 'GK002';
    END IF;
    v := globalkv.stamp();
    UPDATE globalkv.expiry_policies p
       SET ttl = alter_expiry_policy.ttl, hlc = v, origin = (SELECT node_id FROM globalkv.node), seq = v
     WHERE p.name = alter_expiry_policy.name;
END
$fn$;
