-- Public incidents: what a status page tells visitors about an internal incident, and the
-- updates responders post. While unresolved, an incident gives the components it names a status.
CREATE TABLE status_incidents (
    id            UUID PRIMARY KEY NOT NULL,
    page_id       UUID NOT NULL REFERENCES status_pages (id) ON DELETE CASCADE,
    incident_id   UUID REFERENCES incidents (id) ON DELETE SET NULL,
    name          TEXT NOT NULL,
    status        TEXT NOT NULL,
    impact        TEXT NOT NULL,
    components    JSONB NOT NULL,
    started_at    BIGINT NOT NULL,
    monitoring_at BIGINT,
    resolved_at   BIGINT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE UNIQUE INDEX status_incidents_link ON status_incidents (incident_id, page_id);
CREATE INDEX status_incidents_page ON status_incidents (page_id, created_at);

CREATE TABLE status_incident_updates (
    id                 UUID PRIMARY KEY NOT NULL,
    status_incident_id UUID NOT NULL REFERENCES status_incidents (id) ON DELETE CASCADE,
    status             TEXT NOT NULL,
    body               TEXT NOT NULL,
    affected           JSONB NOT NULL,
    created_at         BIGINT NOT NULL
);
CREATE INDEX status_incident_updates_incident ON status_incident_updates (status_incident_id, created_at);
