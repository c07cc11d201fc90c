-- Custom attribute definitions per CI class: a typed, labelled attribute, perhaps required.
-- `choices` (enum) is a JSON array; `ref_class` (reference) the class the referred CI must have.
CREATE TABLE ci_attribute_defs (
    id         UUID PRIMARY KEY NOT NULL,
    class      TEXT NOT NULL,
    key        TEXT NOT NULL,
    label      TEXT NOT NULL,
    kind       TEXT NOT NULL,
    required   BOOLEAN NOT NULL DEFAULT FALSE,
    choices    JSONB NOT NULL,
    ref_class  TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (class, key)
);
