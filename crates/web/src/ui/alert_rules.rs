//! The service's alert-handling form: grouping, windows and a builder for the routing rules
//! (one row per rule: when labels / severities / summary match, then drop, set a severity or
//! route to another service). Adding, moving and removing rows are plain submit buttons that
//! redraw the form unsaved, so it works without JavaScript; a refused save redraws it with the
//! values kept.

use crate::api::integrations::SettingsDto;
use crate::error::ApiError;
use crate::operations::integrations::SettingsInput;
use opsdeck_core::FieldProblem;
use opsdeck_core::alert::Severity;
use opsdeck_core::alert::rules::{Match, REOPEN_WINDOW_DEFAULT_SECS, RULES_MAX, Rule, RuleAction};
use std::collections::BTreeMap;
use uuid::Uuid;

/// Label conditions per rule the builder accepts (the API's limit is the body size).
const LABELS_MAX: usize = 20;

/// One rule as the form shows it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuleRow {
    /// `env=dev, team=*` (`*`: the label is present).
    pub labels: String,
    pub severities: Vec<String>,
    pub summary: String,
    /// drop, set_severity or route.
    pub action: String,
    pub set_severity: String,
    pub route: String,
}

impl RuleRow {
    pub fn has_severity(&self, s: &&str) -> bool {
        self.severities.iter().any(|v| v == s)
    }

    fn is_blank(&self) -> bool {
        self.labels.trim().is_empty() && self.severities.is_empty() && self.summary.trim().is_empty()
    }

    fn from_rule(r: &Rule) -> Self {
        let labels = r.when.labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ");
        let (action, set_severity, route) = match &r.then {
            RuleAction::Drop => ("drop", String::new(), String::new()),
            RuleAction::SetSeverity { severity } => ("set_severity", severity.as_str().to_owned(), String::new()),
            RuleAction::Route { service_id } => ("route", String::new(), service_id.to_string()),
        };
        RuleRow {
            labels,
            severities: r.when.severity.iter().map(|s| s.as_str().to_owned()).collect(),
            summary: r.when.summary_contains.clone().unwrap_or_default(),
            action: action.into(),
            set_severity,
            route,
        }
    }

    /// The rule this row describes; errors name the rule by its number.
    fn to_rule(&self, n: usize) -> Result<Rule, ApiError> {
        let bad = |m: String| ApiError::invalid("rules", format!("rule {n}: {m}"));
        let mut labels = BTreeMap::new();
        for part in self.labels.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, v) =
                part.split_once('=').ok_or_else(|| bad(format!("write labels as name=value, not {part:?}")))?;
            let (k, v) = (k.trim(), v.trim());
            if k.is_empty() || v.is_empty() {
                return Err(bad(format!("{part:?} needs a name and a value (* for any value)")));
            }
            labels.insert(k.to_owned(), v.to_owned());
        }
        if labels.len() > LABELS_MAX {
            return Err(bad(format!("at most {LABELS_MAX} label conditions")));
        }
        let severity =
            self.severities.iter().map(|s| Severity::parse(s).ok_or_else(|| bad(format!("unknown severity {s:?}"))));
        let when = Match {
            labels,
            severity: severity.collect::<Result<_, _>>()?,
            summary_contains: Some(self.summary.trim().to_owned()).filter(|s| !s.is_empty()),
        };
        let then = match self.action.as_str() {
            "drop" => RuleAction::Drop,
            "set_severity" => RuleAction::SetSeverity {
                severity: Severity::parse(&self.set_severity).ok_or_else(|| bad("choose the new severity".into()))?,
            },
            "route" => RuleAction::Route {
                service_id: self.route.parse::<Uuid>().map_err(|_| bad("choose the service to route to".into()))?,
            },
            _ => return Err(bad("choose what the rule does".into())),
        };
        Ok(Rule { when, then })
    }
}

/// What a button on the form asked for, besides saving.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edit {
    Save,
    Add,
    Up(usize),
    Down(usize),
    Remove(usize),
}

/// The whole alert-handling form, as shown or as posted.
#[derive(Debug, Clone, Default)]
pub struct AlertForm {
    pub grouping: String,
    pub group_window_seconds: String,
    pub reopen_window_minutes: String,
    pub auto_resolve: bool,
    pub rows: Vec<RuleRow>,
}

