-- Outbound webhooks of security events (Standard Webhooks): endpoints, and a durable outbox of deliveries
-- written in the same transaction as the event they carry (`audit::chain::append`), with every attempt kept.
CREATE TABLE webhook_endpoints (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    url TEXT NOT NULL,
    description TEXT NOT NULL,
    -- Comma-separated action families (`sign_in,key,member`), or `*` for all.
    events TEXT NOT NULL,
    enabled BIGINT NOT NULL,
    -- The signing secret (`whsec_…`), sealed under the master key: Rampart signs with it, so it is not hashed.
    secret_sealed TEXT NOT NULL,
    secret_key_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    -- Since when every attempt failed (reset by a success); five days of it disable the endpoint.
    failing_since BIGINT,
    disabled_reason TEXT
);
CREATE INDEX webhook_endpoints_tenant ON webhook_endpoints (tenant_id);

CREATE TABLE webhook_deliveries (
    -- The `webhook-id` header: the same on every retry, so a receiver can de-duplicate.
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    endpoint_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    -- The event's chain sequence: deliveries to one endpoint go out in this order.
    seq BIGINT NOT NULL,
    -- pending | delivered | failed (retries exhausted, or the endpoint gone)
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    done_at BIGINT
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, status, seq);

CREATE TABLE webhook_attempts (
    delivery_id TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    attempted_at BIGINT NOT NULL,
    -- The HTTP status, or 0 when no answer came (refused, timed out, blocked address).
    status BIGINT NOT NULL,
    duration_ms BIGINT NOT NULL,
    -- The answer's first 1 KiB, or why there was none.
    response TEXT NOT NULL
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, attempted_at);
