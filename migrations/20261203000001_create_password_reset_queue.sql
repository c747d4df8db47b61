-- Password-reset requests wait here for the worker that sends the link, so the request path does the same
-- work whether or not the email belongs to an account. One row per address (keyed by an HMAC of the
-- normalised email): requests within 15 minutes of the last email fold into it. The address is cleared once
-- the request is handled; rows of unknown addresses are deleted then.
CREATE TABLE password_reset_queue (
    email_hash    TEXT PRIMARY KEY,
    email         TEXT NOT NULL,
    pending       BIGINT NOT NULL,
    requested_at  BIGINT NOT NULL,
    ip            TEXT NOT NULL,
    user_agent    TEXT NOT NULL,
    last_sent_at  BIGINT
);
CREATE INDEX password_reset_queue_pending ON password_reset_queue (pending);

-- Reset requests per client address (IPv6 by /64) in fixed windows, shared by every instance.
CREATE TABLE password_reset_ips (
    ip_key        TEXT PRIMARY KEY,
    window_start  BIGINT NOT NULL,
    count         BIGINT NOT NULL
);
