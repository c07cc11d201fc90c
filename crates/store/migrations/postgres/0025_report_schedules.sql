-- Scheduled operations reports: who gets which report how often, the last period queued (its
-- label and start; a compare-and-set on the start and on `version` queues each period's e-mails
-- once and never an older period, whichever node gets there first), and the e-mail outbox the
-- notifier sends with leases and retries.
CREATE TABLE report_schedules (
    id          UUID PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    cadence     TEXT NOT NULL,
    recipients  JSONB NOT NULL,
    service_id  UUID REFERENCES services (id) ON DELETE CASCADE,
    last_period TEXT NOT NULL,
    last_period_start BIGINT NOT NULL,
    version     BIGINT NOT NULL,
    last_sent_at BIGINT,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE report_deliveries (
    id              UUID PRIMARY KEY NOT NULL,
    schedule_id     UUID NOT NULL REFERENCES report_schedules (id) ON DELETE CASCADE,
    period          TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    subject         TEXT NOT NULL,
    html            TEXT NOT NULL,
    body            TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    last_error      TEXT,
    sent_at         BIGINT,
    lease_owner     TEXT,
    lease_until     BIGINT,
    created_at      BIGINT NOT NULL
);
CREATE UNIQUE INDEX report_deliveries_once ON report_deliveries (schedule_id, period, recipient);
CREATE INDEX report_deliveries_due ON report_deliveries (status, next_attempt_at);
