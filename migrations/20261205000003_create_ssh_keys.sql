-- SSH keys of members: pasted, or synced from the member's GitHub account (`ssh_github_links`).
CREATE TABLE ssh_github_links (
    membership_id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    github_user TEXT NOT NULL,
    -- GitHub's numeric user id, learnt at the first sync: a name that comes to mean another account is noticed.
    github_user_id BIGINT,
    etag TEXT,
    linked_at BIGINT NOT NULL,
    last_attempt_at BIGINT,
    last_success_at BIGINT,
    last_error TEXT,
    -- Set once the last good sync is older than the stale limit (recorded once as ssh_key.stale).
    stale_noted BIGINT NOT NULL DEFAULT 0,
    next_sync_at BIGINT NOT NULL
);
CREATE INDEX ssh_github_links_tenant ON ssh_github_links (tenant_id);
CREATE INDEX ssh_github_links_due ON ssh_github_links (next_sync_at);

CREATE TABLE ssh_keys (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    membership_id TEXT NOT NULL,
    -- github | pasted
    source TEXT NOT NULL,
    github_key_id BIGINT,
    key_type TEXT NOT NULL,
    bits BIGINT NOT NULL,
    fingerprint TEXT NOT NULL,
    public_key TEXT NOT NULL,
    comment TEXT NOT NULL,
    -- active | disabled (breaks the tenant's key policy) | revoked (gone from GitHub)
    state TEXT NOT NULL,
    state_reason TEXT,
    first_seen_at BIGINT NOT NULL,
    last_synced_at BIGINT,
    last_used_at BIGINT,
    UNIQUE (membership_id, fingerprint)
);
CREATE INDEX ssh_keys_tenant ON ssh_keys (tenant_id);

ALTER TABLE tenants ADD COLUMN ssh_key_policy TEXT NOT NULL DEFAULT 'standard';
