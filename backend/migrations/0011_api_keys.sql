-- API keys for integrators.
--
-- A key (api_keys) is the identity that roles are bound to; its secrets (api_key_secrets) are
-- the credentials. A secret is a random 256-bit token shown once; only its SHA-256 is stored
-- (a slow KDF buys nothing for high-entropy secrets and would cost every request). Rotation
-- adds a new secret and gives the old one an expiry (the grace period); revocation revokes the
-- key and with it every secret.
--
-- The one lookup that happens before the tenant is known (secret hash -> tenant, key) goes
-- through api_key_lookup(), a SECURITY DEFINER function owned by the owner role, which alone
-- has a policy that sees every tenant's key rows (the same pattern as tenant_directory()).
-- Its index is the one index here without tenant_id first: the lookup has no tenant yet.

CREATE TABLE api_keys (
    tenant_id   uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id          uuid        NOT NULL,
    name        text        NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    created_by_id uuid,
    expires_at  timestamptz,
    revoked_at  timestamptz,
    version     integer     NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT api_keys_created_by_fk FOREIGN KEY (tenant_id, created_by_id)
        REFERENCES users (tenant_id, id) ON DELETE SET NULL (created_by_id)
);
CREATE INDEX api_keys_created_idx ON api_keys (tenant_id, created_at, id);

CREATE TABLE api_key_secrets (
    tenant_id    uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id           uuid        NOT NULL,
    key_id       uuid        NOT NULL,
    secret_hash  text        NOT NULL CHECK (secret_hash ~ '^[0-9a-f]{64}$'),
    prefix       text        NOT NULL CHECK (length(prefix) BETWEEN 4 AND 20),
    expires_at   timestamptz,
    last_used_at timestamptz,
    version      integer     NOT NULL DEFAULT 1,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT api_key_secrets_key_fk FOREIGN KEY (tenant_id, key_id)
        REFERENCES api_keys (tenant_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX api_key_secrets_hash_key ON api_key_secrets (secret_hash);
CREATE INDEX api_key_secrets_key_idx ON api_key_secrets (tenant_id, key_id, created_at);

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['api_keys', 'api_key_secrets']
    LOOP
        EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE ON %I FOR EACH ROW EXECUTE FUNCTION touch_row()',
                       t || '_touch', t);
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = current_tenant_id()) '
                       'WITH CHECK (tenant_id = current_tenant_id())', t);
        EXECUTE format('CREATE POLICY owner_key_directory ON %I FOR SELECT TO rapport_owner USING (true)', t);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO rapport_app', t);
    END LOOP;
END
$$;

-- The credential lookup: a valid (not revoked, not expired) secret's tenant, key and expiry.
CREATE FUNCTION api_key_lookup(text)
    RETURNS TABLE (tenant_id uuid, key_id uuid, secret_id uuid, expires_at timestamptz)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = public, pg_temp
    AS $$
        SELECT s.tenant_id, s.key_id, s.id, least(k.expires_at, s.expires_at)
        FROM api_key_secrets s
        JOIN api_keys k ON k.tenant_id = s.tenant_id AND k.id = s.key_id
        WHERE s.secret_hash = $1
          AND k.revoked_at IS NULL
          AND coalesce(k.expires_at, 'infinity') > now()
          AND coalesce(s.expires_at, 'infinity') > now()
    $$;

REVOKE ALL ON FUNCTION api_key_lookup(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api_key_lookup(text) TO rapport_app;

-- 'key:<id>' when a key or one of its secrets is revoked, expires earlier or is deleted:
-- every process drops the key from its credential cache (revocation within a second).
CREATE FUNCTION notify_api_key_changed() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    PERFORM pg_notify('rapport_access', 'key:' || (to_jsonb(OLD) ->> TG_ARGV[0]));
    RETURN NULL;
END
$$;

CREATE TRIGGER api_keys_access_changed AFTER UPDATE ON api_keys FOR EACH ROW
    WHEN (OLD.revoked_at IS DISTINCT FROM NEW.revoked_at OR OLD.expires_at IS DISTINCT FROM NEW.expires_at)
    EXECUTE FUNCTION notify_api_key_changed('id');
CREATE TRIGGER api_keys_access_deleted AFTER DELETE ON api_keys FOR EACH ROW
    EXECUTE FUNCTION notify_api_key_changed('id');
CREATE TRIGGER api_key_secrets_access_changed AFTER UPDATE ON api_key_secrets FOR EACH ROW
    WHEN (OLD.expires_at IS DISTINCT FROM NEW.expires_at)
    EXECUTE FUNCTION notify_api_key_changed('key_id');
CREATE TRIGGER api_key_secrets_access_deleted AFTER DELETE ON api_key_secrets FOR EACH ROW
    EXECUTE FUNCTION notify_api_key_changed('key_id');
