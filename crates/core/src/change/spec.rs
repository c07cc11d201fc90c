//! What a person writes about a change, validated: the change request itself, the risk
//! questionnaire and its answers, and the maintenance and freeze windows of the change calendar.

use super::ChangeType;
use super::risk::Answer;
use crate::{Error, Problems, Result, time, validate};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use uuid::Uuid;

pub use super::window::WindowSpec;

/// CIs one change may touch (the conflict benchmark's 500 with room to spare).
pub const CIS_MAX: usize = 1000;
pub const SERVICES_MAX: usize = 100;
/// The longest planned window of a change; longer work is several changes.
pub const SPAN_MAX_DAYS: i64 = 31;
/// The longest maintenance or freeze window (a year-end freeze fits).
pub const WINDOW_MAX_DAYS: i64 = 366;
/// How far in the past a planned start may be (a form filled in a minute ago).
pub const PAST_GRACE_MINUTES: i64 = 5;
/// A plan (implementation, test, backout) is longer than a description.
pub const PLAN_MAX: usize = 20_000;

/// Unvalidated change fields, as the API and the form give them.
#[derive(Debug, Clone, Default)]
pub struct ChangeInput {
    pub title: String,
    pub kind: Option<String>,
    pub description: Option<String>,
    pub ci_ids: Vec<Uuid>,
    pub service_ids: Vec<Uuid>,
    pub planned_start: Option<DateTime<Utc>>,
    pub planned_end: Option<DateTime<Utc>>,
    pub implementation_plan: Option<String>,
    pub test_plan: Option<String>,
    pub backout_plan: Option<String>,
    pub outage_expected: bool,
    pub assignee_id: Option<Uuid>,
    pub implementer_id: Option<Uuid>,
    /// Question key → option key.
    pub answers: BTreeMap<String, String>,
    /// The standard change template it is raised from.
    pub template_id: Option<Uuid>,
}

/// A validated change request.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChangeSpec {
    pub title: String,
    pub kind: ChangeType,
    pub description: String,
    pub ci_ids: Vec<Uuid>,
    pub service_ids: Vec<Uuid>,
    pub planned_start: Option<DateTime<Utc>>,
    pub planned_end: Option<DateTime<Utc>>,
    pub implementation_plan: String,
    pub test_plan: String,
    pub backout_plan: String,
    pub outage_expected: bool,
    pub assignee_id: Option<Uuid>,
    pub implementer_id: Option<Uuid>,
    pub answers: BTreeMap<String, String>,
    pub template_id: Option<Uuid>,
}

fn plan(field: &'static str, v: Option<&str>) -> Result<String> {
    let v = v.unwrap_or("");
    if v.chars().count() > PLAN_MAX {
        return Err(Error::invalid(field, format!("must be at most {PLAN_MAX} characters")));
    }
    Ok(v.trim().to_owned())
}

pub(crate) fn distinct(ids: &[Uuid]) -> Vec<Uuid> {
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        if !out.contains(id) {
            out.push(*id);
        }
    }
    out
}

