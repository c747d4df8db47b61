-- Per-feature grants of a member (comma-separated names: team, api_keys, ssh_keys, vault_read, vault_write,
-- access_history, export, settings) and deactivation (offboarding keeps the membership for the record).
ALTER TABLE memberships ADD COLUMN grants TEXT NOT NULL DEFAULT '';
ALTER TABLE memberships ADD COLUMN deactivated_at BIGINT;
