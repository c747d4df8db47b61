-- What "Your sessions" shows: where and with what a session signed in, and when. Copied out of the session
-- data by the store, like account_id and tenant_id.
ALTER TABLE sessions ADD COLUMN ip TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN user_agent TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN authenticated_at BIGINT NOT NULL DEFAULT 0;
CREATE INDEX sessions_tenant ON sessions (tenant_id);
