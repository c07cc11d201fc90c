-- Escalation rounds: every (re)start of an incident's escalation (declared, reopened, snooze
-- ended, escalated after the policy ran out) is a new round, and the round is part of each
-- notification's idempotency key, so a restart pages again while a retry of a round never does.
ALTER TABLE incidents ADD COLUMN escalation_round INTEGER NOT NULL DEFAULT 0;
ALTER TABLE escalations ADD COLUMN round INTEGER NOT NULL DEFAULT 0;

-- A person's calendar feed token is an HMAC of their id and this epoch; "new link" bumps it.
ALTER TABLE users ADD COLUMN feed_epoch INTEGER NOT NULL DEFAULT 0;

-- Monitor alerts leave through an outbox: a state change and its pending alert commit together,
-- and the alert pipeline drains them in order, so a full ingest queue or a restart loses none.
ALTER TABLE monitor_events ADD COLUMN alert_pending BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX monitor_events_alert_pending ON monitor_events (id) WHERE alert_pending;

-- Named leases for work one node at a time does (draining the monitor alert outbox in order).
CREATE TABLE worker_leases (
    name        TEXT PRIMARY KEY NOT NULL,
    owner       TEXT NOT NULL,
    lease_until BIGINT NOT NULL
);

-- Sessions also end after a stretch without use (the idle timeout); sessions from before keep
-- working until their next use sets it.
ALTER TABLE sessions ADD COLUMN idle_until BIGINT NOT NULL DEFAULT 9223372036854775807;
