//! Public incidents on status pages: their status and impact in statuspage.io's vocabulary, and
//! the update a responder posts from an internal incident.

use crate::incident::Sev;
use crate::status_page::{COMPONENTS_MAX, ComponentStatus, Indicator};
use crate::{Error, Problems, Result};
use serde::Serialize;
use uuid::Uuid;

/// A public incident's status, as statuspage.io names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentStatus {
    Investigating,
    Identified,
    Monitoring,
    Resolved,
}

impl IncidentStatus {
    pub const ALL: [IncidentStatus; 4] = [
        IncidentStatus::Investigating,
        IncidentStatus::Identified,
        IncidentStatus::Monitoring,
        IncidentStatus::Resolved,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            IncidentStatus::Investigating => "investigating",
            IncidentStatus::Identified => "identified",
            IncidentStatus::Monitoring => "monitoring",
            IncidentStatus::Resolved => "resolved",
        }
    }

    pub fn parse(s: &str) -> Option<IncidentStatus> {
        IncidentStatus::ALL.into_iter().find(|c| c.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            IncidentStatus::Investigating => "Investigating",
            IncidentStatus::Identified => "Identified",
            IncidentStatus::Monitoring => "Monitoring",
            IncidentStatus::Resolved => "Resolved",
        }
    }
}

/// A public incident's impact (statuspage.io's `impact`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Impact {
    None,
    Minor,
    Major,
    Critical,
}

impl Impact {
    pub fn as_str(self) -> &'static str {
        match self {
            Impact::None => "none",
            Impact::Minor => "minor",
            Impact::Major => "major",
            Impact::Critical => "critical",
        }
    }

    pub fn parse(s: &str) -> Option<Impact> {
        [Impact::None, Impact::Minor, Impact::Major, Impact::Critical].into_iter().find(|c| c.as_str() == s)
    }

    /// The impact of an incident that sets these component statuses; with none given, that of
    /// the internal incident's severity.
    pub fn of(components: impl IntoIterator<Item = ComponentStatus>, severity: Sev) -> Impact {
        let by_severity = match severity {
            Sev::Sev1 => Impact::Critical,
            Sev::Sev2 => Impact::Major,
            Sev::Sev3 => Impact::Minor,
            Sev::Sev4 => Impact::None,
        };
        match components.into_iter().max() {
            None => by_severity,
            Some(ComponentStatus::MajorOutage) => Impact::Critical,
            Some(ComponentStatus::PartialOutage) => Impact::Major,
            Some(ComponentStatus::DegradedPerformance) => Impact::Minor,
            Some(_) => Impact::None,
        }
    }
}

impl Indicator {
    /// The indicator an unresolved incident of this impact calls for.
    pub fn from_impact(impact: Impact) -> Indicator {
        match impact {
            Impact::None => Indicator::None,
            Impact::Minor => Indicator::Minor,
            Impact::Major => Indicator::Major,
            Impact::Critical => Indicator::Critical,
        }
    }
}

/// A validated update to post on a status page from an internal incident.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UpdateSpec {
    pub page_id: Uuid,
    /// The public incident's title; `None` keeps it (the first update uses the internal
    /// incident's title then).
    pub name: Option<String>,
    pub status: IncidentStatus,
    pub body: String,
    /// Components and the status the incident gives them while it is unresolved; `None` keeps
    /// what the previous update set.
    pub components: Option<Vec<(Uuid, ComponentStatus)>>,
    /// Whether the page's subscribers hear of it (statuspage.io's `deliver_notifications`).
    pub notify: bool,
}

impl UpdateSpec {
    pub fn new(
        page_id: Uuid,
        name: Option<&str>,
        status: &str,
        body: &str,
        components: Option<Vec<(Uuid, String)>>,
    ) -> Result<UpdateSpec> {
        let mut p = Problems::default();
        let name = match name.map(str::trim).filter(|n| !n.is_empty()) {
            None => None,
            Some(n) if n.chars().any(char::is_control) => {
                p.push("name", "must not contain control characters");
                None
            }
            Some(n) => p.check(crate::incident::title(n).map_err(|e| match e {
                Error::Invalid { message, .. } => Error::invalid("name", message),
                e => e,
            })),
        };
        let status = IncidentStatus::parse(status.trim());
        if status.is_none() {
            p.push("status", "must be investigating, identified, monitoring or resolved");
        }
        let body = p.check(crate::incident::note(body));
        let components = match components {
            None => None,
            Some(cs) if cs.len() > COMPONENTS_MAX => {
                p.push("components", format!("at most {COMPONENTS_MAX} components"));
                None
            }
            Some(cs) => {
                let mut out = Vec::with_capacity(cs.len());
                for (id, st) in cs {
                    match ComponentStatus::parse(st.trim()) {
                        Some(s) => out.push((id, s)),
                        None => p.push(
                            "components",
                            format!(
                                "component {id}: {st:?} is not a status (operational, under_maintenance, \
                                 degraded_performance, partial_outage or major_outage)"
                            ),
                        ),
                    }
                }
                Some(out)
            }
        };
        p.finish()?;
        match (status, body) {
            (Some(status), Some(body)) => Ok(UpdateSpec { page_id, name, status, body, components, notify: true }),
            _ => Err(Error::invalid("status", "must be investigating, identified, monitoring or resolved")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn updates_are_checked_and_impact_follows_components() {
        let id = Uuid::nil();
        let cs = Some(vec![(id, "partial_outage".to_owned())]);
        let u = UpdateSpec::new(id, Some(" "), "identified", " Fix rolling out ", cs).unwrap();
        assert_eq!(u.name, None, "blank keeps the title");
        let long = "x".repeat(256);
        assert_eq!(UpdateSpec::new(id, Some(&long), "identified", "x", None).unwrap_err().problems()[0].field, "name");
        assert_eq!((u.status, u.body.as_str()), (IncidentStatus::Identified, "Fix rolling out"));
        let e = UpdateSpec::new(id, None, "fixed", "", Some(vec![(id, "down".into())])).unwrap_err();
        let fields: Vec<&str> = e.problems().iter().map(|p| p.field).collect();
        assert_eq!(fields, ["status", "body", "components"]);
        use ComponentStatus::*;
        assert_eq!(Impact::of([DegradedPerformance, MajorOutage], Sev::Sev4), Impact::Critical);
        assert_eq!(Impact::of([], Sev::Sev2), Impact::Major);
        assert_eq!(Impact::of([Operational], Sev::Sev1), Impact::None);
        assert_eq!(Indicator::from_impact(Impact::Minor), Indicator::Minor);
    }
}
