-- SLIs beyond monitor checks: `sli_kind` is availability, events or prometheus; a Prometheus
-- SLI keeps its server and its two queries in `sli_source` (JSON). Pushed good/total counts are
-- summed per minute in `slo_events`.
ALTER TABLE slos ADD COLUMN sli_kind TEXT NOT NULL DEFAULT 'availability';
ALTER TABLE slos ADD COLUMN sli_source TEXT;
CREATE TABLE slo_events (
    slo_id BLOB NOT NULL REFERENCES slos (id) ON DELETE CASCADE,
    minute BIGINT NOT NULL,
    good   BIGINT NOT NULL,
    total  BIGINT NOT NULL,
    PRIMARY KEY (slo_id, minute)
);
