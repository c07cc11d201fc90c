-- Standard change templates: pre-approved routine work a standard change is raised from.
-- Answers and the template's CIs fill in what the change leaves blank. Change calendar windows
-- may recur (an RRULE evaluated in a time zone).
CREATE TABLE change_templates (
    id                  UUID PRIMARY KEY NOT NULL,
    name                TEXT NOT NULL UNIQUE,
    description         TEXT NOT NULL DEFAULT '',
    implementation_plan TEXT NOT NULL DEFAULT '',
    test_plan           TEXT NOT NULL DEFAULT '',
    backout_plan        TEXT NOT NULL DEFAULT '',
    duration_minutes    INTEGER NOT NULL,
    outage_expected     BOOLEAN NOT NULL DEFAULT FALSE,
    answers             TEXT NOT NULL DEFAULT '{}',
    active              BOOLEAN NOT NULL DEFAULT TRUE,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL
);

CREATE TABLE change_template_cis (
    template_id UUID NOT NULL REFERENCES change_templates (id) ON DELETE CASCADE,
    ci_id       UUID NOT NULL REFERENCES cis (id) ON DELETE CASCADE,
    PRIMARY KEY (template_id, ci_id)
);

ALTER TABLE changes ADD COLUMN template_id UUID REFERENCES change_templates (id) ON DELETE SET NULL;

ALTER TABLE change_windows ADD COLUMN rrule TEXT;
ALTER TABLE change_windows ADD COLUMN timezone TEXT NOT NULL DEFAULT 'UTC';
