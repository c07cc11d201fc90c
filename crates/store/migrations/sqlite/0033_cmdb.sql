-- The CMDB: configuration items and typed, directed relations between them. `search` holds a
-- CI's words (name, identity, class, places, tags, text attributes) for the full-text index.
CREATE TABLE cis (
    id            BLOB PRIMARY KEY NOT NULL,
    name          TEXT NOT NULL,
    class         TEXT NOT NULL,
    status        TEXT NOT NULL,
    attributes    TEXT NOT NULL DEFAULT '{}',
    owner_team_id BLOB REFERENCES teams (id) ON DELETE SET NULL,
    location      TEXT,
    environment   TEXT,
    tags          TEXT NOT NULL DEFAULT '[]',
    identity      TEXT UNIQUE,
    service_id    BLOB UNIQUE REFERENCES services (id) ON DELETE SET NULL,
    min_up        INTEGER,
    description   TEXT NOT NULL DEFAULT '',
    source        TEXT NOT NULL,
    last_seen_at  BIGINT,
    stale         BOOLEAN NOT NULL DEFAULT FALSE,
    search        TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE INDEX cis_name ON cis (name, id);
CREATE INDEX cis_class ON cis (class, name, id);
CREATE INDEX cis_source ON cis (source, last_seen_at);
-- Full text over `search`, kept in step by triggers (rowid is the CI row's rowid).
CREATE VIRTUAL TABLE cis_fts USING fts5 (words, content = '', contentless_delete = 1);
CREATE TRIGGER cis_fts_insert AFTER INSERT ON cis BEGIN
    INSERT INTO cis_fts (rowid, words) VALUES (new.rowid, new.search);
END;
CREATE TRIGGER cis_fts_update AFTER UPDATE OF search ON cis BEGIN
    DELETE FROM cis_fts WHERE rowid = old.rowid;
    INSERT INTO cis_fts (rowid, words) VALUES (new.rowid, new.search);
END;
CREATE TRIGGER cis_fts_delete AFTER DELETE ON cis BEGIN
    DELETE FROM cis_fts WHERE rowid = old.rowid;
END;
-- `origin` is `manual` or the import source that discovered the relation (its last_seen_at
-- tells when that source last listed it).
CREATE TABLE ci_relations (
    id           BLOB PRIMARY KEY NOT NULL,
    source_id    BLOB NOT NULL REFERENCES cis (id) ON DELETE CASCADE,
    target_id    BLOB NOT NULL REFERENCES cis (id) ON DELETE CASCADE,
    kind         TEXT NOT NULL,
    origin       TEXT NOT NULL,
    last_seen_at BIGINT,
    created_at   BIGINT NOT NULL,
    UNIQUE (source_id, target_id, kind)
);
CREATE INDEX ci_relations_target ON ci_relations (target_id, kind);
ALTER TABLE monitors ADD COLUMN ci_id BLOB REFERENCES cis (id) ON DELETE SET NULL;
CREATE INDEX monitors_ci ON monitors (ci_id) WHERE ci_id IS NOT NULL;
