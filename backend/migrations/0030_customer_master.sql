-- Customer master: what the duplicate rules need beyond the indexes of 0001/0002
-- (same email uses contacts_email_idx, same domain accounts_domain_idx).

-- The part of a company name that tells companies apart: lower case, punctuation folded to
-- spaces, trailing legal forms dropped ("Acme, Inc." and "ACME Corporation" are both "acme",
-- while "Acme Corporation" and "Apex Corporation" stop looking alike). Fuzzy name matching
-- compares these keys by trigram similarity, through the index below.
CREATE FUNCTION company_name_key(name text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN btrim(regexp_replace(
        ' ' || btrim(regexp_replace(lower(name), '[[:punct:][:space:]]+', ' ', 'g')),
        '(\s(inc|incorporated|corp|corporation|co|company|ltd|limited|llc|llp|lp|plc|gmbh|mbh|ag|kg|se|sa|'
        'sas|sarl|srl|spa|bv|nv|pty|oy|ab|as|aps|group|holding|holdings))+$', ''));

CREATE INDEX accounts_name_key_trgm ON accounts USING gin (tenant_id, company_name_key(name) gin_trgm_ops);

-- "A contact's email domain is another account's website domain".
CREATE INDEX contacts_email_domain_idx ON contacts (tenant_id, lower(split_part(email, '@', 2)))
    WHERE email IS NOT NULL;
-- "Same phone number" (E.164, normalised on write).
CREATE INDEX contacts_phone_idx ON contacts (tenant_id, phone) WHERE phone IS NOT NULL;
