-- One-time recovery codes: only an HMAC-SHA-256 of each code (under a server key) is stored.
CREATE TABLE recovery_codes (
    id          TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts (id),
    code_hash   TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    used_at     BIGINT,
    UNIQUE (account_id, code_hash)
);
