-- Metric series pushed through the API for capacity forecasts, and their points (one per
-- time; a second push at the same time replaces the value).
CREATE TABLE series (
    id          BLOB PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL UNIQUE,
    points      BIGINT NOT NULL,
    last_at     BIGINT,
    last_value  DOUBLE PRECISION,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE series_points (
    series_id BLOB NOT NULL REFERENCES series (id) ON DELETE CASCADE,
    at        BIGINT NOT NULL,
    value     DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (series_id, at)
);
