-- The encrypted vault. Each tenant has data keys (AES-256-GCM), stored only wrapped by a key derived from the
-- server master key (wrap_key_id names which master). One version is active; a rotation adds the next version,
-- re-encrypts every blob in the background and then deletes the retired key. Destroying a tenant's rows here
-- makes every leftover ciphertext of that tenant unreadable (crypto-shredding).
CREATE TABLE vault_data_keys (
    tenant_id    TEXT NOT NULL,
    version      BIGINT NOT NULL,
    wrapped      TEXT NOT NULL,
    wrap_key_id  TEXT NOT NULL,
    state        TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, version)
);

-- A file by its logical path (folder/name); the path never reaches the filesystem, blobs are named by id.
-- deleted_at marks a soft delete, restorable until the purge. size and updated_at mirror the current version.
CREATE TABLE vault_objects (
    id                  TEXT PRIMARY KEY,
    tenant_id           TEXT NOT NULL,
    path                TEXT NOT NULL,
    folder              TEXT NOT NULL,
    name                TEXT NOT NULL,
    name_key            TEXT NOT NULL,
    current_version_id  TEXT NOT NULL,
    size                BIGINT NOT NULL,
    versions            BIGINT NOT NULL,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    deleted_at          BIGINT,
    deleted_by          TEXT
);
CREATE UNIQUE INDEX vault_objects_path ON vault_objects (tenant_id, path);
CREATE INDEX vault_objects_folder ON vault_objects (tenant_id, folder, name_key);
CREATE INDEX vault_objects_deleted ON vault_objects (deleted_at);

-- Every stored body of an object, numbered from 1. blob names the ciphertext in the store; key_version the
-- tenant data key it is encrypted under; sha256 is of the plaintext.
CREATE TABLE vault_versions (
    id            TEXT PRIMARY KEY,
    object_id     TEXT NOT NULL,
    tenant_id     TEXT NOT NULL,
    number        BIGINT NOT NULL,
    size          BIGINT NOT NULL,
    sha256        TEXT NOT NULL,
    content_type  TEXT NOT NULL,
    blob          TEXT NOT NULL,
    key_version   BIGINT NOT NULL,
    created_at    BIGINT NOT NULL,
    created_by    TEXT NOT NULL
);
CREATE UNIQUE INDEX vault_versions_number ON vault_versions (object_id, number);
CREATE INDEX vault_versions_tenant_key ON vault_versions (tenant_id, key_version);

-- Ephemeral links to one object (or one version): only the token's digest is stored.
CREATE TABLE vault_links (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL,
    object_id     TEXT NOT NULL,
    version_id    TEXT,
    token_digest  TEXT NOT NULL UNIQUE,
    single_use    BIGINT NOT NULL,
    uses          BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    revoked_at    BIGINT,
    created_at    BIGINT NOT NULL,
    created_by    TEXT NOT NULL
);
CREATE INDEX vault_links_object ON vault_links (tenant_id, object_id);

-- A tenant data key rotation in progress or done: blobs re-encrypted so far out of the total.
CREATE TABLE vault_rotations (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL,
    from_version  BIGINT NOT NULL,
    to_version    BIGINT NOT NULL,
    total         BIGINT NOT NULL,
    done          BIGINT NOT NULL,
    started_at    BIGINT NOT NULL,
    finished_at   BIGINT,
    error         TEXT
);
CREATE INDEX vault_rotations_tenant ON vault_rotations (tenant_id, started_at);
