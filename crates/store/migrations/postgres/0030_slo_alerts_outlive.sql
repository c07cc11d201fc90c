-- SLO alert changes outlive their SLO: deleting an SLO while it alerts queues the resolve, which
-- the pipeline must still find.
ALTER TABLE slo_alerts DROP CONSTRAINT IF EXISTS slo_alerts_slo_id_fkey;
