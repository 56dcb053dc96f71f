-- Cluster-wide roles for Rapport; run once per Postgres cluster as a superuser
-- (`python -m backend.cli bootstrap` runs this file, then creates the database).
--
--   rapport_owner  owns the schema and runs migrations.
--   rapport_app    what the API and the workers log in as (or a login role granted it):
--                  not the owner, no BYPASSRLS, so FORCE ROW LEVEL SECURITY applies to it.
--
-- Passwords are not set here: in production set them (ALTER ROLE ... PASSWORD) or use your
-- platform's IAM authentication, and give them to Rapport through RAPPORT_*_DATABASE_URL.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'rapport_owner') THEN
        CREATE ROLE rapport_owner LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEROLE;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'rapport_app') THEN
        CREATE ROLE rapport_app LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEROLE NOCREATEDB;
    END IF;
END
$$;
