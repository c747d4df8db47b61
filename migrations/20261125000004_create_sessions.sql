-- Console sessions. The cookie carries the session id; the table keys on its SHA-256 only, so a leaked copy
-- of the database cannot be replayed as cookies. account_id/tenant_id are copied out of data for listing and
-- revoking; times are epoch milliseconds.
CREATE TABLE sessions (
    id_hash     TEXT PRIMARY KEY,
    account_id  TEXT,
    tenant_id   TEXT,
    data        TEXT NOT NULL,
    expires_at  BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX sessions_account ON sessions (account_id);
CREATE INDEX sessions_expires ON sessions (expires_at);
