-- Development passwords for the Compose stack only (infra/compose.yaml runs this once, when its
-- Postgres volume is first initialised, right after roles.sql). Never use these elsewhere: in
-- production set real ones, e.g. with psql's \password, which sends only a SCRAM hash.
ALTER ROLE rapport_owner PASSWORD 'rapport-owner-dev';
ALTER ROLE rapport_app PASSWORD 'rapport-app-dev';
