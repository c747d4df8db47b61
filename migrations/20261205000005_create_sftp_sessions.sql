-- SFTP sessions through the gateway (live ones have no ended_at), with what they moved.
CREATE TABLE sftp_sessions (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    membership_id TEXT NOT NULL,
    actor TEXT NOT NULL,
    -- key | certificate
    via TEXT NOT NULL,
    key_fingerprint TEXT NOT NULL,
    -- The stored key (via key) or the certificate's serial (via certificate).
    ssh_key_id TEXT,
    cert_serial BIGINT,
    ip TEXT NOT NULL,
    client TEXT NOT NULL,
    -- The instance serving it (several instances: each closes its own).
    instance TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    bytes_in BIGINT NOT NULL DEFAULT 0,
    bytes_out BIGINT NOT NULL DEFAULT 0,
    -- An admin asked for its end (the serving instance closes it).
    end_requested_at BIGINT,
    ended_at BIGINT,
    end_reason TEXT
);
CREATE INDEX sftp_sessions_tenant ON sftp_sessions (tenant_id, ended_at);

-- Folders made over SFTP (`mkdir`): they exist while empty too.
CREATE TABLE vault_folders (
    tenant_id TEXT NOT NULL,
    folder TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    PRIMARY KEY (tenant_id, folder)
);

-- Plain keys stop working for SFTP when set (certificates only).
ALTER TABLE tenants ADD COLUMN sftp_require_certs BIGINT NOT NULL DEFAULT 0;
-- The last panic: SFTP is paused from it until an admin resumes it, and certificates issued before it are
-- refused for good.
ALTER TABLE tenants ADD COLUMN last_panic_at BIGINT;
ALTER TABLE tenants ADD COLUMN sftp_paused_at BIGINT;
