-- Each tenant's SSH certificate authority (ed25519; the private key sealed under the master key) and the
-- short-lived user certificates it issued.
CREATE TABLE ssh_cas (
    tenant_id TEXT PRIMARY KEY,
    public_key TEXT NOT NULL,
    sealed_key TEXT NOT NULL,
    seal_key_id TEXT NOT NULL,
    next_serial BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE ssh_certificates (
    tenant_id TEXT NOT NULL,
    serial BIGINT NOT NULL,
    membership_id TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    principal TEXT NOT NULL,
    valid_after BIGINT NOT NULL,
    valid_before BIGINT NOT NULL,
    certificate TEXT NOT NULL,
    issued_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, serial)
);
CREATE INDEX ssh_certificates_member ON ssh_certificates (membership_id, valid_before);

ALTER TABLE tenants ADD COLUMN ssh_cert_minutes BIGINT NOT NULL DEFAULT 15;
