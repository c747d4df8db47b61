-- A tenant is one client company. name_key is the lower-cased name, unique so two tenants never look alike.
CREATE TABLE tenants (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    name_key    TEXT NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL
);
