-- Less noise: an alert that fires again soon after its incident resolved reopens that incident
-- (reopened_at), and an incident that resolves again soon after such a reopening is flapping:
-- it stays open until hold_until, when the housekeeping sweep resolves it if it stayed quiet.
ALTER TABLE incidents ADD COLUMN reopened_at BIGINT;
ALTER TABLE incidents ADD COLUMN hold_until BIGINT;
CREATE INDEX incidents_held ON incidents (hold_until) WHERE hold_until IS NOT NULL;
CREATE INDEX incidents_resolved ON incidents (service_id, resolved_at) WHERE status = 'resolved';
ALTER TABLE service_alert_settings ADD COLUMN reopen_window_seconds INTEGER NOT NULL DEFAULT 600;
