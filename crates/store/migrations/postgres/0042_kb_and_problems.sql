-- Knowledge-base articles (KB-n) and problems (PRB-n) with their links to incidents and
-- tickets. Full text is a generated, weighted tsvector (English stemming, title first).
CREATE TABLE kb_articles (
    id          UUID PRIMARY KEY NOT NULL,
    number      BIGINT NOT NULL UNIQUE,
    title       TEXT NOT NULL,
    body        TEXT NOT NULL,
    category    TEXT NOT NULL DEFAULT '',
    visibility  TEXT NOT NULL,
    author      TEXT NOT NULL,
    version     BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    search_vector TSVECTOR GENERATED ALWAYS AS (
        setweight(to_tsvector('english', title), 'A') || setweight(to_tsvector('english', category), 'B')
        || setweight(to_tsvector('english', body), 'C')
    ) STORED
);
CREATE INDEX kb_articles_category ON kb_articles (category, title);
CREATE INDEX kb_articles_search ON kb_articles USING GIN (search_vector);

CREATE TABLE problems (
    id             UUID PRIMARY KEY NOT NULL,
    number         BIGINT NOT NULL UNIQUE,
    title          TEXT NOT NULL,
    description    TEXT NOT NULL DEFAULT '',
    root_cause     TEXT NOT NULL DEFAULT '',
    workaround     TEXT NOT NULL DEFAULT '',
    state          TEXT NOT NULL,
    fix_change_id  UUID REFERENCES changes (id) ON DELETE SET NULL,
    version        BIGINT NOT NULL,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    resolved_at    BIGINT,
    search_vector TSVECTOR GENERATED ALWAYS AS (
        setweight(to_tsvector('english', title), 'A') || setweight(to_tsvector('english', root_cause), 'B')
        || setweight(to_tsvector('english', workaround), 'B')
    ) STORED
);
CREATE INDEX problems_state ON problems (state, number);
CREATE INDEX problems_fix ON problems (fix_change_id);
CREATE INDEX problems_search ON problems USING GIN (search_vector);

CREATE TABLE problem_incidents (
    problem_id   UUID NOT NULL REFERENCES problems (id) ON DELETE CASCADE,
    incident_id  UUID NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    PRIMARY KEY (problem_id, incident_id)
);
CREATE INDEX problem_incidents_incident ON problem_incidents (incident_id);
CREATE TABLE problem_tickets (
    problem_id  UUID NOT NULL REFERENCES problems (id) ON DELETE CASCADE,
    ticket_id   UUID NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    PRIMARY KEY (problem_id, ticket_id)
);
CREATE INDEX problem_tickets_ticket ON problem_tickets (ticket_id);

INSERT INTO revisions (name, value) VALUES ('kb_number', 0);
INSERT INTO revisions (name, value) VALUES ('problem_number', 0);
