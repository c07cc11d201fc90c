-- Budgets shared by every node: how many times a key (a client address, a digest of an e-mail
-- address) has acted in the current window.
CREATE TABLE rate_budgets (
    key          TEXT PRIMARY KEY NOT NULL,
    window_start BIGINT NOT NULL,
    used         INTEGER NOT NULL
);
CREATE INDEX rate_budgets_window ON rate_budgets (window_start);
