-- Row changes of the customer graph are audited from the outbox instead of by a second trigger.
--
-- Every change of an event-publishing table already writes an event (0040) with the actor, the
-- request, the time and the row; with the old values of the changed columns (`before`, new
-- here) it says everything the audit entry said. Writing both cost every write a second insert
-- in its transaction: about a quarter of the database work of a one-row mutation. So those
-- tables lose their audit triggers, and the audit log reads as the union of
--
--   * `audit_log` (explicit entries, changes of the other tables, and archived row changes) and
--   * the events not archived yet, mapped to audit entries (`event_audit_entries`).
--
-- `archive_audit(tenant)` copies a tenant's pending row changes into `audit_log` in one
-- set-based statement and moves the tenant's `audit_archived` counter, atomically: a reader
-- sees every entry exactly once, before and after. Workers archive every few seconds
-- (jobs/audit.py), and pruning archives before it deletes, so retention never loses an entry.
-- An archived entry keeps its id (derived from the event) and its time.

ALTER TABLE events
    ADD COLUMN change text CHECK (change IN ('insert', 'update', 'delete')),  -- null: not a row change
    ADD COLUMN before jsonb;  -- updates: the changed columns' old values

DROP FUNCTION append_event(uuid, text, text, uuid, text[], jsonb);
CREATE FUNCTION append_event(p_tenant uuid, p_type text, p_entity text, p_entity_id uuid, p_changed text[],
                             p_data jsonb, p_change text DEFAULT NULL, p_before jsonb DEFAULT NULL)
    RETURNS bigint
    LANGUAGE plpgsql
    AS $$
DECLARE
    v_seq bigint;
BEGIN
    INSERT INTO tenant_counters AS c (tenant_id, name, value) VALUES (p_tenant, 'events', 1)
    ON CONFLICT (tenant_id, name) DO UPDATE SET value = c.value + 1
    RETURNING value INTO v_seq;
    INSERT INTO events (tenant_id, seq, type, entity, entity_id, changed, data, change, before,
                        actor_kind, actor_id, request_id)
    VALUES (p_tenant, v_seq, p_type, p_entity, p_entity_id, p_changed, p_data, p_change, p_before,
            coalesce(nullif(current_setting('app.actor_kind', true), ''), 'system'),
            nullif(current_setting('app.actor_id', true), '')::uuid,
            nullif(current_setting('app.request_id', true), ''));
    RETURN v_seq;
END
$$;

-- The trigger numbers and writes a row change's event itself rather than through
-- append_event(): a nested PL/pgSQL call is an SPI query of its own, and the counter's upsert
-- probes the index for a conflict first (the UPDATE finds the row after a tenant's first
-- event). pgbench on the bench database, ticket inserts at 32 clients over 20 tenants: ~2,260
-- -> ~2,450 transactions/s. append_event() stays for the rarer events: the extra ones of a
-- changed column (ticket.status_changed...) and those that are not row changes (emit).
CREATE OR REPLACE FUNCTION record_event() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE
    v_ignored text[] := ARRAY['tenant_id', 'id', 'version', 'created_at', 'updated_at', 'last_login_at',
                          'roles_seeded'];
    v_row     record;
    v_data    jsonb;
    v_type    text;
    v_change  text := lower(TG_OP);
    v_changed text[] := '{}';
    v_before  jsonb;
    v_extra   text;
    v_seq     bigint;
