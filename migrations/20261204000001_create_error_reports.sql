-- Internal errors and panics, one row per fingerprint (kind and code location), for the operator:
-- `rampart errors list|show` and the optional daily email. Never a request body, header or secret.
CREATE TABLE error_reports (
    fingerprint TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    location TEXT NOT NULL,
    status BIGINT NOT NULL,
    chain TEXT NOT NULL,
    first_seen BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    occurrences BIGINT NOT NULL,
    request_id TEXT NOT NULL,
    route TEXT NOT NULL,
    tenant_id TEXT,
    version TEXT NOT NULL,
    -- The last daily email that listed it, and the count it listed then.
    emailed_at BIGINT,
    emailed_occurrences BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX error_reports_last_seen ON error_reports (last_seen);
