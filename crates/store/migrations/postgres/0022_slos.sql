-- Service level objectives on monitors: availability over a rolling or calendar-month window.
CREATE TABLE slos (
    id                  UUID PRIMARY KEY NOT NULL,
    name                TEXT NOT NULL,
    description         TEXT NOT NULL,
    service_id          UUID NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    monitor_ids         JSONB NOT NULL,
    target              DOUBLE PRECISION NOT NULL,
    rolling_days        INTEGER,
    time_zone           TEXT,
    exclude_maintenance BOOLEAN NOT NULL,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL
);
CREATE INDEX slos_service ON slos (service_id);
