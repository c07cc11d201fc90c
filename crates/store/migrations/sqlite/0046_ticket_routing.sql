-- Groups and routing: each ticket's team (the group that works it), service and category;
-- routing rules tried by position on a new ticket, the first match naming the team and how an
-- agent is chosen; each team's round-robin turn, a counter bumped in the raising transaction
-- so concurrent raises on any node take distinct turns.
ALTER TABLE tickets ADD COLUMN team_id BLOB REFERENCES teams (id) ON DELETE SET NULL;
ALTER TABLE tickets ADD COLUMN service_id BLOB REFERENCES services (id) ON DELETE SET NULL;
ALTER TABLE tickets ADD COLUMN category TEXT NOT NULL DEFAULT '';
-- A team's queue in the agent queue's order; an agent's open load for least-loaded assignment.
CREATE INDEX tickets_team_queue ON tickets (team_id, priority, number);
CREATE INDEX tickets_assignee ON tickets (assignee_id, state);

CREATE TABLE ticket_routes (
    id           BLOB PRIMARY KEY NOT NULL,
    name         TEXT NOT NULL,
    position     INTEGER NOT NULL,
    ticket_type  TEXT,
    category     TEXT,
    service_id   BLOB REFERENCES services (id) ON DELETE CASCADE,
    requester    TEXT,
    keywords     TEXT NOT NULL,
    team_id      BLOB NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    assign       TEXT NOT NULL,
    enabled      BOOLEAN NOT NULL,
    version      BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);

CREATE TABLE ticket_team_turns (
    team_id  BLOB PRIMARY KEY NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    turn     BIGINT NOT NULL
);
