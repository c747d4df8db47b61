-- Counting one kind of event in a time window (the overview's sign-ins of the last 24 hours) must not scan
-- every event of the window: API requests alone can add thousands per second.
CREATE INDEX audit_events_tenant_action_time ON audit_events (tenant_id, action, created_at);
