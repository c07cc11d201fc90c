-- Revision counters: a write bumps its area's counter in the same transaction, so any node can
-- tell with one indexed read whether a cached rendering of that area is still current.
CREATE TABLE revisions (
    name  TEXT PRIMARY KEY NOT NULL,
    value BIGINT NOT NULL
);
INSERT INTO revisions (name, value) VALUES ('catalogue', 0);
