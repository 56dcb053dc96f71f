-- What the GraphQL API needs beyond the core tables: indexes for every orderBy and text
-- search it offers, tenant-defined custom fields, idempotency keys, per-tenant counters
-- (order numbers) and the record of customer-master merges (for undo).

-- Sorting: every orderBy field of a root list has a (tenant_id, field, id) index ------------
CREATE INDEX accounts_updated_idx ON accounts (tenant_id, updated_at, id);
CREATE INDEX contacts_created_idx ON contacts (tenant_id, created_at, id);
CREATE INDEX contacts_updated_idx ON contacts (tenant_id, updated_at, id);
CREATE INDEX products_sku_idx ON products (tenant_id, sku, id);
CREATE INDEX products_created_idx ON products (tenant_id, created_at, id);
CREATE INDEX orders_number_idx ON orders (tenant_id, number, id);
CREATE INDEX orders_ordered_at_idx ON orders (tenant_id, ordered_at, id);
CREATE INDEX orders_created_idx ON orders (tenant_id, created_at, id);
CREATE INDEX orders_updated_idx ON orders (tenant_id, updated_at, id);
CREATE INDEX tickets_updated_idx ON tickets (tenant_id, updated_at, id);
CREATE INDEX tickets_priority_idx ON tickets (tenant_id, priority, id);
CREATE INDEX tickets_sla_due_idx ON tickets (tenant_id, sla_due_at, id);
CREATE INDEX feedback_score_idx ON feedback (tenant_id, score, id);
CREATE INDEX users_name_idx ON users (tenant_id, name, id);
CREATE INDEX users_email_idx ON users (tenant_id, email, id);

-- Text search: case-insensitive `contains` uses trigram GIN indexes (btree_gin puts tenant_id
-- into the same index), `startsWith` uses lower(...) text_pattern_ops btree indexes.
CREATE INDEX accounts_name_trgm ON accounts USING gin (tenant_id, name gin_trgm_ops);
CREATE INDEX accounts_domain_trgm ON accounts USING gin (tenant_id, domain gin_trgm_ops);
CREATE INDEX accounts_name_prefix ON accounts (tenant_id, lower(name) text_pattern_ops);
CREATE INDEX contacts_name_trgm ON contacts
    USING gin (tenant_id, (first_name || ' ' || last_name) gin_trgm_ops);
CREATE INDEX contacts_last_name_trgm ON contacts USING gin (tenant_id, last_name gin_trgm_ops);
CREATE INDEX contacts_email_trgm ON contacts USING gin (tenant_id, email gin_trgm_ops);
CREATE INDEX contacts_phone_trgm ON contacts USING gin (tenant_id, phone gin_trgm_ops);
CREATE INDEX contacts_last_name_prefix ON contacts (tenant_id, lower(last_name) text_pattern_ops);
CREATE INDEX contacts_email_prefix ON contacts (tenant_id, lower(email) text_pattern_ops);
CREATE INDEX products_name_trgm ON products USING gin (tenant_id, name gin_trgm_ops);
CREATE INDEX tickets_subject_trgm ON tickets USING gin (tenant_id, subject gin_trgm_ops);
-- Equality filters on custom fields (`custom_fields @> {...}`).
CREATE INDEX accounts_custom_fields_idx ON accounts USING gin (tenant_id, custom_fields jsonb_path_ops);
CREATE INDEX contacts_custom_fields_idx ON contacts USING gin (tenant_id, custom_fields jsonb_path_ops);

-- Tenant-defined custom fields ---------------------------------------------------------------
CREATE TABLE custom_field_definitions (
    tenant_id   uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id          uuid        NOT NULL,
    entity      text        NOT NULL CHECK (entity IN ('Account', 'Contact', 'Product', 'Order', 'Ticket')),
    key         text        NOT NULL CHECK (key ~ '^[a-z][a-z0-9_]{0,62}$'),
    label       text        NOT NULL CHECK (length(label) BETWEEN 1 AND 200),
    kind        text        NOT NULL CHECK (kind IN ('text', 'number', 'date', 'bool', 'enum')),
    options     text[]      NOT NULL DEFAULT '{}',
    required    boolean     NOT NULL DEFAULT false,
    version     integer     NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT custom_field_definitions_key UNIQUE (tenant_id, entity, key),
    CONSTRAINT custom_field_enum_has_options CHECK ((kind = 'enum') = (cardinality(options) > 0))
);

-- Idempotency keys: the first response of a mutation field, replayed for retries ------------
CREATE TABLE idempotency_keys (
    tenant_id    uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    key          varchar(255) NOT NULL CHECK (length(key) >= 1),
    request_hash text        NOT NULL,
    response     jsonb,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, key)
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (tenant_id, created_at);

-- Per-tenant counters (order numbers): a row lock serialises the increments ------------------
CREATE TABLE tenant_counters (
    tenant_id  uuid   NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name       varchar(64) NOT NULL,
    value      bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, name)
);

-- Customer-master merges, with everything needed to undo them --------------------------------
CREATE TABLE merges (
    tenant_id     uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id            uuid        NOT NULL,
    entity        text        NOT NULL CHECK (entity IN ('Account', 'Contact')),
    survivor_id   uuid        NOT NULL,
    merged_ids    uuid[]      NOT NULL,
    field_choices jsonb       NOT NULL DEFAULT '{}',
    snapshot      jsonb       NOT NULL,
    created_by    uuid,
    undone_at     timestamptz,
    version       integer     NOT NULL DEFAULT 1,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX merges_survivor_idx ON merges (tenant_id, survivor_id);

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['custom_field_definitions', 'idempotency_keys', 'tenant_counters', 'merges']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = current_tenant_id()) '
                       'WITH CHECK (tenant_id = current_tenant_id())', t);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO rapport_app', t);
    END LOOP;
    FOREACH t IN ARRAY ARRAY['custom_field_definitions', 'merges']
    LOOP
        EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE ON %I FOR EACH ROW EXECUTE FUNCTION touch_row()',
                       t || '_touch', t);
    END LOOP;
END
$$;
