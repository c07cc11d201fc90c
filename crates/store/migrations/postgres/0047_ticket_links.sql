-- What a ticket is linked to: its parent ticket (one level: a parent is no one's child), the
-- incident it was promoted to or attached to, and the configuration items it concerns.
ALTER TABLE tickets ADD COLUMN parent_id UUID REFERENCES tickets (id) ON DELETE SET NULL;
ALTER TABLE tickets ADD COLUMN incident_id UUID REFERENCES incidents (id) ON DELETE SET NULL;
CREATE INDEX tickets_parent ON tickets (parent_id);
CREATE INDEX tickets_incident ON tickets (incident_id);

CREATE TABLE ticket_cis (
    ticket_id  UUID NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    ci_id      UUID NOT NULL REFERENCES cis (id) ON DELETE CASCADE,
    PRIMARY KEY (ticket_id, ci_id)
);
CREATE INDEX ticket_cis_ci ON ticket_cis (ci_id);
