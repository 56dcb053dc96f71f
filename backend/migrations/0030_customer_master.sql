-- Customer master: what the duplicate rules need beyond the indexes of 0001/0002
-- (same email uses contacts_email_idx, same domain accounts_domain_idx).

-- The part of a company name that tells companies apart: lower case, punctuation folded to
-- spaces, trailing legal forms dropped ("Acme, Inc." and "ACME Corporation" are both "acme",
-- while "Acme Corporation" and "Apex Corporation" stop looking alike). Fuzzy name matching
-- compares these keys by trigram similarity, through the index below.
-- PL/pgSQL on purpose: an opaque call is matched against the index expression as is, and its
-- COST tells the planner to probe the index rather than compare every pair of names.
CREATE FUNCTION company_name_key(name text) RETURNS text
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE COST 200
    AS $$
DECLARE
    words text[] := string_to_array(btrim(regexp_replace(lower(name), '[[:punct:][:space:]]+', ' ', 'g')), ' ');
    n integer := cardinality(words);
BEGIN
    WHILE n > 0 AND words[n] = ANY ('{inc,incorporated,corp,corporation,co,company,ltd,limited,llc,llp,lp,plc,'
                                     'gmbh,mbh,ag,kg,se,sa,sas,sarl,srl,spa,bv,nv,pty,oy,ab,as,aps,group,holding,'
                                     'holdings}'::text[]) LOOP
        n := n - 1;
    END LOOP;
    RETURN array_to_string(words[1:n], ' ');
END
$$;

CREATE INDEX accounts_name_key_trgm ON accounts USING gin (tenant_id, company_name_key(name) gin_trgm_ops);

-- "A contact's email domain is another account's website domain".
CREATE INDEX contacts_email_domain_idx ON contacts (tenant_id, lower(split_part(email, '@', 2)))
    WHERE email IS NOT NULL;
-- "Same phone number" (E.164, normalised on write).
CREATE INDEX contacts_phone_idx ON contacts (tenant_id, phone) WHERE phone IS NOT NULL;
