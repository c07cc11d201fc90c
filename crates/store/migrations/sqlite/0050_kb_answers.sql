-- A reader's answer to "did this article answer your question?": one per reader and article
-- (the latest stands), counted by the desk's self-service deflection KPI.
CREATE TABLE kb_answers (
    article_id  BLOB NOT NULL REFERENCES kb_articles (id) ON DELETE CASCADE,
    user_id     BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    helpful     BOOLEAN NOT NULL,
    at          BIGINT NOT NULL,
    PRIMARY KEY (article_id, user_id)
);
CREATE INDEX kb_answers_at ON kb_answers (at);

-- Closing resolved tickets after some days (7 by default) arrives with this release: a desk
-- that already has tickets keeps them open until a manager chooses the days (0: never).
INSERT INTO settings (key, value, updated_at)
SELECT 'desk.auto_close_days', '{"days":0}', 0 WHERE EXISTS (SELECT 1 FROM tickets);
