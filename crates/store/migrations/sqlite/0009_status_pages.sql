-- Public status pages. A page lists components in up to two levels (a group holds components);
-- a component follows a service and/or monitors, and may be set by hand until an expiry.
CREATE TABLE status_pages (
    id           BLOB PRIMARY KEY NOT NULL,
    slug         TEXT NOT NULL UNIQUE,
    title        TEXT NOT NULL,
    description  TEXT NOT NULL,
    time_zone    TEXT NOT NULL,
    accent_color TEXT,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);

CREATE TABLE status_page_components (
    id                    BLOB PRIMARY KEY NOT NULL,
    page_id               BLOB NOT NULL REFERENCES status_pages (id) ON DELETE CASCADE,
    position              INTEGER NOT NULL,
    name                  TEXT NOT NULL,
    description           TEXT NOT NULL,
    is_group              BOOLEAN NOT NULL,
    group_id              BLOB REFERENCES status_page_components (id) ON DELETE CASCADE,
    service_id            BLOB REFERENCES services (id) ON DELETE SET NULL,
    monitor_ids           TEXT NOT NULL,
    only_show_if_degraded BOOLEAN NOT NULL,
    override_status       TEXT,
    override_until        BIGINT,
    created_at            BIGINT NOT NULL,
    updated_at            BIGINT NOT NULL
);
CREATE INDEX status_page_components_page ON status_page_components (page_id, position);

INSERT INTO revisions (name, value) VALUES ('status_pages', 0);
