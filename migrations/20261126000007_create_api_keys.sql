-- API keys. Only an HMAC-SHA-256 digest of each secret is stored, with a short non-secret display prefix.
-- A roll moves the current digest to prev_* until prev_expires_at (the grace the admin chose); generation
-- counts the secrets a key has had, so usage can be told apart per secret. owner_membership_id has no
-- foreign key: a removed member's revoked keys stay on record.
CREATE TABLE api_keys (
    id                  TEXT PRIMARY KEY,
    tenant_id           TEXT NOT NULL REFERENCES tenants (id),
    kind                TEXT NOT NULL,
    label               TEXT NOT NULL,
    description         TEXT NOT NULL,
    owner_membership_id TEXT NOT NULL,
    created_by          TEXT NOT NULL,
    scopes              TEXT NOT NULL,
    allowed_ips         TEXT NOT NULL,
    allowed_referers    TEXT NOT NULL,
    rate_per_hour       BIGINT,
    created_at          BIGINT NOT NULL,
    expires_at          BIGINT NOT NULL,
    revoked_at          BIGINT,
    generation          BIGINT NOT NULL,
    digest              TEXT NOT NULL UNIQUE,
    display_prefix      TEXT NOT NULL,
    prev_digest         TEXT UNIQUE,
    prev_display_prefix TEXT,
    prev_expires_at     BIGINT,
    rolled_at           BIGINT,
    last_used_at        BIGINT,
    last_used_ip        TEXT,
    last_used_ua        TEXT
);
CREATE INDEX api_keys_tenant ON api_keys (tenant_id, created_at);
CREATE INDEX api_keys_owner ON api_keys (tenant_id, owner_membership_id);

-- Where each secret of a key was used from: one row per (secret generation, IP, user agent).
CREATE TABLE api_key_usage (
    key_id        TEXT NOT NULL REFERENCES api_keys (id),
    generation    BIGINT NOT NULL,
    ip            TEXT NOT NULL,
    user_agent    TEXT NOT NULL,
    first_used_at BIGINT NOT NULL,
    last_used_at  BIGINT NOT NULL,
    uses          BIGINT NOT NULL,
    PRIMARY KEY (key_id, generation, ip, user_agent)
);

-- The tenant's key policy and the address security alerts go to (besides its admins).
ALTER TABLE tenants ADD COLUMN key_max_age_days BIGINT NOT NULL DEFAULT 365;
ALTER TABLE tenants ADD COLUMN key_disable_unused_days BIGINT;
ALTER TABLE tenants ADD COLUMN security_contact TEXT NOT NULL DEFAULT '';

-- Events caused by an API key name it.
ALTER TABLE audit_events ADD COLUMN key_id TEXT;
CREATE INDEX audit_events_key_time ON audit_events (key_id, created_at);