impl From<SettingsDto> for AlertForm {
    fn from(s: SettingsDto) -> Self {
        AlertForm {
            grouping: s.grouping,
            group_window_seconds: s.group_window_seconds.to_string(),
            reopen_window_minutes: (s.reopen_window_seconds / 60).to_string(),
            auto_resolve: s.auto_resolve,
            rows: s.rules.iter().map(RuleRow::from_rule).collect(),
        }
    }
}

impl AlertForm {
    /// Reads the posted pairs: `rN.labels`, `rN.severity` (repeated), `rN.summary`, `rN.action`,
    /// `rN.set_severity`, `rN.route`, and the buttons `add`, `up`, `down`, `remove` (valued with
    /// a row number). Rows past [`RULES_MAX`] + 1 are ignored, so the form is bounded.
    pub fn from_pairs(pairs: &[(String, String)]) -> (Self, Edit) {
        let mut f = AlertForm::default();
        let mut rows: BTreeMap<usize, RuleRow> = BTreeMap::new();
        let mut edit = Edit::Save;
        for (k, v) in pairs {
            let row_no = |s: &str| s.parse::<usize>().ok().filter(|n| (1..=RULES_MAX + 1).contains(n));
            match k.as_str() {
                "grouping" => f.grouping = v.clone(),
                "group_window_seconds" => f.group_window_seconds = v.clone(),
                "reopen_window_minutes" => f.reopen_window_minutes = v.clone(),
                "auto_resolve" => f.auto_resolve = true,
                "add" => edit = Edit::Add,
                "up" => edit = row_no(v).map_or(Edit::Save, |n| Edit::Up(n - 1)),
                "down" => edit = row_no(v).map_or(Edit::Save, |n| Edit::Down(n - 1)),
                "remove" => edit = row_no(v).map_or(Edit::Save, |n| Edit::Remove(n - 1)),
                _ => {
                    let Some((n, field)) = k.strip_prefix('r').and_then(|r| r.split_once('.')) else { continue };
                    let Some(n) = row_no(n) else { continue };
                    let row = rows.entry(n).or_default();
                    match field {
                        "labels" => row.labels = v.clone(),
                        "severity" if row.severities.len() < Severity::ALL.len() => row.severities.push(v.clone()),
                        "summary" => row.summary = v.clone(),
                        "action" => row.action = v.clone(),
                        "set_severity" => row.set_severity = v.clone(),
                        "route" => row.route = v.clone(),
                        _ => {}
                    }
                }
            }
        }
        // The blank row the form always offers is not a rule unless something was chosen in it.
        f.rows = rows.into_values().filter(|r| !(r.is_blank() && r.action.is_empty())).collect();
        (f, edit)
    }

    /// Applies an add/move/remove; `false` when there was nothing to do.
    pub fn edit(&mut self, edit: Edit) -> bool {
        let len = self.rows.len();
        match edit {
            Edit::Save => return false,
            Edit::Add if len < RULES_MAX => self.rows.push(RuleRow { action: "drop".into(), ..Default::default() }),
            Edit::Up(i) if i > 0 && i < len => self.rows.swap(i - 1, i),
            Edit::Down(i) if i + 1 < len => self.rows.swap(i, i + 1),
            Edit::Remove(i) if i < len => {
                self.rows.remove(i);
            }
            _ => {}
        }
        true
    }

