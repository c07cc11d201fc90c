-- Check totals per service and closed UTC day, so KPI reports over months read a few thousand
-- rows instead of every monitor's daily rollups. `kpi_days` records which days are summed and
-- under which `kpi_days` revision (bumped when a monitor changes service or goes, or a service
-- goes): a day summed under an older revision is summed again. `service_key` is the nil UUID
-- for monitors of no service.
CREATE TABLE kpi_days (
    day      BIGINT PRIMARY KEY NOT NULL,
    revision BIGINT NOT NULL
);
CREATE TABLE kpi_service_days (
    day            BIGINT NOT NULL,
    service_key    UUID NOT NULL,
    total          BIGINT NOT NULL,
    failures       BIGINT NOT NULL,
    maintenance    BIGINT NOT NULL,
    maint_failures BIGINT NOT NULL,
    PRIMARY KEY (day, service_key)
);
INSERT INTO revisions (name, value) VALUES ('kpi_days', 0);