BEGIN
    IF TG_OP = 'INSERT' THEN
        v_row := NEW;
        v_data := to_jsonb(NEW);
        v_type := TG_ARGV[1] || '.created';
        FOREACH v_extra IN ARRAY TG_ARGV[2:] LOOP
            IF split_part(v_extra, '=', 1) = 'insert' THEN
                v_type := split_part(v_extra, '=', 2);
            END IF;
        END LOOP;
    ELSIF TG_OP = 'UPDATE' THEN
        v_row := NEW;
        v_data := to_jsonb(NEW);
        SELECT coalesce(array_agg(o.key ORDER BY o.key), '{}'), jsonb_object_agg(o.key, o.value)
          INTO v_changed, v_before
        FROM jsonb_each(to_jsonb(OLD)) o
        WHERE o.key <> ALL (v_ignored) AND o.value IS DISTINCT FROM v_data -> o.key;
        IF v_changed = '{}' THEN
            RETURN NULL;
        END IF;
        v_type := TG_ARGV[1] || '.updated';
    ELSE
        v_row := OLD;
        v_data := to_jsonb(OLD);
        v_type := TG_ARGV[1] || '.deleted';
    END IF;
    v_data := v_data - 'tenant_id';

    UPDATE tenant_counters SET value = value + 1 WHERE tenant_id = v_row.tenant_id AND name = 'events'
    RETURNING value INTO v_seq;
    IF NOT FOUND THEN
        INSERT INTO tenant_counters AS c (tenant_id, name, value) VALUES (v_row.tenant_id, 'events', 1)
        ON CONFLICT (tenant_id, name) DO UPDATE SET value = c.value + 1
        RETURNING value INTO v_seq;
    END IF;
    INSERT INTO events (tenant_id, seq, type, entity, entity_id, changed, data, change, before,
                        actor_kind, actor_id, request_id)
    VALUES (v_row.tenant_id, v_seq, v_type, TG_ARGV[0], v_row.id, v_changed, v_data, v_change, v_before,
            coalesce(nullif(current_setting('app.actor_kind', true), ''), 'system'),
            nullif(current_setting('app.actor_id', true), '')::uuid,
            nullif(current_setting('app.request_id', true), ''));

    IF TG_OP = 'UPDATE' THEN
        FOREACH v_extra IN ARRAY TG_ARGV[2:] LOOP
            IF split_part(v_extra, '=', 1) = ANY (v_changed) THEN
                PERFORM append_event(v_row.tenant_id, split_part(v_extra, '=', 2), TG_ARGV[0], v_row.id,
                                     ARRAY[split_part(v_extra, '=', 1)], v_data);
            END IF;
        END LOOP;
    END IF;
    RETURN NULL;
END
$$;

-- The audit entry's id: a UUIDv7 of the event's time whose other bits are a fixed marker and the
-- event's seq (unique per tenant, as the log's key needs; random v7 ids of other entries would
-- have to match 74 bits to collide).
CREATE FUNCTION event_audit_id(p_at timestamptz, p_seq bigint) RETURNS uuid
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
    SELECT encode(
        substring(int8send((extract(epoch FROM p_at) * 1000)::bigint) FROM 3)  -- 48 bits of milliseconds
        || '\x7a0d'::bytea                                                     -- version 7, marker
        || set_bit(set_bit(int8send(p_seq), 7, 1), 6, 0),                      -- variant 10, the seq
        'hex')::uuid
$$;

