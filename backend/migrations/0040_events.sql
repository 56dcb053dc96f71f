-- The transactional outbox: every change of a customer-graph row becomes an event in the same
-- transaction, numbered per tenant without gaps, in commit order.
--
-- Triggers, not application code, write the events, so no writer (mutation, job, merge, CLI)
-- can forget one. They are deferred constraint triggers: they run at COMMIT, which is when the
-- tenant's event counter row is locked. A transaction therefore holds that lock only while it
-- commits, and a later `seq` can never become visible before an earlier one: a reader that has
-- seen `seq` n has seen every event up to n, which is what resuming `after` a seq relies on.

CREATE TABLE events (
    tenant_id   uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    seq         bigint      NOT NULL,
    type        text        NOT NULL CHECK (type ~ '^[a-z_]+\.[a-z_]+$'),
    entity      text        NOT NULL,  -- the GraphQL type: Account, OrderLine...
    entity_id   uuid,
    changed     text[]      NOT NULL DEFAULT '{}',  -- columns whose value changed (updates)
    data        jsonb,  -- the row after the change (before it, for a deletion)
    actor_kind  text        NOT NULL,
    actor_id    uuid,
    request_id  text,
    at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (tenant_id, seq)
);
-- No index on `at`: seq follows commit time, so retention prunes a prefix of the primary key
-- (backend/events/service.py), and each event costs one index entry fewer.

ALTER TABLE events ENABLE ROW LEVEL SECURITY;
ALTER TABLE events FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON events USING (tenant_id = current_tenant_id())
    WITH CHECK (tenant_id = current_tenant_id());
-- DELETE: retention pruning, per tenant like every other statement.
GRANT SELECT, INSERT, DELETE ON events TO rapport_app;

-- Append one event of the row's tenant (RLS checks it is the transaction's), numbered from the
-- tenant's counter (row-locked until commit). No NOTIFY here: the application wakes consumers
-- after commit (backend/db.py explains why).
CREATE FUNCTION append_event(p_tenant uuid, p_type text, p_entity text, p_entity_id uuid, p_changed text[],
                             p_data jsonb)
    RETURNS bigint
    LANGUAGE plpgsql
    AS $$
DECLARE
    v_seq bigint;
BEGIN
    INSERT INTO tenant_counters AS c (tenant_id, name, value) VALUES (p_tenant, 'events', 1)
    ON CONFLICT (tenant_id, name) DO UPDATE SET value = c.value + 1
    RETURNING value INTO v_seq;
    INSERT INTO events (tenant_id, seq, type, entity, entity_id, changed, data, actor_kind, actor_id, request_id)
    VALUES (p_tenant, v_seq, p_type, p_entity, p_entity_id, p_changed, p_data,
            coalesce(nullif(current_setting('app.actor_kind', true), ''), 'system'),
            nullif(current_setting('app.actor_id', true), '')::uuid,
            nullif(current_setting('app.request_id', true), ''));
    RETURN v_seq;
END
$$;

-- TG_ARGV: the GraphQL type, the event prefix, then "column=type" pairs: an extra event when
-- that column changes (or, for "insert=type", replacing `<prefix>.created`).
CREATE FUNCTION record_event() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE
    v_ignored text[] := ARRAY['tenant_id', 'id', 'version', 'created_at', 'updated_at', 'last_login_at',
                          'roles_seeded'];
    v_changed text[];
    v_created text := TG_ARGV[1] || '.created';
    v_extra   text;
    v_column  text;
BEGIN
    IF TG_OP = 'INSERT' THEN
        FOREACH v_extra IN ARRAY TG_ARGV[2:] LOOP
            IF split_part(v_extra, '=', 1) = 'insert' THEN
                v_created := split_part(v_extra, '=', 2);
            END IF;
        END LOOP;
        PERFORM append_event(NEW.tenant_id, v_created, TG_ARGV[0], NEW.id, '{}', to_jsonb(NEW) - 'tenant_id');
    ELSIF TG_OP = 'UPDATE' THEN
        SELECT coalesce(array_agg(o.key ORDER BY o.key), '{}') INTO v_changed
        FROM jsonb_each(to_jsonb(OLD)) o
        WHERE o.key <> ALL (v_ignored) AND o.value IS DISTINCT FROM to_jsonb(NEW) -> o.key;
        IF v_changed = '{}' THEN
            RETURN NULL;
        END IF;
        PERFORM append_event(NEW.tenant_id, TG_ARGV[1] || '.updated', TG_ARGV[0], NEW.id, v_changed, to_jsonb(NEW) - 'tenant_id');
        FOREACH v_extra IN ARRAY TG_ARGV[2:] LOOP
            v_column := split_part(v_extra, '=', 1);
            IF v_column = ANY (v_changed) THEN
                PERFORM append_event(NEW.tenant_id, split_part(v_extra, '=', 2), TG_ARGV[0], NEW.id, ARRAY[v_column],
                                     to_jsonb(NEW) - 'tenant_id');
            END IF;
        END LOOP;
    ELSE
        PERFORM append_event(OLD.tenant_id, TG_ARGV[1] || '.deleted', TG_ARGV[0], OLD.id, '{}', to_jsonb(OLD) - 'tenant_id');
    END IF;
    RETURN NULL;
END
$$;

-- Every tenant's last seq: consumers compare it with their cursors to catch up on wake-ups that
-- were late or lost. Like tenant_directory(), a cross-tenant read the application role may only
-- make through this function.
CREATE POLICY owner_heads ON tenant_counters FOR SELECT TO rapport_owner USING (true);
CREATE FUNCTION event_heads()
    RETURNS TABLE (tenant_id uuid, seq bigint)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = public, pg_temp
    AS $$ SELECT c.tenant_id, c.value FROM tenant_counters c WHERE c.name = 'events' $$;
REVOKE ALL ON FUNCTION event_heads() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION event_heads() TO rapport_app;

CREATE FUNCTION publish_events(target regclass, type_name text, prefix text, extras text[] DEFAULT '{}')
    RETURNS void
    LANGUAGE plpgsql
    AS $$
DECLARE
    args text := (SELECT string_agg(quote_literal(a), ', ') FROM unnest(ARRAY[type_name, prefix] || extras) a);
BEGIN
    EXECUTE format('CREATE CONSTRAINT TRIGGER %I AFTER INSERT OR UPDATE OR DELETE ON %s '
                   'DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION record_event(%s)',
                   (SELECT relname FROM pg_class WHERE oid = target) || '_events', target, args);
END
$$;
REVOKE ALL ON FUNCTION publish_events(regclass, text, text, text[]) FROM PUBLIC;

SELECT publish_events('accounts', 'Account', 'account');
SELECT publish_events('contacts', 'Contact', 'contact');
SELECT publish_events('products', 'Product', 'product');
SELECT publish_events('orders', 'Order', 'order', ARRAY['status=order.status_changed']);
SELECT publish_events('order_lines', 'OrderLine', 'order_line');
SELECT publish_events('tickets', 'Ticket', 'ticket',
                      ARRAY['status=ticket.status_changed', 'assignee_id=ticket.assigned']);
SELECT publish_events('feedback', 'Feedback', 'feedback', ARRAY['insert=feedback.received']);
SELECT publish_events('users', 'User', 'user');
