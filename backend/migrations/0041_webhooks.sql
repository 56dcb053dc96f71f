-- Webhooks: endpoints that tenants register, and the log of every delivery to them.
--
-- An endpoint subscribes to event types (exact, or families such as `ticket.*`, or `*`) and
-- keeps `cursor`, the last outbox seq the dispatcher has fanned out to it: deliveries are
-- created from events after the cursor, and the cursor moves in the same transaction, so a
-- restart neither loses nor duplicates fan-out. A paused endpoint keeps its cursor and picks
-- up from there when resumed.
--
-- The secret signs request bodies (HMAC-SHA256), so it must be stored as it is (a hash could
-- not sign); it is shown once and never read back through the API, and the audit log leaves
-- it out. The owner (the principal that registered the endpoint) decides which fields bodies
-- carry: its roles' read permission, evaluated when each delivery is sent.
--
-- A delivery is one event (or a ping) to one endpoint, with its attempts. `next_attempt_at`
-- is when it may next be tried; a worker that claims it moves it forward by a lease, so a
-- duplicate message does nothing and a crashed worker's delivery is retried once the lease
-- runs out. `queued_at` says a message was sent for the current attempt.

CREATE TABLE webhook_endpoints (
    tenant_id      uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id             uuid        NOT NULL,
    url            text        NOT NULL CHECK (url ~ '^https?://' AND length(url) <= 2000),
    description    text        NOT NULL DEFAULT '' CHECK (length(description) <= 500),
    event_types    text[]      NOT NULL CHECK (cardinality(event_types) BETWEEN 1 AND 50),
    conditions     jsonb,  -- the endpoint's filter (EndpointFilter.as_json)
    secret         text        NOT NULL CHECK (length(secret) BETWEEN 24 AND 200),
    status         text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused', 'disabled')),
    disabled_reason text,
    cursor         bigint      NOT NULL DEFAULT 0,
    owner_kind     text        NOT NULL CHECK (owner_kind IN ('user', 'api_key')),
    owner_id       uuid        NOT NULL,
    consecutive_failures integer NOT NULL DEFAULT 0,
    failing_since  timestamptz,
    version        integer     NOT NULL DEFAULT 1,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX webhook_endpoints_status_idx ON webhook_endpoints (tenant_id, status);

CREATE TABLE webhook_deliveries (
    tenant_id       uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id              uuid        NOT NULL,
    endpoint_id     uuid        NOT NULL,
    kind            text        NOT NULL CHECK (kind IN ('event', 'ping', 'replay')),
    seq             bigint      CHECK ((seq IS NULL) = (kind = 'ping')),
    event_type      text        NOT NULL,
    status          text        NOT NULL DEFAULT 'pending'
                                CHECK (status IN ('pending', 'retrying', 'succeeded', 'dead')),
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    queued_at       timestamptz,
    last_attempt_at timestamptz,
    response_code   integer,
    duration_ms     integer,
    error           text,
    endpoint_disabled boolean   NOT NULL DEFAULT false,
    version         integer     NOT NULL DEFAULT 1,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT webhook_deliveries_endpoint_fk FOREIGN KEY (tenant_id, endpoint_id)
        REFERENCES webhook_endpoints (tenant_id, id) ON DELETE CASCADE
);
-- The log, newest first (ids are UUIDv7: time-ordered).
CREATE INDEX webhook_deliveries_log_idx ON webhook_deliveries (tenant_id, endpoint_id, id);
-- What is still to be sent, for the dispatcher's sweep.
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (tenant_id, next_attempt_at)
    WHERE status IN ('pending', 'retrying');

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['webhook_endpoints', 'webhook_deliveries']
    LOOP
        EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE ON %I FOR EACH ROW EXECUTE FUNCTION touch_row()',
                       t || '_touch', t);
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = current_tenant_id()) '
                       'WITH CHECK (tenant_id = current_tenant_id())', t);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO rapport_app', t);
    END LOOP;
END
$$;

-- Endpoint changes are admin actions worth auditing (without the secret); deliveries are a
-- log of their own and are not audited row by row.
SELECT audit_table('webhook_endpoints', ARRAY['secret', 'cursor', 'consecutive_failures', 'failing_since']);
