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
