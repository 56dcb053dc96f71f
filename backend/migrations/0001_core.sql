-- Core customer graph: tenants, users, accounts, contacts, products, orders, order lines,
-- tickets, feedback.
--
-- Rules every tenant-owned table follows:
--   * tenant_id is the first column of the primary key, of every foreign key and of every index;
--   * foreign keys between tenant tables are composite, (tenant_id, x_id) -> x (tenant_id, id),
--     so a row can never point at another tenant's row, whatever the application does;
--   * ENABLE + FORCE ROW LEVEL SECURITY with a policy on current_tenant_id(), which is the
--     transaction-local setting app.tenant_id; a query outside a tenant transaction fails;
--   * version/updated_at are maintained by a trigger, so no write path can forget them.

CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE EXTENSION IF NOT EXISTS btree_gin;

CREATE FUNCTION tenant_context_missing() RETURNS uuid
    LANGUAGE plpgsql STABLE
    AS $$
BEGIN
    RAISE EXCEPTION 'no tenant in this transaction'
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'run tenant-owned queries inside tenant_transaction()';
END
$$;

-- An inlinable SQL function: the planner treats the setting as a stable parameter, so the
-- policy qual becomes an index condition on (tenant_id, ...).
CREATE FUNCTION current_tenant_id() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT coalesce(nullif(current_setting('app.tenant_id', true), '')::uuid, tenant_context_missing()) $$;

CREATE FUNCTION touch_row() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    NEW.updated_at := now();
    NEW.version := OLD.version + 1;
    RETURN NEW;
END
$$;

CREATE TABLE tenants (
    id          uuid        PRIMARY KEY,
    name        text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    slug        text        NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    settings    jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(settings) = 'object'),
    version     integer     NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
    tenant_id     uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id            uuid        NOT NULL,
    external_id   text        NOT NULL CHECK (length(external_id) BETWEEN 1 AND 255),
    email         text        NOT NULL CHECK (length(email) BETWEEN 3 AND 320),
    name          text        NOT NULL DEFAULT '' CHECK (length(name) <= 200),
    is_active     boolean     NOT NULL DEFAULT true,
    last_login_at timestamptz,
    version       integer     NOT NULL DEFAULT 1,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT users_external_id_key UNIQUE (tenant_id, external_id)
);
CREATE UNIQUE INDEX users_email_key ON users (tenant_id, lower(email));

CREATE TABLE accounts (
    tenant_id       uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id              uuid        NOT NULL,
    name            text        NOT NULL CHECK (length(name) BETWEEN 1 AND 300),
    domain          text        CHECK (length(domain) <= 253),
    industry        text        CHECK (length(industry) <= 100),
    parent_id       uuid,
    owner_id        uuid,
    lifecycle_stage text        NOT NULL DEFAULT 'lead'
                                CHECK (lifecycle_stage IN ('lead', 'prospect', 'customer', 'churned')),
    tier            text        CHECK (tier IN ('free', 'starter', 'pro', 'enterprise')),
    custom_fields   jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(custom_fields) = 'object'),
    version         integer     NOT NULL DEFAULT 1,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT accounts_parent_fk FOREIGN KEY (tenant_id, parent_id)
        REFERENCES accounts (tenant_id, id) ON DELETE SET NULL (parent_id),
    CONSTRAINT accounts_owner_fk FOREIGN KEY (tenant_id, owner_id)
        REFERENCES users (tenant_id, id) ON DELETE SET NULL (owner_id),
    CONSTRAINT accounts_not_own_parent CHECK (parent_id <> id)
);
CREATE INDEX accounts_name_idx ON accounts (tenant_id, name, id);
CREATE INDEX accounts_created_idx ON accounts (tenant_id, created_at, id);
CREATE INDEX accounts_parent_idx ON accounts (tenant_id, parent_id) WHERE parent_id IS NOT NULL;
CREATE INDEX accounts_owner_idx ON accounts (tenant_id, owner_id) WHERE owner_id IS NOT NULL;
CREATE INDEX accounts_domain_idx ON accounts (tenant_id, domain) WHERE domain IS NOT NULL;

CREATE TABLE contacts (
    tenant_id     uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id            uuid        NOT NULL,
    account_id    uuid,
    first_name    text        NOT NULL DEFAULT '' CHECK (length(first_name) <= 100),
    last_name     text        NOT NULL CHECK (length(last_name) BETWEEN 1 AND 100),
    email         text        CHECK (length(email) BETWEEN 3 AND 320),
    phone         text        CHECK (phone ~ '^\+[1-9][0-9]{6,14}$'),
    title         text        CHECK (length(title) <= 200),
    consent_email boolean     NOT NULL DEFAULT false,
    consent_sms   boolean     NOT NULL DEFAULT false,
    consent_phone boolean     NOT NULL DEFAULT false,
    custom_fields jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(custom_fields) = 'object'),
    version       integer     NOT NULL DEFAULT 1,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    -- people outlive the company record they were filed under
    CONSTRAINT contacts_account_fk FOREIGN KEY (tenant_id, account_id)
        REFERENCES accounts (tenant_id, id) ON DELETE SET NULL (account_id)
);
CREATE INDEX contacts_account_idx ON contacts (tenant_id, account_id, id);
CREATE INDEX contacts_email_idx ON contacts (tenant_id, lower(email)) WHERE email IS NOT NULL;
CREATE INDEX contacts_name_idx ON contacts (tenant_id, last_name, first_name, id);

