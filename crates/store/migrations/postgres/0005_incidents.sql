-- Alerts and incidents: integrations (one secret key each, stored as a digest), per-service
-- alert settings, alerts deduplicated by (dedup_key, scope) while open, incidents with their
-- timeline, responders and services, change events, postmortems and action items.

CREATE TABLE integrations (
    id            UUID PRIMARY KEY NOT NULL,
    service_id    UUID NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    kind          TEXT NOT NULL,
    name          TEXT NOT NULL,
    key_hash      TEXT NOT NULL UNIQUE,
    key_hint      TEXT NOT NULL,
    mapping       JSONB NOT NULL,
    last_event_at BIGINT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE INDEX integrations_service ON integrations (service_id);

CREATE TABLE service_alert_settings (
    service_id           UUID PRIMARY KEY NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    grouping             TEXT NOT NULL,
    group_window_seconds INTEGER NOT NULL,
    auto_resolve         BOOLEAN NOT NULL,
    rules                JSONB NOT NULL,
    updated_at           BIGINT NOT NULL
);

CREATE TABLE incidents (
    id              UUID PRIMARY KEY NOT NULL,
    number          BIGINT NOT NULL UNIQUE,
    title           TEXT NOT NULL,
    description     TEXT NOT NULL,
    status          TEXT NOT NULL,
    severity        TEXT NOT NULL,
    service_id      UUID REFERENCES services (id) ON DELETE SET NULL,
    group_key       TEXT,
    source          TEXT NOT NULL,
    assignee_id     UUID REFERENCES users (id) ON DELETE SET NULL,
    commander_id    UUID REFERENCES users (id) ON DELETE SET NULL,
    alert_count     BIGINT NOT NULL,
    open_alerts     BIGINT NOT NULL,
    impact_start_at BIGINT NOT NULL,
    detected_at     BIGINT NOT NULL,
    acknowledged_at BIGINT,
    mitigated_at    BIGINT,
    resolved_at     BIGINT,
    snoozed_until   BIGINT,
    merged_into     UUID,
    last_alert_at   BIGINT NOT NULL,
    -- When the timeline last noted alerts joining (notes are at most one a minute in a storm).
    joined_noted_at BIGINT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX incidents_created ON incidents (created_at, id);
CREATE INDEX incidents_open ON incidents (service_id, status, last_alert_at);
CREATE INDEX incidents_snoozed ON incidents (snoozed_until) WHERE snoozed_until IS NOT NULL;

CREATE TABLE incident_services (
    incident_id UUID NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    service_id  UUID NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    PRIMARY KEY (incident_id, service_id)
);
CREATE INDEX incident_services_service ON incident_services (service_id);

CREATE TABLE incident_responders (
    incident_id UUID NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    user_id     UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    added_at    BIGINT NOT NULL,
    PRIMARY KEY (incident_id, user_id)
);

CREATE TABLE incident_timeline (
    id          UUID PRIMARY KEY NOT NULL,
    incident_id UUID NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    at          BIGINT NOT NULL,
    kind        TEXT NOT NULL,
    actor       TEXT NOT NULL,
    body        TEXT NOT NULL,
    data        JSONB
);
CREATE INDEX incident_timeline_incident ON incident_timeline (incident_id, at, id);

CREATE TABLE alerts (
    id              UUID PRIMARY KEY NOT NULL,
    scope           TEXT NOT NULL,
    integration_id  UUID REFERENCES integrations (id) ON DELETE SET NULL,
    service_id      UUID REFERENCES services (id) ON DELETE SET NULL,
    incident_id     UUID REFERENCES incidents (id) ON DELETE SET NULL,
    dedup_key       TEXT NOT NULL,
    group_key       TEXT,
    source_type     TEXT NOT NULL,
    source          TEXT NOT NULL,
    severity        TEXT NOT NULL,
    summary         TEXT NOT NULL,
    details         JSONB NOT NULL,
    links           JSONB NOT NULL,
    labels          JSONB NOT NULL,
    status          TEXT NOT NULL,
    count           BIGINT NOT NULL,
    first_seen      BIGINT NOT NULL,
    last_seen       BIGINT NOT NULL,
    started_at      BIGINT,
    acknowledged_at BIGINT,
    resolved_at     BIGINT,
    expires_at      BIGINT
);
-- PagerDuty semantics: a key deduplicates only against the open alert of the same scope
-- (integration); once resolved, the key may open a new alert.
CREATE UNIQUE INDEX alerts_open_key ON alerts (dedup_key, scope) WHERE status <> 'resolved';
CREATE INDEX alerts_incident ON alerts (incident_id, status);
CREATE INDEX alerts_service ON alerts (service_id, first_seen);
CREATE INDEX alerts_first_seen ON alerts (first_seen, id);
CREATE INDEX alerts_expiry ON alerts (expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE change_events (
    id             UUID PRIMARY KEY NOT NULL,
    service_id     UUID NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    integration_id UUID REFERENCES integrations (id) ON DELETE SET NULL,
    at             BIGINT NOT NULL,
    summary        TEXT NOT NULL,
    source         TEXT NOT NULL,
    details        JSONB NOT NULL,
    links          JSONB NOT NULL
);
CREATE INDEX change_events_service ON change_events (service_id, at);

CREATE TABLE postmortems (
    incident_id          UUID PRIMARY KEY NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    summary              TEXT NOT NULL,
    impact               TEXT NOT NULL,
    root_cause           TEXT NOT NULL,
    contributing_factors TEXT NOT NULL,
    timeline             TEXT NOT NULL,
    lessons              TEXT NOT NULL,
    author               TEXT NOT NULL,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL
);

CREATE TABLE action_items (
    id          UUID PRIMARY KEY NOT NULL,
    incident_id UUID NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    title       TEXT NOT NULL,
    owner_id    UUID REFERENCES users (id) ON DELETE SET NULL,
    due_date    TEXT,
    status      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX action_items_incident ON action_items (incident_id);
CREATE INDEX action_items_open ON action_items (status, due_date);

INSERT INTO revisions (name, value) VALUES ('incident_number', 0);
INSERT INTO revisions (name, value) VALUES ('integrations', 0);
