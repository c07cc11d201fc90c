-- Contracts with vendors and the CIs they cover; dates as `YYYY-MM-DD` text, cost in cents.
CREATE TABLE contracts (
    id            BLOB PRIMARY KEY NOT NULL,
    name          TEXT NOT NULL,
    vendor        TEXT NOT NULL,
    kind          TEXT NOT NULL,
    number        TEXT,
    start_date    TEXT,
    end_date      TEXT NOT NULL,
    auto_renew    BOOLEAN NOT NULL DEFAULT FALSE,
    notice_days   INTEGER NOT NULL DEFAULT 0,
    -- end_date less notice_days: the day the lifecycle report and reminders look for.
    notice_date   TEXT NOT NULL,
    cost_cents    BIGINT,
    owner_team_id BLOB REFERENCES teams (id) ON DELETE SET NULL,
    notes         TEXT NOT NULL DEFAULT '',
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE INDEX contracts_vendor ON contracts (vendor, name, id);
CREATE INDEX contracts_end_date ON contracts (end_date);
CREATE INDEX contracts_notice_date ON contracts (notice_date);
CREATE TABLE contract_cis (
    contract_id BLOB NOT NULL REFERENCES contracts (id) ON DELETE CASCADE,
    ci_id       BLOB NOT NULL REFERENCES cis (id) ON DELETE CASCADE,
    PRIMARY KEY (contract_id, ci_id)
);
CREATE INDEX contract_cis_ci ON contract_cis (ci_id);

-- Who lifecycle reminders go to and how many days ahead (one row, id 1).
CREATE TABLE lifecycle_reminder_settings (
    id         INTEGER PRIMARY KEY NOT NULL,
    recipients TEXT NOT NULL,
    lead_days  TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
-- The reminders already queued: one per thing, date, day and lead time, so every node may look
-- and each is announced once (a second node's insert conflicts and its digest rolls back).
CREATE TABLE lifecycle_reminders_sent (
    subject_id BLOB NOT NULL,
    event      TEXT NOT NULL,
    due_date   TEXT NOT NULL,
    lead_days  INTEGER NOT NULL,
    queued_at  BIGINT NOT NULL,
    PRIMARY KEY (subject_id, event, due_date, lead_days)
);
CREATE INDEX lifecycle_reminders_sent_due ON lifecycle_reminders_sent (due_date);
-- The reminder digests' e-mail outbox, sent by the notifier with leases and retries.
CREATE TABLE reminder_deliveries (
    id              BLOB PRIMARY KEY NOT NULL,
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
CREATE INDEX reminder_deliveries_due ON reminder_deliveries (status, next_attempt_at);
