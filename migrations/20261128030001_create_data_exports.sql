-- Data exports ("download all our data"): one row per request, the job's state and progress. state is queued,
-- running, ready, failed or expired. blob names the encrypted ZIP in the vault's blob store (under the tenant
-- data key key_version); it is recorded before the first byte is written, so a restart can delete a partial one.
-- Only the requester downloads it: the same account from the console (key_id NULL), the same API key otherwise.
-- heartbeat_at moves while a worker runs it: a running row whose heartbeat stopped is restarted from scratch.
CREATE TABLE data_exports (
    id             TEXT PRIMARY KEY,
    tenant_id      TEXT NOT NULL REFERENCES tenants (id),
    account_id     TEXT NOT NULL,
    key_id         TEXT,
    requested_by   TEXT NOT NULL,
    state          TEXT NOT NULL,
    worker         TEXT,
    blob           TEXT,
    key_version    BIGINT,
    done_entries   BIGINT NOT NULL DEFAULT 0,
    total_entries  BIGINT NOT NULL DEFAULT 0,
    done_bytes     BIGINT NOT NULL DEFAULT 0,
    total_bytes    BIGINT NOT NULL DEFAULT 0,
    size           BIGINT,
    attempts       BIGINT NOT NULL DEFAULT 0,
    error          TEXT,
    created_at     BIGINT NOT NULL,
    started_at     BIGINT,
    heartbeat_at   BIGINT,
    finished_at    BIGINT,
    expires_at     BIGINT
);
CREATE INDEX data_exports_tenant ON data_exports (tenant_id, created_at);
CREATE INDEX data_exports_state ON data_exports (state, created_at);
