-- Metric series for capacity forecasts: pushed through the API (their points, one per time; a
-- second push at the same time replaces the value), or read from a Prometheus server (its URL
-- and PromQL query).
CREATE TABLE series (
    id          UUID PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL UNIQUE,
    points      BIGINT NOT NULL,
    last_at     BIGINT,
    last_value  DOUBLE PRECISION,
    source_url  TEXT,
    source_query TEXT,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE series_points (
    series_id UUID NOT NULL REFERENCES series (id) ON DELETE CASCADE,
    at        BIGINT NOT NULL,
    value     DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (series_id, at)
);
