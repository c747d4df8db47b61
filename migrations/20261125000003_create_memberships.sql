-- An account's membership of a tenant, with its role.
CREATE TABLE memberships (
    id             TEXT PRIMARY KEY,
    tenant_id      TEXT NOT NULL REFERENCES tenants (id),
    account_id     TEXT NOT NULL REFERENCES accounts (id),
    role           TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    last_sign_in_at BIGINT,
    UNIQUE (tenant_id, account_id)
);
CREATE INDEX memberships_account ON memberships (account_id);
