-- Service desk tickets (TKT-n, REQ-n share one sequence), their state history (what the SLA
-- clocks replay), replies and internal notes, and the SLA policy of each priority with its
-- business-hours calendar. Times are epoch ms.
CREATE TABLE tickets (
    id                 UUID PRIMARY KEY NOT NULL,
    number             BIGINT NOT NULL UNIQUE,
    kind               TEXT NOT NULL,
    title              TEXT NOT NULL,
    description        TEXT NOT NULL DEFAULT '',
    state              TEXT NOT NULL,
    impact             INTEGER NOT NULL,
    urgency            INTEGER NOT NULL,
    priority           INTEGER NOT NULL,
    requester_email    TEXT,
    requester_id       UUID REFERENCES users (id) ON DELETE SET NULL,
    assignee_id        UUID REFERENCES users (id) ON DELETE SET NULL,
    pending_reason     TEXT NOT NULL DEFAULT '',
    first_response_at  BIGINT,
    resolved_at        BIGINT,
    closed_at          BIGINT,
    version            BIGINT NOT NULL,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL
);
CREATE INDEX tickets_queue ON tickets (state, priority, number);

CREATE TABLE ticket_moves (
    ticket_id   UUID NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    seq         INTEGER NOT NULL,
    at          BIGINT NOT NULL,
    from_state  TEXT NOT NULL,
    to_state    TEXT NOT NULL,
    reason      TEXT NOT NULL DEFAULT '',
    actor       TEXT NOT NULL,
    PRIMARY KEY (ticket_id, seq)
);

CREATE TABLE ticket_replies (
    id          UUID PRIMARY KEY NOT NULL,
    ticket_id   UUID NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    author_id   UUID REFERENCES users (id) ON DELETE SET NULL,
    author      TEXT NOT NULL,
    body        TEXT NOT NULL,
    internal    BOOLEAN NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX ticket_replies_ticket ON ticket_replies (ticket_id, created_at);

CREATE TABLE sla_policies (
    priority                INTEGER PRIMARY KEY NOT NULL,
    first_response_minutes  INTEGER NOT NULL,
    resolution_minutes      INTEGER NOT NULL,
    hours                   TEXT NOT NULL,
    updated_at              BIGINT NOT NULL
);

INSERT INTO revisions (name, value) VALUES ('ticket_number', 0);
