-- Closing a tenant ("erase us"): an owner asks, a 14-day cooling-off follows (only the owner's cancel works
-- meanwhile), then a job deletes every row of the tenant. closure_requested_by is the owner's membership id.
ALTER TABLE tenants ADD COLUMN closure_requested_at BIGINT;
ALTER TABLE tenants ADD COLUMN closure_requested_by TEXT;
ALTER TABLE tenants ADD COLUMN closes_at BIGINT;
CREATE INDEX tenants_closes_at ON tenants (closes_at);
