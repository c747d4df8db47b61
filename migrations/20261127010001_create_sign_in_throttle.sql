-- Sign-in throttling counters, shared by every instance. scope_key is an HMAC (server key) of the scope and the
-- normalised email (and the client IP for per-IP scopes), so an unknown email is counted exactly like a known one
-- and the table names no one.
CREATE TABLE sign_in_throttle (
    scope_key        TEXT PRIMARY KEY,
    email_hash       TEXT NOT NULL,
    failures         BIGINT NOT NULL,
    last_failure_at  BIGINT NOT NULL
);
CREATE INDEX sign_in_throttle_email ON sign_in_throttle (email_hash);
CREATE INDEX sign_in_throttle_last_failure ON sign_in_throttle (last_failure_at);

-- Browsers that completed a sign-in: only the SHA-256 of the long-lived device cookie is stored. One browser
-- keeps one cookie for every account that signs in on it.
CREATE TABLE known_devices (
    id             TEXT PRIMARY KEY,
    account_id     TEXT NOT NULL REFERENCES accounts (id),
    token_hash     TEXT NOT NULL,
    first_ip       TEXT NOT NULL,
    last_ip        TEXT NOT NULL,
    user_agent     TEXT NOT NULL,
    first_seen_at  BIGINT NOT NULL,
    last_seen_at   BIGINT NOT NULL
);
CREATE UNIQUE INDEX known_devices_account_token ON known_devices (account_id, token_hash);
CREATE INDEX known_devices_token ON known_devices (token_hash);

-- Client IPs that completed a sign-in of an account.
CREATE TABLE known_sign_in_ips (
    account_id     TEXT NOT NULL REFERENCES accounts (id),
    ip             TEXT NOT NULL,
    first_seen_at  BIGINT NOT NULL,
    last_seen_at   BIGINT NOT NULL,
    PRIMARY KEY (account_id, ip)
);
