-- Monitoring: monitors with their live health and schedule, bounded raw results, rollups with
-- latency histograms (h0..h16 count samples per bucket of core::monitor::BUCKET_BOUNDS_MS),
-- and state-change events.

CREATE TABLE monitors (
    id               UUID PRIMARY KEY NOT NULL,
    name             TEXT NOT NULL,
    service_id       UUID REFERENCES services (id) ON DELETE SET NULL,
    kind             TEXT NOT NULL,
    interval_seconds INTEGER NOT NULL,
    timeout_seconds  INTEGER NOT NULL,
    down_after       INTEGER NOT NULL,
    up_after         INTEGER NOT NULL,
    tags             JSONB NOT NULL,
    settings         JSONB NOT NULL,
    paused           BOOLEAN NOT NULL,
    state            TEXT NOT NULL,
    state_since      BIGINT NOT NULL,
    fail_streak      INTEGER NOT NULL,
    ok_streak        INTEGER NOT NULL,
    ping_token       TEXT UNIQUE,
    next_run_at      BIGINT NOT NULL,
    lease_owner      TEXT,
    lease_until      BIGINT,
    last_check_at    BIGINT,
    last_ping_at     BIGINT,
    ping_started_at  BIGINT,
    last_status      TEXT,
    last_latency_ms  DOUBLE PRECISION,
    last_reason      TEXT,
    last_details     JSONB,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX monitors_due ON monitors (next_run_at);
CREATE INDEX monitors_name ON monitors (name, id);
CREATE INDEX monitors_service ON monitors (service_id);
CREATE INDEX monitors_state ON monitors (state);

CREATE TABLE check_results (
    monitor_id UUID NOT NULL REFERENCES monitors (id) ON DELETE CASCADE,
    at         BIGINT NOT NULL,
    status     TEXT NOT NULL,
    latency_ms DOUBLE PRECISION,
    reason     TEXT NOT NULL,
    PRIMARY KEY (monitor_id, at)
);

CREATE TABLE check_rollups (
    monitor_id  UUID NOT NULL REFERENCES monitors (id) ON DELETE CASCADE,
    resolution  INTEGER NOT NULL,
    bucket      BIGINT NOT NULL,
    total       INTEGER NOT NULL,
    failures    INTEGER NOT NULL,
    degraded    INTEGER NOT NULL,
    maintenance INTEGER NOT NULL,
    latency_sum DOUBLE PRECISION NOT NULL,
    h0 INTEGER NOT NULL, h1 INTEGER NOT NULL, h2 INTEGER NOT NULL, h3 INTEGER NOT NULL,
    h4 INTEGER NOT NULL, h5 INTEGER NOT NULL, h6 INTEGER NOT NULL, h7 INTEGER NOT NULL,
    h8 INTEGER NOT NULL, h9 INTEGER NOT NULL, h10 INTEGER NOT NULL, h11 INTEGER NOT NULL,
    h12 INTEGER NOT NULL, h13 INTEGER NOT NULL, h14 INTEGER NOT NULL, h15 INTEGER NOT NULL,
    h16 INTEGER NOT NULL,
    PRIMARY KEY (monitor_id, resolution, bucket)
);
CREATE INDEX check_rollups_age ON check_rollups (resolution, bucket);

CREATE TABLE monitor_events (
    id         UUID PRIMARY KEY NOT NULL,
    monitor_id UUID NOT NULL REFERENCES monitors (id) ON DELETE CASCADE,
    at         BIGINT NOT NULL,
    from_state TEXT NOT NULL,
    to_state   TEXT NOT NULL,
    reason     TEXT NOT NULL
);
CREATE INDEX monitor_events_monitor ON monitor_events (monitor_id, at);
CREATE INDEX monitor_events_at ON monitor_events (at);

INSERT INTO revisions (name, value) VALUES ('monitors', 0);
