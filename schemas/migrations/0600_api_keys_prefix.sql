-- 0600 api-gateway: find API keys by their non-secret prefix.
--
-- The gateway looks a presented key up by its prefix (the first characters,
-- also shown to people) and then compares the SHA-256 hashes in constant
-- time, so the database never compares anything derived from the secret
-- part. Only live keys are looked up, hence the partial index.
CREATE INDEX api_keys_live_prefix ON api_keys (prefix) WHERE revoked_at IS NULL;
