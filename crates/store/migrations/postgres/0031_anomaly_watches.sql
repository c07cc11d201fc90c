-- Monitors whose latency anomalies alert: the service an alert fires on now (NULL: none), and
-- the outbox of changes the alert pipeline drains. The outbox outlives the watch, so stopping
-- it (or deleting the monitor) while it fires still resolves.
CREATE TABLE anomaly_watches (
    monitor_id          UUID PRIMARY KEY NOT NULL REFERENCES monitors (id) ON DELETE CASCADE,
    alerting_service_id UUID,
    created_at          BIGINT NOT NULL
);
CREATE TABLE anomaly_alerts (
    id            UUID PRIMARY KEY NOT NULL,
    monitor_id    UUID NOT NULL,
    service_id    UUID NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    firing        BOOLEAN NOT NULL,
    summary       TEXT NOT NULL,
    details       TEXT NOT NULL,
    at            BIGINT NOT NULL,
    alert_pending BOOLEAN NOT NULL
);
CREATE INDEX anomaly_alerts_pending ON anomaly_alerts (alert_pending, at);
