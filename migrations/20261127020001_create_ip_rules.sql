-- A tenant's network rules. ip_blocks: addresses or CIDR blocks refused on the console and the REST API, each
-- with the admin's reason and an optional end (epoch ms). console_allowed_ips: when not empty, the console of
-- the tenant is used only from these blocks (comma-separated CIDRs, as api_keys.allowed_ips).
CREATE TABLE ip_blocks (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    cidr        TEXT NOT NULL,
    reason      TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT
);
CREATE INDEX ip_blocks_tenant ON ip_blocks (tenant_id, created_at);
ALTER TABLE tenants ADD COLUMN console_allowed_ips TEXT NOT NULL DEFAULT '';

-- A frozen key is refused at verification until unfrozen (the panic button freezes, an admin unfreezes).
ALTER TABLE api_keys ADD COLUMN frozen_at BIGINT;
