-- The overview's sign-in figures and "your previous sign-in" pick sign-in events by tenant, action and outcome.
-- Without this index SQLite answered them from (tenant_id, outcome, created_at), reading every successful event
-- of the day — REST requests included, tens of thousands on a busy tenant — on every overview.
CREATE INDEX audit_events_tenant_action_outcome ON audit_events (tenant_id, action, outcome, created_at);
