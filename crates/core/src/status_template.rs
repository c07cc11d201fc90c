//! Incident templates: a status page's prepared public updates (statuspage.io's "incident
//! templates"). A responder starts from one on the incident page, or names it in the API, and
//! changes what the moment needs.

use crate::status_incident::{IncidentStatus, UpdateSpec};
use crate::status_page::ComponentStatus;
use crate::{Error, Problems, Result, validate};
use serde::Serialize;
use uuid::Uuid;

/// Templates one page keeps, at most.
pub const TEMPLATES_MAX: i64 = 100;

/// A validated template.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TemplateSpec {
    /// What responders pick it by; unique per page.
    pub name: String,
    /// The public incident's title; empty keeps the incident's own.
    pub title: String,
    pub status: IncidentStatus,
    pub body: String,
    /// Components and the status the update gives them.
    pub components: Vec<(Uuid, ComponentStatus)>,
}

impl TemplateSpec {
    /// Checks every field (the update's own rules apply to title, status, text and components).
    pub fn new(
        name: &str,
        title: &str,
        status: &str,
        body: &str,
        components: Vec<(Uuid, String)>,
    ) -> Result<TemplateSpec> {
        let mut p = Problems::default();
        let name = p.check(validate::name("name", name));
        let update = p.check(UpdateSpec::new(Uuid::nil(), Some(title), status, body, Some(components)).map_err(|e| {
            // The update calls its title `name`; a template calls it `title`.
            let renamed: Vec<_> = e
                .problems()
                .into_iter()
                .map(|f| crate::FieldProblem { field: if f.field == "name" { "title" } else { f.field }, ..f })
                .collect();
            if renamed.is_empty() { e } else { Error::Fields(renamed) }
        }));
        p.finish()?;
        match (name, update) {
            (Some(name), Some(u)) => Ok(TemplateSpec {
                name,
                title: u.name.unwrap_or_default(),
                status: u.status,
                body: u.body,
                components: u.components.unwrap_or_default(),
            }),
            _ => Err(Error::invalid("name", "is required")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_follow_the_update_rules() {
        let id = Uuid::nil();
        let t = TemplateSpec::new(
            " DB slow ",
            "",
            "identified",
            "Queries are slow.",
            vec![(id, "degraded_performance".into())],
        )
        .unwrap();
        assert_eq!((t.name.as_str(), t.title.as_str()), ("DB slow", ""));
        assert_eq!(t.components, vec![(id, ComponentStatus::DegradedPerformance)]);
        let long = "x".repeat(256);
        let e = TemplateSpec::new("x", "\u{84}", "identified", "b", vec![]).unwrap_err();
        assert_eq!(e.problems()[0].field, "title", "control characters are refused");
        let e = TemplateSpec::new("", &long, "fixed", "", vec![(id, "down".into())]).unwrap_err();
        let fields: Vec<&str> = e.problems().iter().map(|p| p.field).collect();
        assert_eq!(fields, ["name", "title", "status", "body", "components"]);
    }
}
