-- Scheduled maintenance on status pages: one row per (page, window occurrence), moving
-- scheduled -> in_progress -> completed on its own, with the updates it posted.
CREATE TABLE status_maintenances (
    id              BLOB PRIMARY KEY NOT NULL,
    page_id         BLOB NOT NULL REFERENCES status_pages (id) ON DELETE CASCADE,
    window_id       BLOB REFERENCES maintenance_windows (id) ON DELETE SET NULL,
    name            TEXT NOT NULL,
    body            TEXT NOT NULL,
    status          TEXT NOT NULL,
    components      TEXT NOT NULL,
    scheduled_for   BIGINT NOT NULL,
    scheduled_until BIGINT NOT NULL,
    reminded_at     BIGINT,
    started_at      BIGINT,
    completed_at    BIGINT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE UNIQUE INDEX status_maintenances_occurrence ON status_maintenances (page_id, window_id, scheduled_for);
CREATE INDEX status_maintenances_open ON status_maintenances (status, scheduled_until);

CREATE TABLE status_maintenance_updates (
    id             BLOB PRIMARY KEY NOT NULL,
    maintenance_id BLOB NOT NULL REFERENCES status_maintenances (id) ON DELETE CASCADE,
    status         TEXT NOT NULL,
    body           TEXT NOT NULL,
    created_at     BIGINT NOT NULL
);
CREATE INDEX status_maintenance_updates_of ON status_maintenance_updates (maintenance_id, created_at);
