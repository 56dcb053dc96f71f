-- Webhook signing secrets are stored sealed (AES-GCM, backend/crypto.py): `rk1:<key id>:<base64>`
-- is longer than the secret itself. Values stored in clear before this stay readable until
-- `backend.cli secrets reseal` seals them.
ALTER TABLE webhook_endpoints DROP CONSTRAINT webhook_endpoints_secret_check;
ALTER TABLE webhook_endpoints ADD CONSTRAINT webhook_endpoints_secret_check CHECK (length(secret) BETWEEN 24 AND 400);
