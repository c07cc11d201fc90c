-- Mail to the desk: every message read from the mailbox once (by Message-ID and sender, so a
-- message read again after a crash is skipped), with what became of it; and files attached to tickets.
CREATE TABLE ticket_mail_in (
    message_id   TEXT NOT NULL,
    received_at  BIGINT NOT NULL,
    sender       TEXT NOT NULL,
    subject      TEXT NOT NULL,
    -- created, replied, noted or refused.
    outcome      TEXT NOT NULL,
    ticket_id    UUID REFERENCES tickets (id) ON DELETE SET NULL,
    detail       TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (message_id, sender)
);
CREATE INDEX ticket_mail_in_received ON ticket_mail_in (received_at);

CREATE TABLE ticket_attachments (
    id            UUID PRIMARY KEY NOT NULL,
    ticket_id     UUID NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    filename      TEXT NOT NULL,
    content_type  TEXT NOT NULL,
    size          BIGINT NOT NULL,
    data          BYTEA NOT NULL,
    -- From mail by someone other than the requester: agents only, as the note it came with.
    internal      BOOLEAN NOT NULL,
    created_at    BIGINT NOT NULL
);
CREATE INDEX ticket_attachments_ticket ON ticket_attachments (ticket_id, created_at);
