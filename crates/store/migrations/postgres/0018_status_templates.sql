-- Incident templates: a page's prepared public updates (title, status, text, component
-- statuses) a responder starts from.
CREATE TABLE status_templates (
    id         UUID PRIMARY KEY NOT NULL,
    page_id    UUID NOT NULL REFERENCES status_pages (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    title      TEXT NOT NULL,
    status     TEXT NOT NULL,
    body       TEXT NOT NULL,
    components JSONB NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX status_templates_name ON status_templates (page_id, name);
