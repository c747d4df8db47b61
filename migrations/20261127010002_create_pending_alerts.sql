-- Security alerts waiting for their email: at most one email per recipient and tenant per window; what is
-- raised inside the window goes out as one digest when it ends. Bodies never hold a secret.
CREATE TABLE pending_alerts (
    id             TEXT PRIMARY KEY,
    recipient_key  TEXT NOT NULL,
    recipient      TEXT NOT NULL,
    tenant_id      TEXT NOT NULL,
    tenant_name    TEXT NOT NULL,
    kind           TEXT NOT NULL,
    summary        TEXT NOT NULL,
    body           TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    sent_at        BIGINT
);
CREATE INDEX pending_alerts_due ON pending_alerts (sent_at, recipient_key, tenant_id, created_at);

-- When each recipient last got an alert email about a tenant.
CREATE TABLE alert_windows (
    recipient_key  TEXT NOT NULL,
    tenant_id      TEXT NOT NULL,
    last_sent_at   BIGINT NOT NULL,
    PRIMARY KEY (recipient_key, tenant_id)
);
