-- An account's TOTP authenticator. The secret is AES-256-GCM encrypted under a key derived from the server
-- master key (key_id says which, so the master key can be rotated); enabled_at stays NULL until the member
-- confirms a first code. last_step is the last accepted time step: a code is accepted only for a later step,
-- through a conditional UPDATE, so one code never works twice (RFC 6238 §5.2).
CREATE TABLE totp_factors (
    account_id  TEXT PRIMARY KEY REFERENCES accounts (id),
    secret_enc  TEXT NOT NULL,
    key_id      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    enabled_at  BIGINT,
    last_step   BIGINT NOT NULL DEFAULT 0
);
