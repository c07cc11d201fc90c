-- Status page subscribers and their outbox. A subscriber names the whole page (no rows in
-- status_subscriber_components) or chosen components. A delivery is one message to one
-- subscriber about one event (a confirmation request or a public incident update); the primary
-- unique (subscriber, event) means nothing is queued twice.
CREATE TABLE status_subscribers (
    id           BLOB PRIMARY KEY NOT NULL,
    page_id      BLOB NOT NULL REFERENCES status_pages (id) ON DELETE CASCADE,
    kind         TEXT NOT NULL,
    address      TEXT NOT NULL,
    confirmed_at BIGINT,
    created_at   BIGINT NOT NULL
);
CREATE UNIQUE INDEX status_subscribers_address ON status_subscribers (page_id, kind, address);

CREATE TABLE status_subscriber_components (
    subscriber_id BLOB NOT NULL REFERENCES status_subscribers (id) ON DELETE CASCADE,
    component_id  BLOB NOT NULL REFERENCES status_page_components (id) ON DELETE CASCADE,
    PRIMARY KEY (subscriber_id, component_id)
);
CREATE INDEX status_subscriber_components_component ON status_subscriber_components (component_id);

CREATE TABLE status_deliveries (
    id              BLOB PRIMARY KEY NOT NULL,
    subscriber_id   BLOB NOT NULL REFERENCES status_subscribers (id) ON DELETE CASCADE,
    event_id        BLOB NOT NULL,
    kind            TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    last_error      TEXT,
    sent_at         BIGINT,
    lease_owner     TEXT,
    lease_until     BIGINT,
    created_at      BIGINT NOT NULL
);
CREATE UNIQUE INDEX status_deliveries_event ON status_deliveries (subscriber_id, event_id);
CREATE INDEX status_deliveries_due ON status_deliveries (status, next_attempt_at);
