-- Escalation rounds: every (re)start of an incident's escalation (declared, reopened, snooze
-- ended, escalated after the policy ran out) is a new round, and the round is part of each
-- notification's idempotency key, so a restart pages again while a retry of a round never does.
ALTER TABLE incidents ADD COLUMN escalation_round INTEGER NOT NULL DEFAULT 0;
ALTER TABLE escalations ADD COLUMN round INTEGER NOT NULL DEFAULT 0;

-- A person's calendar feed token is an HMAC of their id and this epoch; "new link" bumps it.
ALTER TABLE users ADD COLUMN feed_epoch INTEGER NOT NULL DEFAULT 0;
