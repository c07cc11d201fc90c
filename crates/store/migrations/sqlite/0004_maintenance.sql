-- Maintenance windows, and the failures seen during maintenance (so availability can be
-- reported both with and without maintenance time).
CREATE TABLE maintenance_windows (
    id               BLOB PRIMARY KEY NOT NULL,
    name             TEXT NOT NULL,
    description      TEXT NOT NULL,
    starts_at        BIGINT NOT NULL,
    duration_minutes INTEGER NOT NULL,
    rrule            TEXT,
    timezone         TEXT NOT NULL,
    service_ids      TEXT NOT NULL,
    monitor_ids      TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX maintenance_windows_start ON maintenance_windows (starts_at);

ALTER TABLE check_rollups ADD COLUMN maint_failures INTEGER NOT NULL DEFAULT 0;
