//! The desk's settings (managers): the priority matrix, closing resolved tickets after some
//! days, and each priority's SLA policy as people write it (hours as `09:00-17:00`, holidays as
//! dates); one reading of those forms for the API and the page.

use super::tickets::{matrix, save_policy};
use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use opsdeck_core::desk::hours::{BusinessHours, HOLIDAYS_MAX, INTERVALS_MAX, Interval, parse_interval};
use opsdeck_core::desk::ticket::PriorityMatrix;
use opsdeck_core::role::Permission;
use opsdeck_store::desk::SlaPolicy;
use serde_json::json;
use std::collections::BTreeSet;

const MATRIX: &str = "desk.priority_matrix";
const AUTO_CLOSE: &str = "desk.auto_close_days";
/// Days after which resolved tickets are closed, at most (0: never).
pub const AUTO_CLOSE_MAX: u32 = 365;

/// The desk's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct DeskSettings {
    pub matrix: PriorityMatrix,
    /// Resolved tickets are closed this many days after their resolution (0: never).
    pub auto_close_days: u32,
}

/// The settings in force (agents read them).
pub async fn settings(state: &AppState, auth: &Auth) -> Result<DeskSettings, ApiError> {
    auth.require(Permission::Respond)?;
    Ok(DeskSettings { matrix: matrix(state).await?, auto_close_days: auto_close_days(state).await? })
}

/// Days after which resolved tickets close (7 until set; 0: never).
pub async fn auto_close_days(state: &AppState) -> Result<u32, ApiError> {
    let v = state.db.get_setting(AUTO_CLOSE).await?;
    let days = v.and_then(|v| v["days"].as_u64()).and_then(|d| u32::try_from(d).ok());
    Ok(days.filter(|d| *d <= AUTO_CLOSE_MAX).unwrap_or(7))
}

/// Saves the settings (managers and up), each change audited. A new matrix applies to tickets
/// raised from now on; raised ones keep their priority.
pub async fn save(state: &AppState, auth: &Auth, s: &DeskSettings) -> Result<DeskSettings, ApiError> {
    auth.require(Permission::Configure)?;
    let matrix = PriorityMatrix::new(s.matrix.cells)
        .map_err(|_| ApiError::invalid("priority_matrix", "every cell is a priority 1 to 4"))?;
    if s.auto_close_days > AUTO_CLOSE_MAX {
        return Err(ApiError::invalid("auto_close_days", format!("must be 0 (never) to {AUTO_CLOSE_MAX}")));
    }
    let (actor, now) = (auth.actor(), state.now());
    let cells = serde_json::to_value(&matrix).map_err(|_| ApiError::internal())?;
    state.db.put_setting(&actor, now, MATRIX, &cells).await?;
    // An object, as every setting is (the audit log's before and after are objects).
    state.db.put_setting(&actor, now, AUTO_CLOSE, &json!({"days": s.auto_close_days})).await?;
    Ok(DeskSettings { matrix, auto_close_days: s.auto_close_days })
}

/// A priority's SLA policy as written in a form or a body.
#[derive(Debug, Clone, Default)]
pub struct PolicyInput {
    pub priority: u8,
    pub first_response_minutes: u32,
    pub resolution_minutes: u32,
    pub timezone: String,
    /// Seven days, Monday first, each a list of `HH:MM-HH:MM`.
    pub week: Vec<Vec<String>>,
    /// `YYYY-MM-DD`.
    pub holidays: Vec<String>,
    pub escalation_email: Option<String>,
    /// An iCalendar file whose events' days join the holidays.
    pub ical: Option<String>,
}

/// Checks a policy as written and saves it (managers and up): open tickets' clocks follow at once.
pub async fn save_policy_input(state: &AppState, auth: &Auth, input: &PolicyInput) -> Result<SlaPolicy, ApiError> {
    auth.require(Permission::Configure)?;
    let p = policy_from(input)?;
    save_policy(state, auth, &p).await?;
    Ok(p)
}

