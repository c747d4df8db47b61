-- The backups that completed (scheduled or from the CLI): their age is on /readyz and in `rampart status`.
CREATE TABLE backup_runs (
    id TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL,
    dir TEXT NOT NULL,
    files BIGINT NOT NULL,
    bytes BIGINT NOT NULL
);
CREATE INDEX backup_runs_created ON backup_runs (created_at);