CREATE FUNCTION audit_table_of(p_type text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
    SELECT CASE p_type
        WHEN 'Account' THEN 'accounts' WHEN 'Contact' THEN 'contacts' WHEN 'Product' THEN 'products'
        WHEN 'Order' THEN 'orders' WHEN 'OrderLine' THEN 'order_lines' WHEN 'Ticket' THEN 'tickets'
        WHEN 'Feedback' THEN 'feedback' WHEN 'User' THEN 'users' END
$$;

-- Row-change events as audit entries (the columns audit_changes() leaves out are left out here).
CREATE VIEW event_audit_entries WITH (security_invoker = true) AS
SELECT e.tenant_id, e.seq, event_audit_id(e.at, e.seq) AS id, e.at, e.actor_kind, e.actor_id, e.request_id,
       e.change AS action, audit_table_of(e.entity) AS entity, e.entity_id,
       CASE e.change
           WHEN 'update' THEN e.before
           WHEN 'delete' THEN e.data - ARRAY['id', 'version', 'created_at', 'updated_at', 'last_login_at', 'roles_seeded']
       END AS before,
       CASE e.change
           WHEN 'insert' THEN e.data - ARRAY['id', 'version', 'created_at', 'updated_at', 'last_login_at', 'roles_seeded']
           WHEN 'update' THEN (SELECT jsonb_object_agg(k, e.data -> k) FROM unnest(e.changed) k)
       END AS after
FROM events e
WHERE e.change IS NOT NULL;

CREATE VIEW audit_entries WITH (security_invoker = true) AS
SELECT tenant_id, id, at, actor_kind, actor_id, request_id, action, entity, entity_id, before, after
FROM audit_log
UNION ALL
SELECT v.tenant_id, v.id, v.at, v.actor_kind, v.actor_id, v.request_id, v.action, v.entity, v.entity_id,
       v.before, v.after
FROM event_audit_entries v
-- RLS limits the view to the transaction's tenant anyway; naming it here makes the cursor one
-- value, so the pending events are a range of the primary key, not a scan of the retained ones.
WHERE v.seq > coalesce((SELECT c.value FROM tenant_counters c
                        WHERE c.tenant_id = current_tenant_id() AND c.name = 'audit_archived'), 0);
GRANT SELECT ON event_audit_entries, audit_entries TO rapport_app;

-- Copy the tenant's pending row changes into audit_log; returns how many. The counter row's
-- lock makes concurrent archivers of one tenant take turns.
CREATE FUNCTION archive_audit(p_tenant uuid) RETURNS integer
    LANGUAGE plpgsql
    AS $$
DECLARE
    v_from  bigint;
    v_to    bigint;
    v_count integer;
BEGIN
    INSERT INTO tenant_counters (tenant_id, name, value) VALUES (p_tenant, 'audit_archived', 0)
    ON CONFLICT (tenant_id, name) DO NOTHING;
    SELECT value INTO v_from FROM tenant_counters
    WHERE tenant_id = p_tenant AND name = 'audit_archived' FOR UPDATE;
    -- Seqs become visible in order (0040), so nothing can commit below the highest one seen.
    SELECT max(seq) INTO v_to FROM events WHERE tenant_id = p_tenant AND seq > v_from;
    IF v_to IS NULL THEN
        RETURN 0;
    END IF;
    INSERT INTO audit_log (tenant_id, id, at, actor_kind, actor_id, request_id, action, entity, entity_id,
                           before, after)
    SELECT tenant_id, id, at, actor_kind, actor_id, request_id, action, entity, entity_id, before, after
    FROM event_audit_entries
    WHERE tenant_id = p_tenant AND seq > v_from AND seq <= v_to;
    GET DIAGNOSTICS v_count = ROW_COUNT;
    UPDATE tenant_counters SET value = v_to WHERE tenant_id = p_tenant AND name = 'audit_archived';
    RETURN v_count;
END
$$;

-- Tenants with row changes not archived yet: what the workers' archiver visits. Like
-- event_heads(), a cross-tenant read the application role may only make through this function.
CREATE FUNCTION audit_backlog()
    RETURNS TABLE (tenant_id uuid, pending bigint)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = public, pg_temp
    AS $$
    SELECT h.tenant_id, h.value - coalesce(a.value, 0)
    FROM tenant_counters h
    LEFT JOIN tenant_counters a ON a.tenant_id = h.tenant_id AND a.name = 'audit_archived'
    WHERE h.name = 'events' AND h.value > coalesce(a.value, 0)
$$;
REVOKE ALL ON FUNCTION audit_backlog() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION audit_backlog() TO rapport_app;

-- What the tables' audit triggers wrote before this migration stays in audit_log; from now on
-- their changes come from the events.
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['accounts', 'contacts', 'products', 'orders', 'order_lines', 'tickets', 'feedback',
                             'users']
    LOOP
        EXECUTE format('DROP TRIGGER %I ON %I', t || '_audit_insert', t);
        EXECUTE format('DROP TRIGGER %I ON %I', t || '_audit_update', t);
        EXECUTE format('DROP TRIGGER %I ON %I', t || '_audit_delete', t);
    END LOOP;
END
$$;
-- Events written before this migration (no `change`) were audited by those triggers already.
