-- Probe agents and check locations. An agent runs the checks of its location and uploads
-- results; each location's newest result per monitor decides the monitor's verdict with its
-- quorum. Monitors without locations run on the nodes only, as before.
CREATE TABLE agents (
    id            BLOB PRIMARY KEY NOT NULL,
    name          TEXT NOT NULL UNIQUE,
    location      TEXT NOT NULL,
    token_hash    TEXT NOT NULL UNIQUE,
    hint          TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    last_seen_at  BIGINT,
    version       TEXT,
    lag_ms        BIGINT,
    results_total BIGINT NOT NULL DEFAULT 0,
    dropped_total BIGINT NOT NULL DEFAULT 0
);
ALTER TABLE monitors ADD COLUMN locations TEXT NOT NULL DEFAULT '[]';
ALTER TABLE monitors ADD COLUMN quorum INTEGER NOT NULL DEFAULT 1;
-- Each location's newest result of a monitor.
CREATE TABLE monitor_locations (
    monitor_id BLOB NOT NULL REFERENCES monitors (id) ON DELETE CASCADE,
    location   TEXT NOT NULL,
    at         BIGINT NOT NULL,
    status     TEXT NOT NULL,
    latency_ms DOUBLE PRECISION,
    reason     TEXT NOT NULL,
    PRIMARY KEY (monitor_id, location)
);
-- Every location's results of the last day, for per-location uptime and latency.
CREATE TABLE location_results (
    monitor_id BLOB NOT NULL REFERENCES monitors (id) ON DELETE CASCADE,
    location   TEXT NOT NULL,
    at         BIGINT NOT NULL,
    status     TEXT NOT NULL,
    latency_ms DOUBLE PRECISION,
    PRIMARY KEY (monitor_id, location, at)
);
