//! The change form: what a person types, turned into the same `ChangeInput` the API builds.
//! CIs are named one per line, services by slug, people by username, times as local wall-clock
//! times in a chosen zone; the risk questionnaire's answers come as `answer_<key>` fields.

use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use chrono::{DateTime, TimeZone, Utc};
use opsdeck_core::change::spec::{self, ChangeInput, Question};
use opsdeck_store::change::Change;
use std::collections::BTreeMap;
use uuid::Uuid;

#[derive(Debug, Clone, Default)]
pub struct ChangeForm {
    pub title: String,
    pub kind: String,
    pub description: String,
    /// A CI name, identity or id per line.
    pub cis: String,
    /// A service slug or id per line; blank: those the CIs impact.
    pub services: String,
    /// `YYYY-MM-DDTHH:MM` in `timezone`.
    pub planned_start: String,
    pub planned_end: String,
    pub timezone: String,
    pub implementation_plan: String,
    pub test_plan: String,
    pub backout_plan: String,
    pub outage_expected: bool,
    pub assignee: String,
    pub implementer: String,
    pub answers: BTreeMap<String, String>,
    /// The id of the standard change template it is raised from; blank: none.
    pub template: String,
    pub version: String,
    /// The "check risk" button: show the risk and conflicts, save nothing.
    pub preview: bool,
}

/// Form fields arrive as pairs because the questionnaire's are named by its keys.
pub type Pairs = Vec<(String, String)>;

fn local(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| t.format("%Y-%m-%dT%H:%M").to_string()).unwrap_or_default()
}

impl ChangeForm {
    pub fn from_pairs(pairs: Pairs) -> ChangeForm {
        let mut f = ChangeForm::default();
        for (k, v) in pairs {
            match k.as_str() {
                "title" => f.title = v,
                "type" => f.kind = v,
                "description" => f.description = v,
                "cis" => f.cis = v,
                "services" => f.services = v,
                "planned_start" => f.planned_start = v,
                "planned_end" => f.planned_end = v,
                "timezone" => f.timezone = v,
                "implementation_plan" => f.implementation_plan = v,
                "test_plan" => f.test_plan = v,
                "backout_plan" => f.backout_plan = v,
                "outage_expected" => f.outage_expected = true,
                "assignee" => f.assignee = v,
                "implementer" => f.implementer = v,
                "version" => f.version = v,
                "template" => f.template = v,
                "preview" => f.preview = true,
                other => {
                    if let Some(q) = other.strip_prefix("answer_")
                        && !v.trim().is_empty()
                        && f.answers.len() < spec::QUESTIONS_MAX
                    {
                        f.answers.insert(q.to_owned(), v);
                    }
                }
            }
        }
        f
    }

    pub fn blank() -> ChangeForm {
        ChangeForm { kind: "normal".into(), timezone: "UTC".into(), ..ChangeForm::default() }
    }

    /// The form of a saved change (times in UTC), people by username.
    pub async fn of(state: &AppState, c: &Change, cis: &[(Uuid, String)], services: &[Uuid]) -> ChangeForm {
        let mut slugs = Vec::new();
        for s in services {
            if let Ok(v) = state.db.get_service(opsdeck_store::catalogue::Ref::Id(*s)).await {
                slugs.push(v.service.slug);
            }
        }
        let username = |id: Option<Uuid>| async move {
            match id {
                Some(u) => state.db.get_user(u).await.map(|u| u.username).unwrap_or_default(),
                None => String::new(),
            }
        };
        ChangeForm {
            title: c.title.clone(),
            kind: c.kind.as_str().into(),
            description: c.description.clone(),
            cis: cis.iter().map(|(id, _)| id.to_string()).collect::<Vec<_>>().join("\n"),
            services: slugs.join("\n"),
            planned_start: local(c.planned_start),
            planned_end: local(c.planned_end),
            timezone: "UTC".into(),
            implementation_plan: c.implementation_plan.clone(),
            test_plan: c.test_plan.clone(),
            backout_plan: c.backout_plan.clone(),
            outage_expected: c.outage_expected,
            assignee: username(c.assignee_id).await,
            implementer: username(c.implementer_id).await,
            answers: c.answers.clone(),
            template: c.template_id.map(|t| t.to_string()).unwrap_or_default(),
            version: c.version.to_string(),
            preview: false,
        }
    }

