-- Single-use links (setup, later invitations and resets): only the SHA-256 of the token is stored.
CREATE TABLE account_tokens (
    token_hash  TEXT PRIMARY KEY,
    purpose     TEXT NOT NULL,
    account_id  TEXT NOT NULL REFERENCES accounts (id),
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT
);
CREATE INDEX account_tokens_account ON account_tokens (account_id);
