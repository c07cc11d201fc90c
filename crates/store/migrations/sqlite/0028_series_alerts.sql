-- Alerts from a series' forecast: its settings (JSON: capacity and warning, anomalies) and the
-- service it alerts on (a column, so deleting the service ends the alerting), whether each
-- condition alerts now, and the outbox of changes the alert pipeline drains. The outbox does
-- not reference the series, so a series deleted while alerting still resolves.
ALTER TABLE series ADD COLUMN alert TEXT;
ALTER TABLE series ADD COLUMN alert_service_id BLOB REFERENCES services (id) ON DELETE SET NULL;
ALTER TABLE series ADD COLUMN exhaustion_alerting BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE series ADD COLUMN anomaly_alerting BOOLEAN NOT NULL DEFAULT FALSE;
CREATE TABLE series_alerts (
    id            BLOB PRIMARY KEY NOT NULL,
    series_id     BLOB NOT NULL,
    service_id    BLOB NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    kind          TEXT NOT NULL,
    firing        BOOLEAN NOT NULL,
    summary       TEXT NOT NULL,
    details       TEXT NOT NULL,
    at            BIGINT NOT NULL,
    alert_pending BOOLEAN NOT NULL
);
CREATE INDEX series_alerts_pending ON series_alerts (alert_pending, at);
