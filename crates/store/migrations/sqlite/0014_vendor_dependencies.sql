-- Services that depend on a vendor (a component of it, by name, or '' for the whole vendor),
-- and the alert outbox a vendor's change writes for them in the poll's transaction; the ingest
-- pipeline drains it like monitor alerts.
CREATE TABLE vendor_dependencies (
    vendor_id  BLOB NOT NULL REFERENCES vendors (id) ON DELETE CASCADE,
    service_id BLOB NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    component  TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (vendor_id, service_id, component)
);
CREATE INDEX vendor_dependencies_service ON vendor_dependencies (service_id);

CREATE TABLE vendor_alerts (
    id            BLOB PRIMARY KEY NOT NULL,
    vendor_id     BLOB NOT NULL REFERENCES vendors (id) ON DELETE CASCADE,
    service_id    BLOB NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    component     TEXT NOT NULL,
    status        TEXT NOT NULL,
    summary       TEXT NOT NULL,
    at            BIGINT NOT NULL,
    alert_pending BOOLEAN NOT NULL
);
CREATE INDEX vendor_alerts_pending ON vendor_alerts (alert_pending, at);
