-- Change lockdowns (at most one in force: ended_at IS NULL), the approval requests e-mailed
-- (one per change, revision and approver, whichever node gets there first) and their outbox.
CREATE TABLE change_lockdowns (
    id          BLOB PRIMARY KEY NOT NULL,
    reason      TEXT NOT NULL,
    started_at  BIGINT NOT NULL,
    started_by  TEXT NOT NULL,
    ended_at    BIGINT,
    ended_by    TEXT
);
CREATE UNIQUE INDEX change_lockdowns_one_active ON change_lockdowns ((ended_at IS NULL)) WHERE ended_at IS NULL;

CREATE TABLE change_approval_requests (
    change_id   BLOB NOT NULL REFERENCES changes (id) ON DELETE CASCADE,
    revision    BIGINT NOT NULL,
    user_id     BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    queued_at   BIGINT NOT NULL,
    PRIMARY KEY (change_id, revision, user_id)
);

CREATE TABLE change_mails (
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
CREATE INDEX change_mails_due ON change_mails (status, next_attempt_at);
