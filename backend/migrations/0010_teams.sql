-- Teams (the unit of the `team` record scope) and what access control needs on users.
--
--   users.team_id       the user's team; `team` scopes match records whose owner/assignee is
--                       in the caller's team.
--   users.roles_seeded  whether the user's role bindings were seeded from their first token's
--                       `roles` claim (done once; afterwards only admins change bindings).
--
-- Changes that affect who a user is (deactivation, team) are announced on the channel
-- rapport_access, so every process drops what it cached about that user within a second.
-- Deactivating or deleting a user also marks the transaction (app.users_changed): before it
-- commits, the API checks that some active user can still manage access policies.

CREATE TABLE teams (
    tenant_id   uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id          uuid        NOT NULL,
    name        text        NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    version     integer     NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX teams_name_key ON teams (tenant_id, lower(name));

-- NOT VALID: the column is new, so every existing row is NULL and there is nothing to check
-- (validating would scan users as the owner, which FORCE ROW LEVEL SECURITY refuses without a
-- tenant); every row written from now on is checked.
ALTER TABLE users
    ADD COLUMN team_id uuid,
    ADD COLUMN roles_seeded boolean NOT NULL DEFAULT false,
    ADD CONSTRAINT users_team_fk FOREIGN KEY (tenant_id, team_id)
        REFERENCES teams (tenant_id, id) ON DELETE SET NULL (team_id) NOT VALID;
CREATE INDEX users_team_idx ON users (tenant_id, team_id) WHERE team_id IS NOT NULL;

CREATE TRIGGER teams_touch BEFORE UPDATE ON teams FOR EACH ROW EXECUTE FUNCTION touch_row();
ALTER TABLE teams ENABLE ROW LEVEL SECURITY;
ALTER TABLE teams FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON teams
    USING (tenant_id = current_tenant_id()) WITH CHECK (tenant_id = current_tenant_id());
GRANT SELECT, INSERT, UPDATE, DELETE ON teams TO rapport_app;

-- 'user:<tenant>:<id>' when a user's access-relevant columns change or the user goes away.
CREATE FUNCTION notify_user_changed() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    PERFORM pg_notify('rapport_access', 'user:' || OLD.tenant_id || ':' || OLD.id);
    IF TG_OP = 'DELETE' OR OLD.is_active AND NOT NEW.is_active THEN
        PERFORM set_config('app.users_changed', 'on', true);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER users_access_changed AFTER UPDATE OF is_active, team_id ON users FOR EACH ROW
    WHEN (OLD.is_active IS DISTINCT FROM NEW.is_active OR OLD.team_id IS DISTINCT FROM NEW.team_id)
    EXECUTE FUNCTION notify_user_changed();
CREATE TRIGGER users_access_deleted AFTER DELETE ON users FOR EACH ROW EXECUTE FUNCTION notify_user_changed();
