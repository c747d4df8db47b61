-- Support access only with the tenant's consent: the organisation's settings, and the platform operators'
-- requests to look at its console (approved by an owner, time-boxed, read-only, revocable).
ALTER TABLE tenants ADD COLUMN support_allowed BIGINT NOT NULL DEFAULT 1;
-- The most an owner may let a support session see beyond the console's pages.
ALTER TABLE tenants ADD COLUMN support_vault_allowed BIGINT NOT NULL DEFAULT 0;
ALTER TABLE tenants ADD COLUMN support_exports_allowed BIGINT NOT NULL DEFAULT 0;
-- (Told of every request besides the owners: the organisation's `security_contact`, when it has one.)

CREATE TABLE support_requests (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    -- The named operator who will look.
    operator TEXT NOT NULL,
    reason TEXT NOT NULL,
    hours BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    -- pending | approved | refused | revoked
    state TEXT NOT NULL,
    decided_by TEXT,
    decided_at BIGINT,
    -- Approved: access ends then (at most 72 hours after the approval).
    until BIGINT,
    allow_vault BIGINT NOT NULL DEFAULT 0,
    allow_exports BIGINT NOT NULL DEFAULT 0,
    -- The one-time sign-in link the operator opens (its SHA-256), and until when it works.
    link_digest TEXT,
    link_expires_at BIGINT
);
CREATE INDEX support_requests_tenant ON support_requests (tenant_id, created_at);
