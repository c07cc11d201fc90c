-- Imports from other tools. `import_links` ties each object a source has (by the source's id,
-- per instance of that source) to the Opsdeck object it became, with a digest of the item as
-- imported: a re-run updates only what changed at the source and creates nothing twice.
CREATE TABLE import_links (
    source      TEXT NOT NULL,
    instance    TEXT NOT NULL,
    kind        TEXT NOT NULL,
    source_id   TEXT NOT NULL,
    object_id   BLOB NOT NULL,
    digest      TEXT NOT NULL,
    imported_at BIGINT NOT NULL,
    PRIMARY KEY (source, instance, kind, source_id)
);

-- Each run: what was read (`bundle`, kept so a plan can be applied without reading the source
-- again), its plan and, once applied, its report (JSON documents).
CREATE TABLE imports (
    id          BLOB PRIMARY KEY NOT NULL,
    source      TEXT NOT NULL,
    instance    TEXT NOT NULL,
    status      TEXT NOT NULL,
    bundle      TEXT NOT NULL,
    report      TEXT NOT NULL,
    actor       TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX imports_created ON imports (created_at);
-- One run of a source instance applies at a time (two would write the same objects twice).
CREATE UNIQUE INDEX imports_one_applying ON imports (source, instance) WHERE status = 'applying';
