-- The access history: append-only (the code has no UPDATE or DELETE on it). tenant_id is NULL for attempts
-- that match no account. actor is an account email or a masked attempted email; ids are UUIDv7 (time-ordered).
CREATE TABLE audit_events (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT,
    account_id  TEXT,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    ip          TEXT NOT NULL,
    user_agent  TEXT NOT NULL,
    detail      TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX audit_events_tenant_time ON audit_events (tenant_id, created_at, id);
CREATE INDEX audit_events_account_time ON audit_events (account_id, action, created_at);