fn policy_from(b: &PolicyInput) -> Result<SlaPolicy, ApiError> {
    let hours = hours_from(&b.timezone, &b.week, &b.holidays, b.ical.as_deref())?;
    let escalation_email = match b.escalation_email.as_deref().map(str::trim).filter(|e| !e.is_empty()) {
        None => None,
        Some(e) => Some(opsdeck_core::validate::email("escalation_email", e)?),
    };
    Ok(SlaPolicy {
        priority: b.priority,
        first_response_minutes: b.first_response_minutes,
        resolution_minutes: b.resolution_minutes,
        hours,
        escalation_email,
    })
}

/// A calendar as written: a time zone, seven days of `HH:MM-HH:MM` (Monday first), holidays as
/// `YYYY-MM-DD`, and an iCalendar file whose events' days join them.
pub fn hours_from(
    timezone: &str,
    week_written: &[Vec<String>],
    holidays: &[String],
    ical: Option<&str>,
) -> Result<BusinessHours, ApiError> {
    if week_written.len() != 7 {
        return Err(ApiError::invalid("week", "give seven days, Monday first"));
    }
    let mut week: [Vec<Interval>; 7] = Default::default();
    for (day, raw) in week.iter_mut().zip(week_written) {
        if raw.len() > INTERVALS_MAX {
            return Err(ApiError::invalid("week", format!("at most {INTERVALS_MAX} intervals a day")));
        }
        for s in raw {
            day.push(parse_interval("week", s)?);
        }
    }
    if holidays.len() > HOLIDAYS_MAX {
        return Err(ApiError::invalid("holidays", format!("at most {HOLIDAYS_MAX} holidays")));
    }
    let mut days =
        holidays.iter().map(|d| opsdeck_core::time::parse_date("holidays", d)).collect::<Result<BTreeSet<_>, _>>()?;
    if let Some(ical) = ical.filter(|i| !i.trim().is_empty()) {
        days.extend(opsdeck_core::desk::holidays::from_ical(ical)?);
        if days.len() > HOLIDAYS_MAX {
            return Err(ApiError::invalid("ical", format!("with these, more than {HOLIDAYS_MAX} holidays")));
        }
    }
    Ok(BusinessHours::new(timezone, week, days)?)
}

/// A policy as the forms write it: `(week, holidays)`, each day `09:00-17:00, 18:00-20:00`.
pub fn written(p: &SlaPolicy) -> (Vec<Vec<String>>, Vec<String>) {
    written_hours(&p.hours)
}

/// A calendar as the forms write it: `(week, holidays)`.
pub fn written_hours(hours: &BusinessHours) -> (Vec<Vec<String>>, Vec<String>) {
    let hm = |m: u16| format!("{:02}:{:02}", m / 60, m % 60);
    let week =
        hours.week.iter().map(|d| d.iter().map(|i| format!("{}-{}", hm(i.start), hm(i.end))).collect()).collect();
    let holidays = hours.holidays.iter().map(|d| d.format("%Y-%m-%d").to_string()).collect();
    (week, holidays)
}

/// Adds the days of an iCalendar file's events to a priority's holidays (managers and up).
pub async fn import_holidays(state: &AppState, auth: &Auth, priority: u8, ical: &str) -> Result<SlaPolicy, ApiError> {
    auth.require(Permission::Configure)?;
    let policies = state.db.sla_policies().await?;
    let p = policies.into_iter().find(|p| p.priority == priority).unwrap_or_else(|| SlaPolicy::default_for(priority));
    let (week, holidays) = written(&p);
    let input = PolicyInput {
        priority,
        first_response_minutes: p.first_response_minutes,
        resolution_minutes: p.resolution_minutes,
        timezone: p.hours.timezone.clone(),
        week,
        holidays,
        escalation_email: p.escalation_email.clone(),
        ical: Some(ical.to_owned()),
    };
    save_policy_input(state, auth, &input).await
}
