-- The append-only audit log.
--
-- A generic statement-level trigger (audit_changes) on every tenant table writes one row per
-- changed record: who (app.actor_kind / app.actor_id, set by tenant_transaction), the request
-- id, what (table, id, insert/update/delete) and the before/after values of the changed
-- columns as JSONB. Because it is a trigger, no write path can forget it; services add
-- explicit rows for what a table row does not say (policy and key changes, exports, merges).
--
-- Append-only: the application role may INSERT and SELECT, never UPDATE or DELETE (no grant,
-- and no RLS policy for those commands either).
--
-- A table added later gets its triggers with `SELECT audit_table('name')` (optionally with
-- columns to leave out, e.g. secrets); tests/audit checks that every tenant table has them.

CREATE TABLE audit_log (
    tenant_id   uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id          uuid        NOT NULL DEFAULT gen_random_uuid(),
    at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor_kind  text        NOT NULL CHECK (actor_kind IN ('user', 'api_key', 'job', 'system')),
    actor_id    uuid,
    request_id  text        CHECK (length(request_id) <= 200),
    action      text        NOT NULL CHECK (length(action) BETWEEN 1 AND 64),
    entity      text        NOT NULL CHECK (length(entity) BETWEEN 1 AND 64),
    entity_id   uuid,
    before      jsonb,
    after       jsonb,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX audit_log_at_idx ON audit_log (tenant_id, at DESC, id DESC);
CREATE INDEX audit_log_entity_idx ON audit_log (tenant_id, entity, entity_id, at DESC);
CREATE INDEX audit_log_actor_idx ON audit_log (tenant_id, actor_id, at DESC) WHERE actor_id IS NOT NULL;
CREATE INDEX audit_log_request_idx ON audit_log (tenant_id, request_id) WHERE request_id IS NOT NULL;

ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_log FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_read ON audit_log FOR SELECT USING (tenant_id = current_tenant_id());
CREATE POLICY tenant_append ON audit_log FOR INSERT WITH CHECK (tenant_id = current_tenant_id());
GRANT SELECT, INSERT ON audit_log TO rapport_app;

CREATE FUNCTION audit_changes() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE
    -- Bookkeeping columns say nothing about the change; TG_ARGV adds per-table exclusions.
    -- (v_ names: the row types of audited tables have columns such as `kind`.)
    v_ignored text[] := ARRAY['tenant_id', 'id', 'version', 'created_at', 'updated_at', 'last_used_at',
                              'last_login_at'] || TG_ARGV;
    v_kind    text := coalesce(nullif(current_setting('app.actor_kind', true), ''), 'system');
    v_actor   uuid := nullif(current_setting('app.actor_id', true), '')::uuid;
    v_request text := nullif(current_setting('app.request_id', true), '');
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO audit_log (tenant_id, actor_kind, actor_id, request_id, action, entity, entity_id, after)
        SELECT n.tenant_id, v_kind, v_actor, v_request, 'insert', TG_TABLE_NAME, n.id, to_jsonb(n) - v_ignored
        FROM new_rows n;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO audit_log (tenant_id, actor_kind, actor_id, request_id, action, entity, entity_id,
                               before, after)
        SELECT n.tenant_id, v_kind, v_actor, v_request, 'update', TG_TABLE_NAME, n.id, d.before, d.after
        FROM new_rows n
        JOIN old_rows o ON o.tenant_id = n.tenant_id AND o.id = n.id
        CROSS JOIN LATERAL (
            SELECT jsonb_object_agg(e.key, e.value) AS before,
                   jsonb_object_agg(e.key, to_jsonb(n) -> e.key) AS after
            FROM jsonb_each(to_jsonb(o) - v_ignored) e
            WHERE e.value IS DISTINCT FROM to_jsonb(n) -> e.key
        ) d
        WHERE d.before IS NOT NULL;
    ELSE
        INSERT INTO audit_log (tenant_id, actor_kind, actor_id, request_id, action, entity, entity_id, before)
        SELECT o.tenant_id, v_kind, v_actor, v_request, 'delete', TG_TABLE_NAME, o.id, to_jsonb(o) - v_ignored
        FROM old_rows o;
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION audit_table(target regclass, excluded text[] DEFAULT '{}') RETURNS void
    LANGUAGE plpgsql
    AS $$
DECLARE
    name text := (SELECT relname FROM pg_class WHERE oid = target);
    args text := coalesce((SELECT string_agg(quote_literal(e), ', ') FROM unnest(excluded) e), '');
BEGIN
    EXECUTE format('CREATE TRIGGER %I AFTER INSERT ON %s REFERENCING NEW TABLE AS new_rows '
                   'FOR EACH STATEMENT EXECUTE FUNCTION audit_changes(%s)', name || '_audit_insert', target, args);
    EXECUTE format('CREATE TRIGGER %I AFTER UPDATE ON %s REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows '
                   'FOR EACH STATEMENT EXECUTE FUNCTION audit_changes(%s)', name || '_audit_update', target, args);
    EXECUTE format('CREATE TRIGGER %I AFTER DELETE ON %s REFERENCING OLD TABLE AS old_rows '
                   'FOR EACH STATEMENT EXECUTE FUNCTION audit_changes(%s)', name || '_audit_delete', target, args);
END
$$;
REVOKE ALL ON FUNCTION audit_table(regclass, text[]) FROM PUBLIC;

SELECT audit_table(t) FROM unnest(ARRAY[
    'users', 'accounts', 'contacts', 'products', 'orders', 'order_lines', 'tickets', 'feedback',
    'custom_field_definitions', 'merges', 'teams', 'api_keys',
    'access_roles', 'access_grants', 'access_scopes', 'access_bindings'
]::regclass[]) AS t;
SELECT audit_table('api_key_secrets', ARRAY['secret_hash']);
