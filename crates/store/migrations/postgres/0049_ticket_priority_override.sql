-- An agent's override of a ticket's priority keeps why (empty: the priority matrix gave it).
ALTER TABLE tickets ADD COLUMN priority_reason TEXT NOT NULL DEFAULT '';
-- Closing resolved tickets some days after their resolution reads the resolved ones by time;
-- closed tickets keep their resolved_at, so the state leads.
CREATE INDEX tickets_state_resolved ON tickets (state, resolved_at);
