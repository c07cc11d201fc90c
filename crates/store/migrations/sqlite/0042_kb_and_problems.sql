-- Knowledge-base articles (KB-n) and problems (PRB-n) with their links to incidents and
-- tickets. Full text is kept by triggers in FTS5 tables keyed by the row's number, never by
-- rowid: VACUUM may renumber the rowids of tables without an INTEGER PRIMARY KEY.
CREATE TABLE kb_articles (
    id          BLOB PRIMARY KEY NOT NULL,
    number      BIGINT NOT NULL UNIQUE,
    title       TEXT NOT NULL,
    body        TEXT NOT NULL,
    category    TEXT NOT NULL DEFAULT '',
    visibility  TEXT NOT NULL,
    author      TEXT NOT NULL,
    version     BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX kb_articles_category ON kb_articles (category, title);
-- `audience` holds the visibility as a word, so a requester's search filters inside the index
-- (`… AND audience:public`) and ranks only what it may return.
CREATE VIRTUAL TABLE kb_fts USING fts5 (
    title, category, body, audience, tokenize = 'porter unicode61', content = '', contentless_delete = 1
);
CREATE TRIGGER kb_fts_insert AFTER INSERT ON kb_articles BEGIN
    INSERT INTO kb_fts (rowid, title, category, body, audience)
    VALUES (new.number, new.title, new.category, new.body, new.visibility);
END;
CREATE TRIGGER kb_fts_update AFTER UPDATE OF title, category, body, visibility ON kb_articles BEGIN
    DELETE FROM kb_fts WHERE rowid = old.number;
    INSERT INTO kb_fts (rowid, title, category, body, audience)
    VALUES (new.number, new.title, new.category, new.body, new.visibility);
END;
CREATE TRIGGER kb_fts_delete AFTER DELETE ON kb_articles BEGIN
    DELETE FROM kb_fts WHERE rowid = old.number;
END;

CREATE TABLE problems (
    id             BLOB PRIMARY KEY NOT NULL,
    number         BIGINT NOT NULL UNIQUE,
    title          TEXT NOT NULL,
    description    TEXT NOT NULL DEFAULT '',
    root_cause     TEXT NOT NULL DEFAULT '',
    workaround     TEXT NOT NULL DEFAULT '',
    state          TEXT NOT NULL,
    fix_change_id  BLOB REFERENCES changes (id) ON DELETE SET NULL,
    version        BIGINT NOT NULL,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    resolved_at    BIGINT
);
CREATE INDEX problems_state ON problems (state, number);
CREATE INDEX problems_fix ON problems (fix_change_id);
CREATE VIRTUAL TABLE problems_fts USING fts5 (
    title, root_cause, workaround, tokenize = 'porter unicode61', content = '', contentless_delete = 1
);
CREATE TRIGGER problems_fts_insert AFTER INSERT ON problems BEGIN
    INSERT INTO problems_fts (rowid, title, root_cause, workaround)
    VALUES (new.number, new.title, new.root_cause, new.workaround);
END;
CREATE TRIGGER problems_fts_update AFTER UPDATE OF title, root_cause, workaround ON problems BEGIN
    DELETE FROM problems_fts WHERE rowid = old.number;
    INSERT INTO problems_fts (rowid, title, root_cause, workaround)
    VALUES (new.number, new.title, new.root_cause, new.workaround);
END;
CREATE TRIGGER problems_fts_delete AFTER DELETE ON problems BEGIN
    DELETE FROM problems_fts WHERE rowid = old.number;
END;

CREATE TABLE problem_incidents (
    problem_id   BLOB NOT NULL REFERENCES problems (id) ON DELETE CASCADE,
    incident_id  BLOB NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    PRIMARY KEY (problem_id, incident_id)
);
CREATE INDEX problem_incidents_incident ON problem_incidents (incident_id);
CREATE TABLE problem_tickets (
    problem_id  BLOB NOT NULL REFERENCES problems (id) ON DELETE CASCADE,
    ticket_id   BLOB NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    PRIMARY KEY (problem_id, ticket_id)
);
CREATE INDEX problem_tickets_ticket ON problem_tickets (ticket_id);

INSERT INTO revisions (name, value) VALUES ('kb_number', 0);
INSERT INTO revisions (name, value) VALUES ('problem_number', 0);
