-- SLO alert changes outlive their SLO: deleting an SLO while it alerts queues the resolve, which
-- the pipeline must still find. SQLite drops a foreign key by rebuilding the table.
CREATE TABLE slo_alerts_new (
    id            BLOB PRIMARY KEY NOT NULL,
    slo_id        BLOB NOT NULL,
    service_id    BLOB NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    urgency       TEXT NOT NULL,
    summary       TEXT NOT NULL,
    at            BIGINT NOT NULL,
    alert_pending BOOLEAN NOT NULL
);
INSERT INTO slo_alerts_new (id, slo_id, service_id, urgency, summary, at, alert_pending)
    SELECT id, slo_id, service_id, urgency, summary, at, alert_pending FROM slo_alerts;
DROP TABLE slo_alerts;
ALTER TABLE slo_alerts_new RENAME TO slo_alerts;
CREATE INDEX slo_alerts_pending ON slo_alerts (alert_pending, at);
