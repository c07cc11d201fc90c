-- Reports read incidents by when they were detected (a month of 100,000 is a range, not a scan).
CREATE INDEX incidents_detected ON incidents (detected_at);
