-- Team members, and the teams whose signed-in members may read a private status page.
CREATE TABLE team_members (
    team_id    BLOB NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    user_id    BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (team_id, user_id)
);
CREATE INDEX team_members_user ON team_members (user_id);

CREATE TABLE status_page_teams (
    page_id BLOB NOT NULL REFERENCES status_pages (id) ON DELETE CASCADE,
    team_id BLOB NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    PRIMARY KEY (page_id, team_id)
);
