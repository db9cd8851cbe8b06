-- globalkv.docs_write() turns INSERT, UPDATE and DELETE on kv.docs into the
-- kv API (an INSTEAD OF trigger): every row written is a kv.put or a
-- kv.delete, so it goes through the merge, gets a new version, is routed to
-- the node holding its shard and replicates to every zone.  expires_at, when
-- given, becomes the document's time to live.  RETURNING sees the version
-- written.
CREATE FUNCTION globalkv.docs_write()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    ttl bigint;
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF NOT kv.delete(OLD.namespace, OLD.key) THEN
            RETURN NULL;
        END IF;
        RETURN OLD;
    END IF;
    IF TG_OP = 'UPDATE' AND (NEW.namespace IS DISTINCT FROM OLD.namespace OR NEW.key IS DISTINCT FROM OLD.key) THEN
        RAISE EXCEPTION 'cannot change the namespace or key of a document through kv.docs'
            USING ERRCODE = 'GK009',
                  HINT = 'Insert the document under its new key and delete the old one.';
    END IF;
    IF NEW.namespace IS NULL OR NEW.key IS NULL OR NEW.value IS NULL THEN
        RAISE EXCEPTION 'a document written through kv.docs needs a namespace, a key and a value'
            USING ERRCODE = 'GK009';
    END IF;
    IF NEW.version IS DISTINCT FROM OLD.version AND TG_OP = 'UPDATE' OR TG_OP = 'INSERT' AND NEW.version IS NOT NULL THEN
        RAISE EXCEPTION 'the version of a document is given by globalkv, not written'
            USING ERRCODE = 'GK009';
    END IF;
    IF NEW.expires_at IS NULL THEN
        PERFORM kv.put(NEW.namespace, NEW.key, NEW.value);
    ELSE
        ttl := ceil(extract(epoch FROM NEW.expires_at - clock_timestamp()))::bigint;
        IF ttl < 1 THEN
            RAISE EXCEPTION 'expires_at must be in the future'
                USING ERRCODE = 'GK009';
        END IF;
        PERFORM kv.put(NEW.namespace, NEW.key, NEW.value, ttl);
    END IF;
    SELECT v.version, v.expires_at INTO NEW.version, NEW.expires_at
      FROM kv.get_versioned(NEW.namespace, NEW.key) v;
    RETURN NEW;
END
$fn$;
