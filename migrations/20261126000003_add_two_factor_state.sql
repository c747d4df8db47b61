-- Second-factor throttling (NIST SP 800-63B §3.2.2): failures within the current 30 s step, consecutive
-- failures (the factor is suspended at 100 until a reset by email or an admin), and an admin's demand that the
-- account enrolls again at its next sign-in.
ALTER TABLE accounts ADD COLUMN mfa_window_step BIGINT NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN mfa_window_failures BIGINT NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN mfa_consecutive_failures BIGINT NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN must_enroll_two_factor BIGINT NOT NULL DEFAULT 0;
-- Tenant policy: every member must use two-factor authentication.
ALTER TABLE tenants ADD COLUMN require_two_factor BIGINT NOT NULL DEFAULT 0;
