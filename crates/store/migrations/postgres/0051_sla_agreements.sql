-- SLA agreements: targets per priority and a calendar for the tickets of some services or some
-- requesters, tried by position before the per-priority policies. The conditions, targets and
-- calendar are one JSON document (`spec`), read whole with the agreement.
CREATE TABLE sla_agreements (
    id          UUID PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    position    INTEGER NOT NULL,
    spec        TEXT NOT NULL,
    version     BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