impl ChangeSpec {
    /// Validates `input` at `now` against `questionnaire`. A planned window is both times or
    /// neither, ends after it starts, spans at most [`SPAN_MAX_DAYS`] and does not start in the
    /// past (a change recorded after the fact comes from a deploy event, not from here).
    ///
    /// `saved_start` is the planned start the change already has: keeping it is no new plan, so
    /// a change under way can still be edited.
    pub fn new(
        input: &ChangeInput,
        now: DateTime<Utc>,
        questionnaire: &Questionnaire,
        saved_start: Option<DateTime<Utc>>,
    ) -> Result<ChangeSpec> {
        let mut p = Problems::default();
        let title = p.check(validate::name("title", &input.title));
        let kind = match input.kind.as_deref() {
            None => Some(ChangeType::Normal),
            Some(k) => ChangeType::parse(k).or_else(|| {
                p.push("type", format!("must be {}", ChangeType::choices()));
                None
            }),
        };
        let description = p.check(validate::description("description", input.description.as_deref().unwrap_or("")));
        if input.ci_ids.len() > CIS_MAX {
            p.push("ci_ids", format!("name at most {CIS_MAX} CIs"));
        }
        if input.service_ids.len() > SERVICES_MAX {
            p.push("service_ids", format!("name at most {SERVICES_MAX} services"));
        }
        let start = input.planned_start.and_then(|t| p.check(time::check_utc("planned_start", t)));
        let end = input.planned_end.and_then(|t| p.check(time::check_utc("planned_end", t)));
        match (start, end) {
            (Some(s), Some(e)) => {
                if e <= s {
                    p.push("planned_end", "must be after the planned start");
                } else if e - s > Duration::days(SPAN_MAX_DAYS) {
                    p.push("planned_end", format!("a change spans at most {SPAN_MAX_DAYS} days; split longer work"));
                }
                if s < now - Duration::minutes(PAST_GRACE_MINUTES) && saved_start != Some(s) {
                    p.push("planned_start", "is in the past; plan the change from now on");
                }
            }
            (Some(_), None) if input.planned_end.is_none() => p.push("planned_end", "give it with the planned start"),
            (None, Some(_)) if input.planned_start.is_none() => p.push("planned_start", "give it with the planned end"),
            _ => {}
        }
        let implementation_plan = p.check(plan("implementation_plan", input.implementation_plan.as_deref()));
        let test_plan = p.check(plan("test_plan", input.test_plan.as_deref()));
        let backout_plan = p.check(plan("backout_plan", input.backout_plan.as_deref()));
        if let Err(e) = questionnaire.score(&input.answers) {
            p.push("answers", e);
        }
        p.finish()?;
        let (
            Some(title),
            Some(kind),
            Some(description),
            Some(implementation_plan),
            Some(test_plan),
            Some(backout_plan),
        ) = (title, kind, description, implementation_plan, test_plan, backout_plan)
        else {
            return Err(Error::invalid("title", "is invalid"));
        };
        Ok(ChangeSpec {
            title,
            kind,
            description,
            ci_ids: distinct(&input.ci_ids),
            service_ids: distinct(&input.service_ids),
            planned_start: start,
            planned_end: end,
            implementation_plan,
            test_plan,
            backout_plan,
            outage_expected: input.outage_expected,
            assignee_id: input.assignee_id,
            implementer_id: input.implementer_id,
            answers: input.answers.clone(),
            template_id: input.template_id,
        })
    }

    /// Whether `other` changes what approvals were given for: the type, the CIs, the services,
    /// the window (to the minute, as forms show it), the plans, the implementer, the outage or
    /// the answers (the title and description do not).
    pub fn reauthorise(&self, other: &ChangeSpec) -> bool {
        let sorted = |v: &[Uuid]| {
            let mut v = v.to_vec();
            v.sort_unstable();
            v
        };
        let minute = |t: Option<DateTime<Utc>>| t.map(|t| t.timestamp().div_euclid(60));
        self.kind != other.kind
            || sorted(&self.ci_ids) != sorted(&other.ci_ids)
            || sorted(&self.service_ids) != sorted(&other.service_ids)
            || minute(self.planned_start) != minute(other.planned_start)
            || minute(self.planned_end) != minute(other.planned_end)
            || self.implementation_plan != other.implementation_plan
            || self.test_plan != other.test_plan
            || self.backout_plan != other.backout_plan
            || self.outage_expected != other.outage_expected
            || self.answers != other.answers
            || self.implementer_id != other.implementer_id
    }
}

pub const QUESTIONS_MAX: usize = 20;
pub const OPTIONS_MAX: usize = 8;
pub const POINTS_MAX: u32 = 100;

/// One choice of a risk question.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RiskOption {
    pub key: String,
    pub label: String,
    pub points: u32,
}

/// One question of the risk questionnaire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Question {
    pub key: String,
    pub text: String,
    pub options: Vec<RiskOption>,
}

/// The questions a change's author answers; each answer adds its option's points to the risk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Questionnaire {
    pub questions: Vec<Question>,
}

