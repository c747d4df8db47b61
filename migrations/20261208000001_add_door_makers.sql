-- The member who made each way in that works without them: a public vault link, an invitation, a machine
-- enrolment token. Each is an admin's to make, so deactivation, removal, erasure and a demotion below admin end
-- the open ones that member made (`organisation::doors`); a departing admin's invitation would otherwise still
-- make its holder an admin, and their links keep handing out the tenant's files. Made through a key: the key's
-- maker. Rows made before these columns existed are matched by the email they were recorded under.
ALTER TABLE vault_links ADD COLUMN created_membership_id TEXT;
UPDATE vault_links SET created_membership_id = (
    SELECT m.id FROM memberships m JOIN accounts a ON a.id = m.account_id
    WHERE m.tenant_id = vault_links.tenant_id AND a.email = vault_links.created_by
);
CREATE INDEX vault_links_maker ON vault_links (tenant_id, created_membership_id);

ALTER TABLE invitations ADD COLUMN invited_by_membership TEXT;
UPDATE invitations SET invited_by_membership = (
    SELECT m.id FROM memberships m JOIN accounts a ON a.id = m.account_id
    WHERE m.tenant_id = invitations.tenant_id AND a.email = invitations.invited_by
);
CREATE INDEX invitations_maker ON invitations (tenant_id, invited_by_membership);

ALTER TABLE machine_tokens ADD COLUMN created_by_membership TEXT;
UPDATE machine_tokens SET created_by_membership = (
    SELECT m.id FROM memberships m JOIN accounts a ON a.id = m.account_id
    WHERE m.tenant_id = machine_tokens.tenant_id AND a.email = machine_tokens.created_by
);
CREATE INDEX machine_tokens_maker ON machine_tokens (tenant_id, created_by_membership);
