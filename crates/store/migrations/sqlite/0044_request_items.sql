-- The portal's request items (a form of typed fields, an optional approver, fulfilment tasks),
-- and on each ticket raised from one: its item, checked answers, approval, tasks; on every
-- ticket, the requester's satisfaction rating.
CREATE TABLE request_items (
    id           BLOB PRIMARY KEY NOT NULL,
    slug         TEXT NOT NULL UNIQUE,
    title        TEXT NOT NULL,
    description  TEXT NOT NULL DEFAULT '',
    category     TEXT NOT NULL,
    fields       TEXT NOT NULL,
    approver_id  BLOB REFERENCES users (id) ON DELETE SET NULL,
    tasks        TEXT NOT NULL,
    impact       INTEGER NOT NULL,
    urgency      INTEGER NOT NULL,
    active       BOOLEAN NOT NULL,
    version      BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);

ALTER TABLE tickets ADD COLUMN request_item_id BLOB REFERENCES request_items (id) ON DELETE SET NULL;
ALTER TABLE tickets ADD COLUMN answers TEXT;
-- none, pending, approved or rejected.
ALTER TABLE tickets ADD COLUMN approval TEXT NOT NULL DEFAULT 'none';
ALTER TABLE tickets ADD COLUMN approver_id BLOB REFERENCES users (id) ON DELETE SET NULL;
ALTER TABLE tickets ADD COLUMN tasks TEXT;
ALTER TABLE tickets ADD COLUMN rating INTEGER;
ALTER TABLE tickets ADD COLUMN rating_comment TEXT NOT NULL DEFAULT '';
ALTER TABLE tickets ADD COLUMN rated_at BIGINT;
CREATE INDEX tickets_rated ON tickets (rated_at);
-- The portal lists a requester's own tickets, newest first.
CREATE INDEX tickets_requester ON tickets (requester_id, number);
CREATE INDEX tickets_approval ON tickets (approval, approver_id) WHERE approval = 'pending';