impl Default for Questionnaire {
    /// ServiceNow's risk assessment, in brief.
    fn default() -> Self {
        let q = |key: &str, text: &str, options: &[(&str, &str, u32)]| Question {
            key: key.into(),
            text: text.into(),
            options: options
                .iter()
                .map(|(k, l, p)| RiskOption { key: (*k).into(), label: (*l).into(), points: *p })
                .collect(),
        };
        Questionnaire {
            questions: vec![
                q(
                    "tested",
                    "Was the change tested in a production-like environment?",
                    &[("yes", "Yes, and it passed", 0), ("partly", "Partly", 10), ("no", "No", 25)],
                ),
                q(
                    "backout",
                    "Can it be backed out quickly?",
                    &[
                        ("minutes", "In minutes, tested", 0),
                        ("hours", "In hours", 10),
                        ("no", "No backout is possible", 25),
                    ],
                ),
                q(
                    "users",
                    "How many users notice if it goes wrong?",
                    &[("none", "None", 0), ("some", "Some teams", 10), ("all", "Everyone or customers", 20)],
                ),
                q(
                    "done-before",
                    "Has this change been done before?",
                    &[("often", "Often, the same way", 0), ("once", "Once or twice", 5), ("never", "Never", 15)],
                ),
            ],
        }
    }
}

impl Questionnaire {
    /// A questionnaire with keys as slugs, each question's keys distinct, 1 to [`OPTIONS_MAX`]
    /// options of 0 to [`POINTS_MAX`] points, at most [`QUESTIONS_MAX`] questions.
    pub fn new(questions: Vec<Question>) -> Result<Questionnaire> {
        let mut p = Problems::default();
        if questions.len() > QUESTIONS_MAX {
            p.push("questions", format!("at most {QUESTIONS_MAX} questions"));
        }
        let mut out = Vec::new();
        for (i, q) in questions.iter().enumerate().take(QUESTIONS_MAX) {
            let n = i + 1;
            let key = validate::slug("key", &q.key).map_err(|_| format!("question {n}: key must be a slug"));
            let text =
                validate::name("text", &q.text).map_err(|_| format!("question {n}: text must be 1 to 120 characters"));
            if out.iter().any(|o: &Question| o.key == q.key) {
                p.push("questions", format!("question {n}: key {:?} is used twice", q.key));
            }
            if q.options.is_empty() || q.options.len() > OPTIONS_MAX {
                p.push("questions", format!("question {n}: give 1 to {OPTIONS_MAX} options"));
            }
            let mut options: Vec<RiskOption> = Vec::new();
            for o in q.options.iter().take(OPTIONS_MAX) {
                match (validate::slug("key", &o.key), validate::name("label", &o.label)) {
                    (Ok(k), Ok(l)) if o.points <= POINTS_MAX && !options.iter().any(|x| x.key == k) => {
                        options.push(RiskOption { key: k, label: l, points: o.points })
                    }
                    _ => p.push(
                        "questions",
                        format!(
                            "question {n}: each option needs a distinct slug key, a label and 0 to {POINTS_MAX} points"
                        ),
                    ),
                }
            }
            match (key, text) {
                (Ok(key), Ok(text)) => out.push(Question { key, text, options }),
                (Err(e), _) | (_, Err(e)) => p.push("questions", e),
            }
        }
        p.finish()?;
        Ok(Questionnaire { questions: out })
    }

