-- Third-party vendors whose status pages are polled; what the last poll read is kept as JSON
-- (bounded lists). Polls are claimed with leases like monitors.
CREATE TABLE vendors (
    id               BLOB PRIMARY KEY NOT NULL,
    name             TEXT NOT NULL,
    url              TEXT NOT NULL,
    kind             TEXT NOT NULL,
    interval_seconds INTEGER NOT NULL,
    timeout_seconds  INTEGER NOT NULL,
    status           TEXT NOT NULL,
    reason           TEXT,
    description      TEXT NOT NULL,
    components       TEXT NOT NULL,
    incidents        TEXT NOT NULL,
    etag             TEXT,
    last_modified    TEXT,
    checked_at       BIGINT,
    changed_at       BIGINT,
    next_poll_at     BIGINT NOT NULL,
    lease_owner      TEXT,
    lease_until      BIGINT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE UNIQUE INDEX vendors_name ON vendors (name);
CREATE INDEX vendors_due ON vendors (next_poll_at);