    /// A new standard change from a template: its plans and CIs filled in, to be planned.
    pub fn from_template(t: &opsdeck_store::change::templates::StoredTemplate) -> ChangeForm {
        let s = &t.spec;
        ChangeForm {
            title: s.name.clone(),
            kind: "standard".into(),
            description: s.description.clone(),
            cis: s.ci_ids.iter().map(Uuid::to_string).collect::<Vec<_>>().join("\n"),
            implementation_plan: s.implementation_plan.clone(),
            test_plan: s.test_plan.clone(),
            backout_plan: s.backout_plan.clone(),
            outage_expected: s.outage_expected,
            answers: s.answers.clone(),
            template: t.id.to_string(),
            ..ChangeForm::blank()
        }
    }

    /// The answer chosen for `q`, for the select.
    pub fn answer(&self, q: &Question) -> &str {
        self.answers.get(&q.key).map_or("", String::as_str)
    }

    fn time(&self, field: &'static str, raw: &str, tz: chrono_tz::Tz) -> Result<Option<DateTime<Utc>>, ApiError> {
        if raw.trim().is_empty() {
            return Ok(None);
        }
        let t = opsdeck_core::time::parse_local(field, raw)?;
        let at = tz
            .from_local_datetime(&t)
            .earliest()
            .ok_or_else(|| ApiError::invalid(field, "this local time does not exist (a DST gap); pick another"))?;
        Ok(Some(at.with_timezone(&Utc)))
    }

    /// The form as the API's input and the version it was loaded at.
    pub async fn input(&self, state: &AppState, auth: &Auth) -> Result<(ChangeInput, Option<i64>), ApiError> {
        // Resolving names costs queries: only for those who may save.
        auth.require(opsdeck_core::role::Permission::Respond)?;
        let ci_ids = super::ci_lines::resolve(state, &self.cis, spec::CIS_MAX, "a change touches").await?;
        let lines: Vec<&str> = self.services.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
        if lines.len() > spec::SERVICES_MAX {
            return Err(ApiError::invalid("services", format!("name at most {} services", spec::SERVICES_MAX)));
        }
        let mut service_ids = Vec::new();
        for l in lines {
            service_ids.push(crate::operations::changes::service(state, l).await?);
        }
        let person = |field: &'static str, v: &str| {
            let v = v.trim().to_owned();
            async move {
                if v.is_empty() {
                    Ok(None)
                } else {
                    crate::operations::changes::person(state, field, &v).await.map(Some)
                }
            }
        };
        let tz_name = if self.timezone.trim().is_empty() { "UTC" } else { self.timezone.trim() };
        let tz: chrono_tz::Tz = tz_name.parse().map_err(|_| {
            ApiError::invalid("timezone", format!("unknown time zone {tz_name:?}; use e.g. Europe/Berlin"))
        })?;
        let version = match self.version.trim() {
            "" => None,
            v => Some(v.parse::<i64>().map_err(|_| ApiError::bad_request("version: reload the page"))?),
        };
        let template_id = match self.template.trim() {
            "" => None,
            t => {
                Some(Uuid::parse_str(t).map_err(|_| ApiError::invalid("template", "choose a template from the list"))?)
            }
        };
        // A template makes it a standard change, whatever the type select says.
        let kind = if template_id.is_some() { "standard".to_owned() } else { self.kind.clone() };
        let input = ChangeInput {
            title: self.title.clone(),
            kind: Some(kind),
            description: Some(self.description.clone()),
            ci_ids,
            service_ids,
            planned_start: self.time("planned_start", &self.planned_start, tz)?,
            planned_end: self.time("planned_end", &self.planned_end, tz)?,
            implementation_plan: Some(self.implementation_plan.clone()),
            test_plan: Some(self.test_plan.clone()),
            backout_plan: Some(self.backout_plan.clone()),
            outage_expected: self.outage_expected,
            assignee_id: person("assignee", &self.assignee).await?,
            implementer_id: person("implementer", &self.implementer).await?,
            answers: self.answers.clone(),
            template_id,
        };
        Ok((input, version))
    }
}
