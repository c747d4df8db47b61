-- Every REST request is an access-history event, so under load nearly every row written is an `api.request`:
-- no account, a key, success. Each index entry costs the writer a B-tree descent and, per commit, a page: ten
-- indexes made SQLite's writer a third of the server's CPU on `GET /api/v1/members` (perf). The indexes that
-- such an event cannot be found by are now partial, so it is written to six (the id, tenant and time, chain,
-- key, IP, action) instead of ten. Every filter keeps an index that ends in (created_at, id).
--
-- The member filters and the per-account look-ups compare account_id with `=`, which implies it is not NULL,
-- so both SQLite and PostgreSQL use these partial indexes for them.
DROP INDEX IF EXISTS audit_events_account_time;
CREATE INDEX audit_events_account_time ON audit_events (account_id, action, created_at) WHERE account_id IS NOT NULL;
DROP INDEX IF EXISTS audit_events_tenant_account;
CREATE INDEX audit_events_tenant_account ON audit_events (tenant_id, account_id, created_at, id)
    WHERE account_id IS NOT NULL;
-- The key filter compares key_id with `=` likewise; sign-ins and console acts carry no key.
DROP INDEX IF EXISTS audit_events_key_time;
CREATE INDEX audit_events_key_time ON audit_events (key_id, created_at, id) WHERE key_id IS NOT NULL;
-- The outcome filter exists to find the failures among millions of accepted requests; the history query names
-- the outcome as a literal, so `outcome = 'failure'` matches this index. Successes are most events: their
-- filter walks the tenant's newest events, as the unfiltered page does.
DROP INDEX IF EXISTS audit_events_tenant_outcome;
CREATE INDEX audit_events_tenant_failures ON audit_events (tenant_id, created_at, id) WHERE outcome = 'failure';
-- The overview's sign-in figures now read the action index (tenant, action, time): a day's sign-ins, not its
-- REST requests, since that index leads with the action.
DROP INDEX IF EXISTS audit_events_tenant_action_outcome;
