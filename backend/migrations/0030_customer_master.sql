-- Customer master: what the duplicate rules need beyond 0001/0002 (same email uses
-- contacts_email_idx, same domain accounts_domain_idx).

-- The part of a company name that tells companies apart: lower case, punctuation folded to
-- spaces, trailing legal forms dropped ("Acme, Inc." and "ACME Corporation" are both "acme",
-- while "Acme Corporation" and "Apex Corporation" stop looking alike). SIMILAR_NAME compares
-- these keys by trigram similarity. Walking the words is several times cheaper than one
-- regular expression listing every legal form.
CREATE FUNCTION company_name_key(name text) RETURNS text
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
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

-- "A contact's email domain is another account's website domain".
CREATE INDEX contacts_email_domain_idx ON contacts (tenant_id, lower(split_part(email, '@', 2)))
    WHERE email IS NOT NULL;
-- "Same phone number" (E.164, normalised on write).
CREATE INDEX contacts_phone_idx ON contacts (tenant_id, phone) WHERE phone IS NOT NULL;
