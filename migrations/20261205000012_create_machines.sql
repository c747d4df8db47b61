-- Machines with client certificates: each tenant's machine CA, one-time enrolment tokens, the enrolled machines
-- and every certificate issued to them; API keys that work only over a connection presenting one.
CREATE TABLE machine_cas (
    tenant_id TEXT PRIMARY KEY,
    -- The CA's own certificate (self-signed, P-256), downloadable; its private key sealed under the master key.
    cert_pem TEXT NOT NULL,
    sealed_key TEXT NOT NULL,
    seal_key_id TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    next_serial BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE machine_tokens (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    -- SHA-256 (hex) of the token: the token itself is shown once and kept nowhere.
    token_hash TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    -- Comma-separated CIDR blocks the machine's requests must come from ('' for anywhere).
    source_range TEXT NOT NULL,
    cert_days BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    revoked_at BIGINT,
    machine_id TEXT
);
CREATE INDEX machine_tokens_tenant ON machine_tokens (tenant_id);

CREATE TABLE machines (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    name TEXT NOT NULL,
    source_range TEXT NOT NULL,
    cert_days BIGINT NOT NULL,
    -- Who created the enrolment token it used.
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT,
    revoked_by TEXT,
    last_seen_at BIGINT,
    last_seen_ip TEXT
);
CREATE INDEX machines_tenant ON machines (tenant_id);

CREATE TABLE machine_certs (
    -- SHA-256 (hex) of the certificate's DER: what a TLS connection presents is looked up by it.
    fingerprint TEXT PRIMARY KEY,
    machine_id TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    serial BIGINT NOT NULL,
    not_before BIGINT NOT NULL,
    not_after BIGINT NOT NULL,
    issued_at BIGINT NOT NULL,
    -- Set when a renewal issued its successor: it keeps working for a day (a lost answer can be retried).
    replaced_at BIGINT
);
CREATE INDEX machine_certs_machine ON machine_certs (machine_id);

ALTER TABLE api_keys ADD COLUMN machines_only BIGINT NOT NULL DEFAULT 0;
