-- SLO burn-rate alerts: the urgency an SLO alerts at now (`page`, `ticket`, or NULL), and the
-- outbox of changes the alert pipeline drains (trigger at an urgency, or resolve: `none`).
ALTER TABLE slos ADD COLUMN alerting TEXT;
CREATE TABLE slo_alerts (
    id            UUID PRIMARY KEY NOT NULL,
    slo_id        UUID NOT NULL REFERENCES slos (id) ON DELETE CASCADE,
    service_id    UUID NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    urgency       TEXT NOT NULL,
    summary       TEXT NOT NULL,
    at            BIGINT NOT NULL,
    alert_pending BOOLEAN NOT NULL
);
CREATE INDEX slo_alerts_pending ON slo_alerts (alert_pending, at);
