-- Keys that know who is trying them: a public id in the key's text (`rmp_<kind>_<id>_<secret><check>`), so a
-- wrong secret with a known id counts against that key. Keys made before have none until they are rolled.
ALTER TABLE api_keys ADD COLUMN public_id TEXT;
CREATE UNIQUE INDEX api_keys_public_id ON api_keys (public_id);
-- Consecutive failed authentications against the key (reset by a success), and the last one's time and address.
ALTER TABLE api_keys ADD COLUMN auth_failures BIGINT NOT NULL DEFAULT 0;
ALTER TABLE api_keys ADD COLUMN last_failure_at BIGINT;
ALTER TABLE api_keys ADD COLUMN last_failure_ip TEXT;
