-- Change requests (CHG-n), their CIs and services, approvals, conflict overrides, the change
-- calendar's maintenance and freeze windows, the approval rules and the risk questionnaire.
-- Times are epoch ms. `revision` counts edits that need fresh approvals: an approval counts
-- only for the revision it was given on.
CREATE TABLE changes (
    id                    BLOB PRIMARY KEY NOT NULL,
    number                BIGINT NOT NULL UNIQUE,
    title                 TEXT NOT NULL,
    kind                  TEXT NOT NULL,
    state                 TEXT NOT NULL,
    description           TEXT NOT NULL DEFAULT '',
    planned_start         BIGINT,
    planned_end           BIGINT,
    actual_start          BIGINT,
    actual_end            BIGINT,
    implementation_plan   TEXT NOT NULL DEFAULT '',
    test_plan             TEXT NOT NULL DEFAULT '',
    backout_plan          TEXT NOT NULL DEFAULT '',
    outage_expected       BOOLEAN NOT NULL DEFAULT FALSE,
    assignee_id           BLOB REFERENCES users (id) ON DELETE SET NULL,
    implementer_id        BLOB REFERENCES users (id) ON DELETE SET NULL,
    answers               TEXT NOT NULL DEFAULT '{}',
    risk_level            TEXT NOT NULL,
    risk_score            INTEGER NOT NULL,
    risk_reasons          TEXT NOT NULL DEFAULT '[]',
    close_code            TEXT,
    close_notes           TEXT NOT NULL DEFAULT '',
    closed_at             BIGINT,
    caused_incident_id    BLOB REFERENCES incidents (id) ON DELETE SET NULL,
    -- The maintenance window that silences the monitors of its CIs while it is scheduled.
    maintenance_window_id BLOB REFERENCES maintenance_windows (id) ON DELETE SET NULL,
    source                TEXT NOT NULL,
    external_id           TEXT,
    revision              BIGINT NOT NULL,
    -- Bumped by every write: an edit or move based on an older version is refused.
    version               BIGINT NOT NULL,
    created_by            BLOB REFERENCES users (id) ON DELETE SET NULL,
    created_at            BIGINT NOT NULL,
    updated_at            BIGINT NOT NULL
);
CREATE INDEX changes_state ON changes (state, planned_start);
CREATE INDEX changes_planned ON changes (planned_start, planned_end);
CREATE INDEX changes_updated ON changes (updated_at, id);
CREATE INDEX changes_closed ON changes (closed_at) WHERE closed_at IS NOT NULL;
CREATE UNIQUE INDEX changes_external ON changes (source, external_id) WHERE external_id IS NOT NULL;
CREATE TABLE change_cis (
    change_id BLOB NOT NULL REFERENCES changes (id) ON DELETE CASCADE,
    ci_id     BLOB NOT NULL REFERENCES cis (id) ON DELETE CASCADE,
    PRIMARY KEY (change_id, ci_id)
);
CREATE INDEX change_cis_ci ON change_cis (ci_id);
CREATE TABLE change_services (
    change_id  BLOB NOT NULL REFERENCES changes (id) ON DELETE CASCADE,
    service_id BLOB NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    PRIMARY KEY (change_id, service_id)
);
CREATE INDEX change_services_service ON change_services (service_id);
-- One decision per person and revision.
CREATE TABLE change_approvals (
    change_id  BLOB NOT NULL REFERENCES changes (id) ON DELETE CASCADE,
    user_id    BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    revision   BIGINT NOT NULL,
    decision   TEXT NOT NULL,
    comment    TEXT NOT NULL DEFAULT '',
    decided_at BIGINT NOT NULL,
    PRIMARY KEY (change_id, user_id, revision)
);
-- A conflict accepted with a reason; `conflict_key` names it (kind and the other change or CI).
CREATE TABLE change_overrides (
    change_id    BLOB NOT NULL REFERENCES changes (id) ON DELETE CASCADE,
    conflict_key TEXT NOT NULL,
    reason       TEXT NOT NULL,
    user_id      BLOB REFERENCES users (id) ON DELETE SET NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (change_id, conflict_key)
);
CREATE TABLE change_windows (
    id          BLOB PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL,
    starts_at   BIGINT NOT NULL,
    ends_at     BIGINT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX change_windows_time ON change_windows (starts_at, ends_at);
CREATE TABLE change_window_cis (
    window_id BLOB NOT NULL REFERENCES change_windows (id) ON DELETE CASCADE,
    ci_id     BLOB NOT NULL REFERENCES cis (id) ON DELETE CASCADE,
    PRIMARY KEY (window_id, ci_id)
);
CREATE INDEX change_window_cis_ci ON change_window_cis (ci_id);
CREATE TABLE change_approval_rules (
    id          BLOB PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    types       TEXT NOT NULL,
    min_risk    TEXT,
    service_ids TEXT NOT NULL,
    approvers   TEXT NOT NULL,
    required    INTEGER NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
-- The risk questionnaire (one row, id 1); the built-in one until it is saved.
CREATE TABLE change_questionnaire (
    id         INTEGER PRIMARY KEY NOT NULL,
    questions  TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
INSERT INTO revisions (name, value) VALUES ('change_number', 0);
-- Foreign keys that are set to NULL when their row goes: indexed, so the delete finds them.
CREATE INDEX changes_window ON changes (maintenance_window_id) WHERE maintenance_window_id IS NOT NULL;
CREATE INDEX changes_caused ON changes (caused_incident_id) WHERE caused_incident_id IS NOT NULL;
CREATE INDEX changes_assignee ON changes (assignee_id) WHERE assignee_id IS NOT NULL;
CREATE INDEX changes_implementer ON changes (implementer_id) WHERE implementer_id IS NOT NULL;
CREATE INDEX changes_created_by ON changes (created_by) WHERE created_by IS NOT NULL;
CREATE INDEX change_approvals_user ON change_approvals (user_id);
CREATE INDEX change_overrides_user ON change_overrides (user_id) WHERE user_id IS NOT NULL;
