-- Access control policies (Casbin RBAC with domains; domain = tenant), per tenant.
--
--   access_roles     a tenant's roles (name, description)
--   access_grants    Casbin `p` rules: role, object (`*`, `Type.*`, `Type.field`), action, allow|deny
--   access_scopes    record scope per role, type and action: all | own | team (default all)
--   access_bindings  Casbin `g` rules: user or API key -> role
--
-- Rules reference roles by id, so renaming a role is one row and bindings cannot dangle.
-- policies/adapter.py turns these rows into Casbin policy lines for the tenant's domain.
--
-- Every statement that changes them bumps tenants.policy_version and announces
-- 'policy:<tenant>' on the channel rapport_access, so every process reloads that tenant's
-- policy within a second. policy_version 0 means "never initialised": a tenant created
-- before access control gets the default roles on first use (policies/access.py).

ALTER TABLE tenants ADD COLUMN policy_version integer NOT NULL DEFAULT 0;

CREATE TABLE access_roles (
    tenant_id    uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id           uuid        NOT NULL,
    name         text        NOT NULL CHECK (name ~ '^[a-z][a-z0-9_-]{0,62}$'),
    description  text        NOT NULL DEFAULT '' CHECK (length(description) <= 500),
    version      integer     NOT NULL DEFAULT 1,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT access_roles_name_key UNIQUE (tenant_id, name)
);

CREATE TABLE access_grants (
    tenant_id   uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id          uuid        NOT NULL,
    role_id     uuid        NOT NULL,
    object      text        NOT NULL CHECK (object ~ '^(\*|[A-Z][A-Za-z0-9]*\.(\*|[a-z][A-Za-z0-9]*))$'),
    action      text        NOT NULL CHECK (action ~ '^(\*|[a-z][a-z_]{0,31})$'),
    effect      text        NOT NULL CHECK (effect IN ('allow', 'deny')),
    version     integer     NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT access_grants_rule_key UNIQUE (tenant_id, role_id, object, action),
    CONSTRAINT access_grants_role_fk FOREIGN KEY (tenant_id, role_id)
        REFERENCES access_roles (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE access_scopes (
    tenant_id   uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id          uuid        NOT NULL,
    role_id     uuid        NOT NULL,
    entity      text        NOT NULL CHECK (entity ~ '^[A-Z][A-Za-z0-9]*$'),
    action      text        NOT NULL CHECK (action IN ('read', 'update', 'delete', 'export', 'merge')),
    scope       text        NOT NULL CHECK (scope IN ('all', 'own', 'team')),
    version     integer     NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT access_scopes_key UNIQUE (tenant_id, role_id, entity, action),
    CONSTRAINT access_scopes_role_fk FOREIGN KEY (tenant_id, role_id)
        REFERENCES access_roles (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE access_bindings (
    tenant_id   uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id          uuid        NOT NULL,
    role_id     uuid        NOT NULL,
    user_id     uuid,
    api_key_id  uuid,
    version     integer     NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT access_bindings_one_subject CHECK (num_nonnulls(user_id, api_key_id) = 1),
    CONSTRAINT access_bindings_user_key UNIQUE (tenant_id, role_id, user_id),
    CONSTRAINT access_bindings_api_key_key UNIQUE (tenant_id, role_id, api_key_id),
    CONSTRAINT access_bindings_role_fk FOREIGN KEY (tenant_id, role_id)
        REFERENCES access_roles (tenant_id, id) ON DELETE CASCADE,
    CONSTRAINT access_bindings_user_fk FOREIGN KEY (tenant_id, user_id)
        REFERENCES users (tenant_id, id) ON DELETE CASCADE,
    CONSTRAINT access_bindings_api_key_fk FOREIGN KEY (tenant_id, api_key_id)
        REFERENCES api_keys (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX access_bindings_user_idx ON access_bindings (tenant_id, user_id) WHERE user_id IS NOT NULL;
CREATE INDEX access_bindings_api_key_idx ON access_bindings (tenant_id, api_key_id) WHERE api_key_id IS NOT NULL;

CREATE FUNCTION access_policy_changed() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    UPDATE tenants SET policy_version = policy_version + 1 WHERE id = current_tenant_id();
    PERFORM pg_notify('rapport_access', 'policy:' || current_tenant_id());
    RETURN NULL;
END
$$;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['access_roles', 'access_grants', 'access_scopes', 'access_bindings']
    LOOP
        EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE ON %I FOR EACH ROW EXECUTE FUNCTION touch_row()',
                       t || '_touch', t);
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE ON %I '
                       'FOR EACH STATEMENT EXECUTE FUNCTION access_policy_changed()', t || '_changed', t);
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = current_tenant_id()) '
                       'WITH CHECK (tenant_id = current_tenant_id())', t);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO rapport_app', t);
    END LOOP;
END
$$;