CREATE TABLE products (
    tenant_id     uuid           NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id            uuid           NOT NULL,
    sku           text           NOT NULL CHECK (length(sku) BETWEEN 1 AND 64),
    name          text           NOT NULL CHECK (length(name) BETWEEN 1 AND 300),
    description   text           CHECK (length(description) <= 10000),
    price         numeric(14, 2) NOT NULL CHECK (price >= 0),
    currency      char(3)        NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    is_active     boolean        NOT NULL DEFAULT true,
    custom_fields jsonb          NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(custom_fields) = 'object'),
    version       integer        NOT NULL DEFAULT 1,
    created_at    timestamptz    NOT NULL DEFAULT now(),
    updated_at    timestamptz    NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT products_sku_key UNIQUE (tenant_id, sku)
);
CREATE INDEX products_name_idx ON products (tenant_id, name, id);

-- Orders, tickets and feedback are business records: deleting an account that still has
-- them is refused (NO ACTION); merging is how duplicates go away.
CREATE TABLE orders (
    tenant_id     uuid           NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id            uuid           NOT NULL,
    account_id    uuid           NOT NULL,
    contact_id    uuid,
    number        text           NOT NULL CHECK (length(number) BETWEEN 1 AND 64),
    status        text           NOT NULL DEFAULT 'pending'
                                 CHECK (status IN ('pending', 'paid', 'shipped', 'delivered', 'cancelled', 'refunded')),
    ordered_at    timestamptz    NOT NULL DEFAULT now(),
    delivery_date date,
    payment_terms text           NOT NULL DEFAULT 'net_30'
                                 CHECK (payment_terms IN ('due_on_receipt', 'net_15', 'net_30', 'net_45', 'net_60', 'net_90')),
    currency      char(3)        NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    total         numeric(14, 2) NOT NULL DEFAULT 0 CHECK (total >= 0),
    custom_fields jsonb          NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(custom_fields) = 'object'),
    version       integer        NOT NULL DEFAULT 1,
    created_at    timestamptz    NOT NULL DEFAULT now(),
    updated_at    timestamptz    NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT orders_number_key UNIQUE (tenant_id, number),
    CONSTRAINT orders_account_fk FOREIGN KEY (tenant_id, account_id) REFERENCES accounts (tenant_id, id),
    CONSTRAINT orders_contact_fk FOREIGN KEY (tenant_id, contact_id)
        REFERENCES contacts (tenant_id, id) ON DELETE SET NULL (contact_id)
);
CREATE INDEX orders_account_idx ON orders (tenant_id, account_id, ordered_at DESC, id DESC);
CREATE INDEX orders_ordered_idx ON orders (tenant_id, ordered_at) INCLUDE (total);
CREATE INDEX orders_contact_idx ON orders (tenant_id, contact_id) WHERE contact_id IS NOT NULL;

CREATE TABLE order_lines (
    tenant_id   uuid           NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id          uuid           NOT NULL,
    order_id    uuid           NOT NULL,
    product_id  uuid           NOT NULL,
    quantity    integer        NOT NULL CHECK (quantity > 0),
    unit_price  numeric(14, 2) NOT NULL CHECK (unit_price >= 0),
    version     integer        NOT NULL DEFAULT 1,
    created_at  timestamptz    NOT NULL DEFAULT now(),
    updated_at  timestamptz    NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT order_lines_order_fk FOREIGN KEY (tenant_id, order_id)
        REFERENCES orders (tenant_id, id) ON DELETE CASCADE,
    CONSTRAINT order_lines_product_fk FOREIGN KEY (tenant_id, product_id) REFERENCES products (tenant_id, id)
);
CREATE INDEX order_lines_order_idx ON order_lines (tenant_id, order_id, id);
CREATE INDEX order_lines_product_idx ON order_lines (tenant_id, product_id);

