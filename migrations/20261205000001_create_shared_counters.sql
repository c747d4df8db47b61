-- Counters every instance shares, so that N instances give an attacker no more than one does: failed sign-ins
-- per client address, uses of a key per hour and address, throttles of alert emails. One row per (scope,
-- subject, window); a row past `expires_at` is swept. On PostgreSQL the table is made UNLOGGED at start
-- (`db::migrate`): a counter is not worth a WAL write, and a crash that empties it only restarts the windows.
CREATE TABLE shared_counters (
    scope TEXT NOT NULL,
    subject TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    count BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (scope, subject, window_start)
);
CREATE INDEX shared_counters_expiry ON shared_counters (expires_at);

-- Client addresses (IPv6: their /64) blocked automatically for too many failed sign-ins, for every instance
-- and across restarts.
CREATE TABLE ip_auto_blocks (
    ip TEXT PRIMARY KEY,
    blocked_until BIGINT NOT NULL,
    started_at BIGINT NOT NULL
);
CREATE INDEX ip_auto_blocks_until ON ip_auto_blocks (blocked_until);
