-- SLA warnings and breaches: each open ticket's next instant a clock crosses 75 % or 100 %
-- (`sla_check_at`, kept by every write and by policy changes; the SLA watcher reads the due
-- ones), each warning or breach recorded once, and the ticket e-mail outbox (SLA notices to the
-- assignee and the policy's escalation address, agents' replies to the requester) with the
-- thread (References) a reply keeps.
ALTER TABLE tickets ADD COLUMN sla_check_at BIGINT;
CREATE INDEX tickets_sla_check ON tickets (sla_check_at);
-- The desk's KPIs read the tickets resolved, and count those raised, in a period.
CREATE INDEX tickets_resolved ON tickets (resolved_at);
CREATE INDEX tickets_created ON tickets (created_at);
ALTER TABLE sla_policies ADD COLUMN escalation_email TEXT;

CREATE TABLE ticket_sla_events (
    ticket_id  UUID NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    clock      TEXT NOT NULL,
    kind       TEXT NOT NULL,
    at         BIGINT NOT NULL,
    PRIMARY KEY (ticket_id, clock, kind)
);

CREATE TABLE ticket_mails (
    id              UUID PRIMARY KEY NOT NULL,
    ticket_id       UUID REFERENCES tickets (id) ON DELETE SET NULL,
    recipient       TEXT NOT NULL,
    subject         TEXT NOT NULL,
    html            TEXT NOT NULL,
    body            TEXT NOT NULL,
    thread          TEXT,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    last_error      TEXT,
    sent_at         BIGINT,
    lease_owner     TEXT,
    lease_until     BIGINT,
    created_at      BIGINT NOT NULL
);
CREATE INDEX ticket_mails_due ON ticket_mails (status, next_attempt_at);