    /// The settings to save; every wrong field and rule is named at once.
    pub fn input(&self) -> Result<SettingsInput, ApiError> {
        let mut problems: Vec<FieldProblem> = Vec::new();
        let mut wrong = |e: ApiError| {
            let field = e.details.as_ref().and_then(|d| d.get("field")).and_then(|f| f.as_str()).unwrap_or("rules");
            let field = ["group_window_seconds", "reopen_window_seconds"].into_iter().find(|f| *f == field);
            let field = field.unwrap_or("rules");
            let message = e.message.strip_prefix(&format!("{field}: ")).unwrap_or(&e.message).to_owned();
            problems.push(FieldProblem { field, message });
        };
        let window = self
            .group_window_seconds
            .trim()
            .parse::<i32>()
            .map_err(|_| ApiError::invalid("group_window_seconds", "must be a whole number of seconds"));
        let reopen = match self.reopen_window_minutes.trim() {
            "" => Ok(REOPEN_WINDOW_DEFAULT_SECS),
            m => m
                .parse::<i32>()
                .ok()
                .and_then(|m| m.checked_mul(60))
                .ok_or_else(|| ApiError::invalid("reopen_window_seconds", "must be a whole number of minutes")),
        };
        let mut rules = Vec::with_capacity(self.rows.len());
        let window = window.map_err(&mut wrong).ok();
        let reopen = reopen.map_err(&mut wrong).ok();
        for (i, r) in self.rows.iter().enumerate() {
            match r.to_rule(i + 1) {
                Ok(rule) => rules.push(rule),
                Err(e) => wrong(e),
            }
        }
        match (window, reopen) {
            (Some(window), Some(reopen)) if problems.is_empty() => Ok(SettingsInput {
                grouping: self.grouping.clone(),
                group_window_seconds: window,
                auto_resolve: self.auto_resolve,
                reopen_window_seconds: reopen,
                rules,
            }),
            _ if problems.len() == 1 => {
                let p = problems.remove(0);
                Err(ApiError::invalid(p.field, p.message))
            }
            _ => Err(ApiError::invalid_fields(&problems)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn rows_round_trip_through_rules() {
        let svc = Uuid::nil();
        let (f, edit) = AlertForm::from_pairs(&pairs(&[
            ("grouping", "time"),
            ("group_window_seconds", "300"),
            ("reopen_window_minutes", "10"),
            ("r1.labels", "env=dev, team=*"),
            ("r1.action", "drop"),
            ("r2.severity", "warning"),
            ("r2.severity", "info"),
            ("r2.summary", "disk"),
            ("r2.action", "set_severity"),
            ("r2.set_severity", "critical"),
            ("r3.action", "route"),
            ("r3.route", &svc.to_string()),
            ("r4.labels", ""),
            ("r4.action", ""),
        ]));
        assert_eq!(edit, Edit::Save);
        let input = f.input().unwrap();
        assert_eq!(input.rules.len(), 3, "the blank last row is not a rule");
        assert_eq!(input.rules[0].when.labels.get("team").map(String::as_str), Some("*"));
        assert_eq!(input.rules[1].then, RuleAction::SetSeverity { severity: Severity::Critical });
        assert_eq!(input.rules[1].when.severity, vec![Severity::Warning, Severity::Info]);
        assert_eq!(input.rules[2].then, RuleAction::Route { service_id: svc });
        let back: Vec<RuleRow> = input.rules.iter().map(RuleRow::from_rule).collect();
        assert_eq!(back, f.rows);
        assert_eq!(input.reopen_window_seconds, 600);
    }

    #[test]
    fn edits_move_and_remove_within_bounds() {
        let row = |l: &str| RuleRow { labels: l.into(), action: "drop".into(), ..Default::default() };
        let mut f = AlertForm { rows: vec![row("a=1"), row("b=2")], ..Default::default() };
        assert!(f.edit(Edit::Up(1)));
        assert_eq!(f.rows[0].labels, "b=2");
        f.edit(Edit::Down(5));
        f.edit(Edit::Up(0));
        assert_eq!(f.rows[0].labels, "b=2");
        f.edit(Edit::Remove(0));
        assert_eq!(f.rows.len(), 1);
        f.edit(Edit::Add);
        assert_eq!(f.rows.len(), 2);
        let (_, e) = AlertForm::from_pairs(&pairs(&[("up", "99999999999999999999")]));
        assert_eq!(e, Edit::Save);
    }

    #[test]
    fn bad_rows_name_the_rule() {
        let f = AlertForm {
            group_window_seconds: "300".into(),
            rows: vec![RuleRow { labels: "env".into(), action: "drop".into(), ..Default::default() }],
            ..Default::default()
        };
        let e = f.input().unwrap_err();
        assert!(e.message.starts_with("rules: rule 1: write labels as name=value"), "{}", e.message);
        let f = AlertForm {
            group_window_seconds: "300".into(),
            rows: vec![RuleRow { action: "route".into(), ..Default::default() }],
            ..Default::default()
        };
        assert!(f.input().unwrap_err().message.contains("choose the service"));
        // Every bad row is named at once, with the bad window.
        let f = AlertForm {
            group_window_seconds: "soon".into(),
            rows: vec![
                RuleRow { labels: "env".into(), action: "drop".into(), ..Default::default() },
                RuleRow { action: "route".into(), ..Default::default() },
            ],
            ..Default::default()
        };
        let e = f.input().unwrap_err();
        let fields = e.details.as_ref().and_then(|d| d["fields"].as_array().cloned()).unwrap_or_default();
        assert_eq!(fields.len(), 3, "{}", e.message);
        assert_eq!(fields[0]["field"], "group_window_seconds");
        assert!(fields[2]["message"].as_str().unwrap_or("").starts_with("rule 2: "), "{}", e.message);
    }
}
