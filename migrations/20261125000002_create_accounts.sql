-- Accounts are global: one email, one password. email_key (trimmed, lower-cased) is unique, so emails are
-- unique case-insensitively on both engines. password_hash is a PHC argon2id string, NULL until set.
CREATE TABLE accounts (
    id               TEXT PRIMARY KEY,
    email            TEXT NOT NULL,
    email_key        TEXT NOT NULL UNIQUE,
    password_hash    TEXT,
    password_set_at  BIGINT,
    created_at       BIGINT NOT NULL
);
