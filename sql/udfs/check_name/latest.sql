-- Every catalog change below is stamped with globalkv.stamp() and this
-- node's id, and a drop only marks the row: the change replicates.
CREATE FUNCTION globalkv.check_name(kind text, name text)
RETURNS void
LANGUAGE plpgsql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF name IS NULL OR name !~ '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$' THEN
        RAISE EXCEPTION 'invalid % name "%"', kind, name
            USING ERRCODE = 'GK010',
                  DETAIL = 'Names have 1 to 63 characters: letters, digits, "_", "." and "-", not starting with "." or "-".';
    END IF;
END
$fn$;
