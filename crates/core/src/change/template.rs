//! Standard change templates: the catalogue of pre-approved routine work ("rotate the database
//! logs", "renew a TLS certificate"). A standard change is raised from one: the template fills in
//! what the person leaves blank (title, plans, CIs, how long it takes, the risk answers), and
//! its pre-approval is why the change skips assessment and approval.

use super::spec::{ChangeInput, PLAN_MAX, Questionnaire, SPAN_MAX_DAYS};
use crate::{Problems, Result, validate};
use chrono::Duration;
use serde::Serialize;
use std::collections::BTreeMap;
use uuid::Uuid;

/// CIs a template names at most.
pub const TEMPLATE_CIS_MAX: usize = 100;

/// Unvalidated template fields, as the API and the form give them.
#[derive(Debug, Clone, Default)]
pub struct TemplateInput {
    pub name: String,
    pub description: Option<String>,
    pub implementation_plan: Option<String>,
    pub test_plan: Option<String>,
    pub backout_plan: Option<String>,
    pub ci_ids: Vec<Uuid>,
    pub duration_minutes: i64,
    pub outage_expected: bool,
    pub answers: BTreeMap<String, String>,
    pub active: bool,
}

/// A validated standard change template.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TemplateSpec {
    pub name: String,
    pub description: String,
    pub implementation_plan: String,
    pub test_plan: String,
    pub backout_plan: String,
    pub ci_ids: Vec<Uuid>,
    pub duration_minutes: u32,
    pub outage_expected: bool,
    pub answers: BTreeMap<String, String>,
    /// Inactive templates are kept (changes name them) but raise no new changes.
    pub active: bool,
}

fn plan(p: &mut Problems, field: &'static str, v: Option<&str>) -> String {
    let v = v.unwrap_or("").trim();
    if v.chars().count() > PLAN_MAX {
        p.push(field, format!("must be at most {PLAN_MAX} characters"));
    }
    v.to_owned()
}

impl TemplateSpec {
    /// Checks a template: a name, plans within bounds, at most [`TEMPLATE_CIS_MAX`] CIs, a
    /// duration of 1 minute to [`SPAN_MAX_DAYS`] days, and answers the questionnaire knows.
    pub fn new(input: &TemplateInput, questionnaire: &Questionnaire) -> Result<TemplateSpec> {
        let mut p = Problems::default();
        let name = p.check(validate::name("name", &input.name));
        let description = p.check(validate::description("description", input.description.as_deref().unwrap_or("")));
        let implementation_plan = plan(&mut p, "implementation_plan", input.implementation_plan.as_deref());
        let test_plan = plan(&mut p, "test_plan", input.test_plan.as_deref());
        let backout_plan = plan(&mut p, "backout_plan", input.backout_plan.as_deref());
        let mut ci_ids: Vec<Uuid> = Vec::new();
        for id in &input.ci_ids {
            if !ci_ids.contains(id) {
                ci_ids.push(*id);
            }
        }
        if ci_ids.len() > TEMPLATE_CIS_MAX {
            p.push("ci_ids", format!("name at most {TEMPLATE_CIS_MAX} CIs"));
        }
        let most = SPAN_MAX_DAYS * 24 * 60;
        let duration = match u32::try_from(input.duration_minutes) {
            Ok(d) if d >= 1 && i64::from(d) <= most => Some(d),
            _ => {
                p.push("duration_minutes", format!("must be 1 to {most} minutes"));
                None
            }
        };
        if let Err(e) = questionnaire.score(&input.answers) {
            p.push("answers", e);
        }
        p.finish()?;
        match (name, description, duration) {
            (Some(name), Some(description), Some(duration_minutes)) => Ok(TemplateSpec {
                name,
                description,
                implementation_plan,
                test_plan,
                backout_plan,
                ci_ids,
                duration_minutes,
                outage_expected: input.outage_expected,
                answers: input.answers.clone(),
                active: input.active,
            }),
            _ => Err(crate::Error::invalid("name", "is invalid")),
        }
    }

    /// Fills in what `input` leaves blank from the template and makes it a standard change:
    /// the title, the description, the plans, the CIs, the planned end (the start plus the
    /// template's duration), the outage, and the answers not given.
    pub fn apply(&self, input: &mut ChangeInput) {
        input.kind = Some("standard".to_owned());
        if input.title.trim().is_empty() {
            input.title = self.name.clone();
        }
        let fill = |v: &mut Option<String>, from: &str| {
            if v.as_deref().is_none_or(|s| s.trim().is_empty()) && !from.is_empty() {
                *v = Some(from.to_owned());
            }
        };
        fill(&mut input.description, &self.description);
        fill(&mut input.implementation_plan, &self.implementation_plan);
        fill(&mut input.test_plan, &self.test_plan);
        fill(&mut input.backout_plan, &self.backout_plan);
        if input.ci_ids.is_empty() {
            input.ci_ids = self.ci_ids.clone();
        }
        if let (Some(start), None) = (input.planned_start, input.planned_end) {
            input.planned_end = start.checked_add_signed(Duration::minutes(i64::from(self.duration_minutes)));
        }
        input.outage_expected |= self.outage_expected;
        for (q, a) in &self.answers {
            input.answers.entry(q.clone()).or_insert_with(|| a.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> TemplateInput {
        TemplateInput {
            name: "Rotate database logs".into(),
            backout_plan: Some("Nothing to back out".into()),
            ci_ids: vec![Uuid::from_u128(1)],
            duration_minutes: 30,
            answers: BTreeMap::from([("tested".to_owned(), "yes".to_owned())]),
            active: true,
            ..TemplateInput::default()
        }
    }

    #[test]
    fn a_template_fills_in_what_the_change_leaves_blank() {
        let t = TemplateSpec::new(&input(), &Questionnaire::default()).unwrap();
        let start = chrono::Utc::now();
        let mut c =
            ChangeInput { planned_start: Some(start), backout_plan: Some(" ".into()), ..ChangeInput::default() };
        c.answers.insert("tested".into(), "partly".into());
        t.apply(&mut c);
        assert_eq!(c.kind.as_deref(), Some("standard"));
        assert_eq!(c.title, "Rotate database logs");
        assert_eq!(c.backout_plan.as_deref(), Some("Nothing to back out"));
        assert_eq!(c.ci_ids, vec![Uuid::from_u128(1)]);
        assert_eq!(c.planned_end, Some(start + Duration::minutes(30)));
        assert_eq!(c.answers["tested"], "partly", "what the person answered stands");
    }

    #[test]
    fn bad_templates_are_named() {
        let q = Questionnaire::default();
        for (patch, field) in [
            (TemplateInput { duration_minutes: 0, ..input() }, "duration_minutes"),
            (TemplateInput { duration_minutes: SPAN_MAX_DAYS * 1440 + 1, ..input() }, "duration_minutes"),
            (TemplateInput { name: " ".into(), ..input() }, "name"),
            (TemplateInput { ci_ids: (0..=100).map(Uuid::from_u128).collect(), ..input() }, "ci_ids"),
        ] {
            let e = TemplateSpec::new(&patch, &q).unwrap_err();
            assert!(matches!(e, crate::Error::Invalid { field: f, .. } if f == field), "{field}: {e:?}");
        }
        let mut bad = input();
        bad.answers.insert("tested".into(), "maybe".into());
        assert!(TemplateSpec::new(&bad, &q).is_err());
    }
}
