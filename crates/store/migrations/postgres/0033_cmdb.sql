-- The CMDB: configuration items and typed, directed relations between them. `search` holds a
-- CI's words (name, identity, class, places, tags, text attributes) for the full-text index.
CREATE TABLE cis (
    id            UUID PRIMARY KEY NOT NULL,
    name          TEXT NOT NULL,
    class         TEXT NOT NULL,
    status        TEXT NOT NULL,
    attributes    JSONB NOT NULL DEFAULT '{}'::jsonb,
    owner_team_id UUID REFERENCES teams (id) ON DELETE SET NULL,
    location      TEXT,
    environment   TEXT,
    tags          JSONB NOT NULL DEFAULT '[]'::jsonb,
    identity      TEXT UNIQUE,
    service_id    UUID UNIQUE REFERENCES services (id) ON DELETE SET NULL,
    min_up        INTEGER,
    description   TEXT NOT NULL DEFAULT '',
    source        TEXT NOT NULL,
    last_seen_at  BIGINT,
    stale         BOOLEAN NOT NULL DEFAULT FALSE,
    search        TEXT NOT NULL,
    search_vector TSVECTOR GENERATED ALWAYS AS (to_tsvector('simple', search)) STORED,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE INDEX cis_name ON cis (name, id);
CREATE INDEX cis_class ON cis (class, name, id);
CREATE INDEX cis_source ON cis (source, last_seen_at);
CREATE INDEX cis_search ON cis USING GIN (search_vector);
-- `origin` is `manual` or the import source that discovered the relation (its last_seen_at
-- tells when that source last listed it).
CREATE TABLE ci_relations (
    id           UUID PRIMARY KEY NOT NULL,
    source_id    UUID NOT NULL REFERENCES cis (id) ON DELETE CASCADE,
    target_id    UUID NOT NULL REFERENCES cis (id) ON DELETE CASCADE,
    kind         TEXT NOT NULL,
    origin       TEXT NOT NULL,
    last_seen_at BIGINT,
    created_at   BIGINT NOT NULL,
    UNIQUE (source_id, target_id, kind)
);
CREATE INDEX ci_relations_target ON ci_relations (target_id, kind);
ALTER TABLE monitors ADD COLUMN ci_id UUID REFERENCES cis (id) ON DELETE SET NULL;
CREATE INDEX monitors_ci ON monitors (ci_id) WHERE ci_id IS NOT NULL;
