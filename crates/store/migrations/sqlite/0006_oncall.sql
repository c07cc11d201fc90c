-- On-call: schedules (layers as JSON, overrides as rows), escalation policies and the policy of
-- each service, people's contact methods and notification rules, broadcast channels, and the two
-- durable work queues: escalation timers and the notification outbox.

CREATE TABLE schedules (
    id          BLOB PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    description TEXT NOT NULL,
    timezone    TEXT NOT NULL,
    team_id     BLOB REFERENCES teams (id) ON DELETE SET NULL,
    layers      TEXT NOT NULL,
    feed_token  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX schedules_name ON schedules (name, id);

CREATE TABLE schedule_overrides (
    id          BLOB PRIMARY KEY NOT NULL,
    schedule_id BLOB NOT NULL REFERENCES schedules (id) ON DELETE CASCADE,
    user_id     BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    starts_at   BIGINT NOT NULL,
    ends_at     BIGINT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX schedule_overrides_schedule ON schedule_overrides (schedule_id, ends_at);

CREATE TABLE escalation_policies (
    id          BLOB PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    description TEXT NOT NULL,
    loops       INTEGER NOT NULL,
    levels      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE service_policies (
    service_id BLOB PRIMARY KEY NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    policy_id  BLOB NOT NULL REFERENCES escalation_policies (id) ON DELETE CASCADE
);
CREATE INDEX service_policies_policy ON service_policies (policy_id);

CREATE TABLE contact_methods (
    id         BLOB PRIMARY KEY NOT NULL,
    user_id    BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind       TEXT NOT NULL,
    address    TEXT NOT NULL,
    label      TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX contact_methods_user ON contact_methods (user_id);

CREATE TABLE notification_rules (
    id                BLOB PRIMARY KEY NOT NULL,
    user_id           BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    contact_method_id BLOB NOT NULL REFERENCES contact_methods (id) ON DELETE CASCADE,
    delay_minutes     INTEGER NOT NULL,
    created_at        BIGINT NOT NULL
);
CREATE INDEX notification_rules_user ON notification_rules (user_id);

CREATE TABLE channels (
    id         BLOB PRIMARY KEY NOT NULL,
    name       TEXT NOT NULL,
    kind       TEXT NOT NULL,
    config     TEXT NOT NULL,
    service_id BLOB REFERENCES services (id) ON DELETE CASCADE,
    team_id    BLOB REFERENCES teams (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX channels_service ON channels (service_id);

-- One row per incident that is escalating: the next level fires at next_at. Claimed with leases,
-- so a restart resumes on time and two nodes never fire the same level.
CREATE TABLE escalations (
    incident_id BLOB PRIMARY KEY NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    policy_id   BLOB NOT NULL REFERENCES escalation_policies (id) ON DELETE CASCADE,
    level       INTEGER NOT NULL,
    loop_no     INTEGER NOT NULL,
    next_at     BIGINT NOT NULL,
    lease_owner TEXT,
    lease_until BIGINT,
    created_at  BIGINT NOT NULL
);
CREATE INDEX escalations_due ON escalations (next_at);

-- The outbox: every notification is a row; the idempotency key makes (incident, loop, level,
-- target, contact) unique, so nothing is queued twice.
CREATE TABLE notifications (
    id                BLOB PRIMARY KEY NOT NULL,
    incident_id       BLOB NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    idempotency_key   TEXT NOT NULL UNIQUE,
    level             INTEGER NOT NULL,
    user_id           BLOB REFERENCES users (id) ON DELETE SET NULL,
    contact_method_id BLOB REFERENCES contact_methods (id) ON DELETE SET NULL,
    channel_id        BLOB REFERENCES channels (id) ON DELETE SET NULL,
    channel           TEXT NOT NULL,
    target            TEXT NOT NULL,
    address           TEXT NOT NULL,
    config            TEXT NOT NULL,
    status            TEXT NOT NULL,
    attempts          INTEGER NOT NULL,
    next_attempt_at   BIGINT NOT NULL,
    last_error        TEXT,
    sent_at           BIGINT,
    lease_owner       TEXT,
    lease_until       BIGINT,
    created_at        BIGINT NOT NULL
);
CREATE INDEX notifications_due ON notifications (status, next_attempt_at);
CREATE INDEX notifications_incident ON notifications (incident_id, created_at);