CREATE TABLE tickets (
    tenant_id     uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id            uuid        NOT NULL,
    account_id    uuid        NOT NULL,
    contact_id    uuid,
    subject       text        NOT NULL CHECK (length(subject) BETWEEN 1 AND 300),
    description   text        CHECK (length(description) <= 100000),
    status        text        NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'pending', 'resolved', 'closed')),
    priority      text        NOT NULL DEFAULT 'normal' CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
    channel       text        NOT NULL DEFAULT 'web'
                              CHECK (channel IN ('email', 'phone', 'web', 'chat', 'social', 'api')),
    assignee_id   uuid,
    sla_due_at    timestamptz,
    resolved_at   timestamptz,
    custom_fields jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(custom_fields) = 'object'),
    version       integer     NOT NULL DEFAULT 1,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT tickets_account_fk FOREIGN KEY (tenant_id, account_id) REFERENCES accounts (tenant_id, id),
    CONSTRAINT tickets_contact_fk FOREIGN KEY (tenant_id, contact_id)
        REFERENCES contacts (tenant_id, id) ON DELETE SET NULL (contact_id),
    CONSTRAINT tickets_assignee_fk FOREIGN KEY (tenant_id, assignee_id)
        REFERENCES users (tenant_id, id) ON DELETE SET NULL (assignee_id)
);
CREATE INDEX tickets_account_idx ON tickets (tenant_id, account_id, status, created_at DESC, id DESC);
CREATE INDEX tickets_status_idx ON tickets (tenant_id, status);
CREATE INDEX tickets_created_idx ON tickets (tenant_id, created_at, id);
CREATE INDEX tickets_contact_idx ON tickets (tenant_id, contact_id) WHERE contact_id IS NOT NULL;
CREATE INDEX tickets_assignee_idx ON tickets (tenant_id, assignee_id, status) WHERE assignee_id IS NOT NULL;
CREATE INDEX tickets_sla_idx ON tickets (tenant_id, sla_due_at)
    WHERE sla_due_at IS NOT NULL AND status IN ('open', 'pending');

CREATE TABLE feedback (
    tenant_id   uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id          uuid        NOT NULL,
    account_id  uuid        NOT NULL,
    contact_id  uuid,
    ticket_id   uuid,
    kind        text        NOT NULL CHECK (kind IN ('csat', 'nps', 'free_text')),
    score       smallint,
    comment     text        CHECK (length(comment) <= 10000),
    sentiment   text        CHECK (sentiment IN ('positive', 'neutral', 'negative')),
    topic       text        CHECK (length(topic) <= 100),
    version     integer     NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT feedback_score_fits_kind CHECK (
        (kind = 'csat' AND score BETWEEN 1 AND 5)
        OR (kind = 'nps' AND score BETWEEN 0 AND 10)
        OR (kind = 'free_text' AND score IS NULL)),
    CONSTRAINT feedback_account_fk FOREIGN KEY (tenant_id, account_id) REFERENCES accounts (tenant_id, id),
    CONSTRAINT feedback_contact_fk FOREIGN KEY (tenant_id, contact_id)
        REFERENCES contacts (tenant_id, id) ON DELETE SET NULL (contact_id),
    CONSTRAINT feedback_ticket_fk FOREIGN KEY (tenant_id, ticket_id)
        REFERENCES tickets (tenant_id, id) ON DELETE SET NULL (ticket_id)
);
CREATE INDEX feedback_account_idx ON feedback (tenant_id, account_id, created_at DESC, id DESC);
CREATE INDEX feedback_created_idx ON feedback (tenant_id, created_at, id);
CREATE INDEX feedback_contact_idx ON feedback (tenant_id, contact_id) WHERE contact_id IS NOT NULL;
CREATE INDEX feedback_ticket_idx ON feedback (tenant_id, ticket_id) WHERE ticket_id IS NOT NULL;

-- Triggers, RLS and grants, the same for every table ------------------------------------------
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['tenants', 'users', 'accounts', 'contacts', 'products', 'orders',
                             'order_lines', 'tickets', 'feedback']
    LOOP
        EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE ON %I FOR EACH ROW EXECUTE FUNCTION touch_row()',
                       t || '_touch', t);
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (%I = current_tenant_id()) '
                       'WITH CHECK (%I = current_tenant_id())',
                       t, CASE t WHEN 'tenants' THEN 'id' ELSE 'tenant_id' END,
                       CASE t WHEN 'tenants' THEN 'id' ELSE 'tenant_id' END);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO rapport_app', t);
    END LOOP;
END
$$;

-- The tenant directory: the one cross-tenant read the application needs (resolving a slug,
-- fanning periodic jobs out per tenant). It is a SECURITY DEFINER function owned by the
-- owner role, which alone gets a policy that sees every tenant row; the application role
-- still cannot read other tenants' rows directly.
CREATE POLICY owner_directory ON tenants FOR SELECT TO rapport_owner USING (true);

CREATE FUNCTION tenant_directory()
    RETURNS TABLE (id uuid, slug text, name text, created_at timestamptz)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = public, pg_temp
    AS $$ SELECT t.id, t.slug, t.name, t.created_at FROM tenants t ORDER BY t.created_at, t.id $$;

REVOKE ALL ON FUNCTION tenant_directory() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenant_directory() TO rapport_app;
