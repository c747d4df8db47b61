-- Four-eyes approval: an organisation may require a second admin's approval for its riskiest acts. A request
-- waits here (who, what, why) until another admin approves it (the act runs then) or refuses it, its requester
-- cancels it, or 24 hours pass.
ALTER TABLE tenants ADD COLUMN four_eyes BIGINT NOT NULL DEFAULT 0;

CREATE TABLE approvals (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    -- The act and its parameters (JSON, `approvals::Act`).
    act TEXT NOT NULL,
    -- The act in words, as the page and the access history show it.
    summary TEXT NOT NULL,
    reason TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    requester_membership_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    -- pending | approved | refused | cancelled | failed (approved, but the act could not run)
    state TEXT NOT NULL,
    decided_by TEXT,
    decider_membership_id TEXT,
    decided_at BIGINT,
    -- What running the act said, or why it could not run.
    outcome TEXT,
    -- An approved master key's secret, sealed, until its requester takes it (once).
    secret_sealed TEXT,
    secret_key_id TEXT
);
CREATE INDEX approvals_tenant ON approvals (tenant_id, state, created_at);