    /// The answers as scored lines, or what is wrong with them (an unknown question or option).
    /// Unanswered questions add nothing.
    pub fn score(&self, answers: &BTreeMap<String, String>) -> std::result::Result<Vec<Answer>, String> {
        let mut out = Vec::new();
        for (q, a) in answers {
            let question = self.questions.iter().find(|x| &x.key == q).ok_or_else(|| format!("no question {q:?}"))?;
            let option = question.options.iter().find(|o| &o.key == a).ok_or_else(|| {
                let keys: Vec<&str> = question.options.iter().map(|o| o.key.as_str()).collect();
                format!("{q}: answer one of {}", keys.join(", "))
            })?;
            let sep = if question.text.ends_with('?') { " " } else { ": " };
            out.push(Answer { points: option.points, reason: format!("{}{sep}{}", question.text, option.label) });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap()
    }

    fn input() -> ChangeInput {
        ChangeInput {
            title: "Upgrade Postgres".into(),
            planned_start: Some(now() + Duration::hours(2)),
            planned_end: Some(now() + Duration::hours(3)),
            ..ChangeInput::default()
        }
    }

    #[test]
    fn a_change_is_validated_field_by_field() {
        let q = Questionnaire::default();
        let s = ChangeSpec::new(&input(), now(), &q, None).unwrap();
        assert_eq!(s.kind, ChangeType::Normal);
        let bad = ChangeInput {
            title: " ".into(),
            kind: Some("urgent".into()),
            planned_start: Some(now() - Duration::days(1)),
            planned_end: Some(now() - Duration::days(2)),
            answers: [("tested".to_owned(), "maybe".to_owned())].into(),
            ..input()
        };
        let e = ChangeSpec::new(&bad, now(), &q, None).unwrap_err().to_string();
        for field in ["title", "type", "planned_start", "planned_end", "answers"] {
            assert!(e.contains(field), "{field} missing from {e}");
        }
        assert!(e.contains("tested: answer one of yes, partly, no"), "{e}");
        let half = ChangeInput { planned_end: None, ..input() };
        assert!(ChangeSpec::new(&half, now(), &q, None).unwrap_err().to_string().contains("planned_end"));
        let long = ChangeInput { planned_end: Some(now() + Duration::days(40)), ..input() };
        assert!(ChangeSpec::new(&long, now(), &q, None).unwrap_err().to_string().contains("31 days"));
        let started = ChangeInput { planned_start: Some(now() - Duration::hours(1)), ..input() };
        assert!(ChangeSpec::new(&started, now(), &q, None).is_err());
        assert!(ChangeSpec::new(&started, now(), &q, started.planned_start).is_ok(), "its own start is kept");
        let unplanned = ChangeInput { planned_start: None, planned_end: None, ..input() };
        assert!(ChangeSpec::new(&unplanned, now(), &q, None).is_ok());
    }

    #[test]
    fn answers_score_and_edits_that_matter_need_new_approvals() {
        let q = Questionnaire::default();
        let answers: BTreeMap<String, String> = [("tested".to_owned(), "no".to_owned())].into();
        let scored = q.score(&answers).unwrap();
        assert_eq!(scored[0].points, 25);
        assert!(q.score(&[("colour".to_owned(), "red".to_owned())].into()).unwrap_err().contains("colour"));
        let a = ChangeSpec::new(&input(), now(), &q, None).unwrap();
        let typo = ChangeSpec { title: "Upgrade Postgres!".into(), ..a.clone() };
        assert!(!a.reauthorise(&typo));
        let new_plan = ChangeSpec { backout_plan: "restore the snapshot".into(), ..a.clone() };
        assert!(a.reauthorise(&new_plan), "approvers approved the plan");
        let seconds = ChangeSpec { planned_start: a.planned_start.map(|t| t + Duration::seconds(20)), ..a.clone() };
        assert!(!a.reauthorise(&seconds), "a form shows minutes");
        let moved = ChangeSpec { planned_end: Some(now() + Duration::hours(5)), ..a.clone() };
        assert!(a.reauthorise(&moved));
    }

    #[test]
    fn questionnaires_and_windows_are_checked() {
        let dup = Question {
            key: "x".into(),
            text: "X?".into(),
            options: vec![RiskOption { key: "a".into(), label: "A".into(), points: 50 }],
        };
        let e = Questionnaire::new(vec![dup.clone(), dup.clone()]).unwrap_err().to_string();
        assert!(e.contains("used twice"), "{e}");
        let mut heavy = dup;
        heavy.options[0].points = 500;
        let e = Questionnaire::new(vec![heavy]).unwrap_err().to_string();
        assert!(e.contains("points"), "{e}");
        assert_eq!(Questionnaire::new(Questionnaire::default().questions).unwrap(), Questionnaire::default());
    }
}
