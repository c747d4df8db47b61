-- Tamper evidence: each tenant's events (and the tenant-less ones, chain '-') form an HMAC-SHA-256 chain.
-- seq numbers a chain's events from 1; mac = HMAC(chain key `mac_key`, event fields ‖ prev_mac). ip_key is the
-- client address as 32 hex digits (IPv4 mapped into IPv6), so an IP or CIDR filter is an index range. The
-- filter indexes end in (created_at, id), the order pages are listed in.
ALTER TABLE audit_events ADD COLUMN seq BIGINT;
ALTER TABLE audit_events ADD COLUMN prev_mac TEXT;
ALTER TABLE audit_events ADD COLUMN mac TEXT;
ALTER TABLE audit_events ADD COLUMN mac_key TEXT;
ALTER TABLE audit_events ADD COLUMN ip_key TEXT;
CREATE UNIQUE INDEX audit_events_chain ON audit_events (tenant_id, seq);
CREATE INDEX audit_events_tenant_ip ON audit_events (tenant_id, ip_key, created_at, id);
CREATE INDEX audit_events_tenant_account ON audit_events (tenant_id, account_id, created_at, id);

-- The newest link of each chain, kept apart from the events so deleting the newest events is detected too;
-- base_seq/base_mac is the checkpoint left by the retention purge (the last purged event).
CREATE TABLE audit_chain_heads (
    chain       TEXT PRIMARY KEY,
    seq         BIGINT NOT NULL,
    mac         TEXT NOT NULL,
    base_seq    BIGINT NOT NULL,
    base_mac    TEXT NOT NULL,
    updated_at  BIGINT NOT NULL
);

-- How long a tenant's access history is kept.
ALTER TABLE tenants ADD COLUMN audit_retention_days BIGINT NOT NULL DEFAULT 400;
