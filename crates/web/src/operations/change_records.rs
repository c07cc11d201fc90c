//! Changes recorded after they ran: deploys reported by CI/CD (`/integrations/{key}/deploy`)
//! and PagerDuty change events. Each becomes a closed standard change on the integration's
//! service and the CIs it names, and a change event on the service's timeline, so the next
//! incident on them lists it.

use super::change_calendar::assess;
use crate::AppState;
use crate::error::ApiError;
use chrono::{DateTime, Utc};
use opsdeck_core::alert::{AlertLink, ChangeSignal};
use opsdeck_core::audit::Actor;
use opsdeck_core::change::deploy::Deploy;
use opsdeck_core::change::spec::ChangeSpec;
use opsdeck_core::change::{ChangeState, ChangeType, CloseCode};
use opsdeck_store::change::{Change, Origin};
use opsdeck_store::integration::Route;
use uuid::Uuid;

/// What ran, on which service.
pub struct Ran<'a> {
    pub route: &'a Route,
    pub source: &'static str,
    pub title: String,
    pub description: String,
    pub cis: Vec<Uuid>,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub outcome: CloseCode,
    pub external_id: Option<String>,
}

/// Records a change that ran as a closed standard change; a retried event (same external id)
/// answers with the change already recorded.
pub async fn record(state: &AppState, ran: Ran<'_>) -> Result<Change, ApiError> {
    if let Some(ext) = &ran.external_id
        && let Some(id) = state.db.change_by_external(ran.source, ext).await?
    {
        return Ok(state.db.get_change(id).await?);
    }
    let spec = ChangeSpec {
        title: ran.title,
        kind: ChangeType::Standard,
        description: ran.description,
        ci_ids: ran.cis,
        service_ids: vec![ran.route.service_id],
        planned_start: Some(ran.started_at),
        planned_end: Some(ran.finished_at),
        implementation_plan: String::new(),
        test_plan: String::new(),
        backout_plan: String::new(),
        outage_expected: false,
        assignee_id: None,
        implementer_id: None,
        answers: Default::default(),
        template_id: None,
    };
    let (risk, _) = assess(state, &spec, Uuid::nil()).await?;
    let origin = Origin {
        source: ran.source,
        external_id: ran.external_id,
        state: ChangeState::Closed,
        actual: Some((ran.started_at, ran.finished_at)),
        close_code: Some(ran.outcome),
    };
    let actor = Actor::system(&format!("{} integration", ran.source));
    let c = state.db.create_change(&actor, state.now(), &spec, &risk, &origin).await?;
    state.events.publish(super::changes::CHANGED, Some(c.id), format!("{} recorded from {}", c.key(), ran.source));
    Ok(c)
}

/// A deploy: its CIs resolved by identity or name (those that name no CI are returned, not
/// refused: a pipeline should not fail for a CI the CMDB does not know yet), a change event on
/// the service, and the change.
pub async fn deploy(state: &AppState, route: &Route, d: Deploy) -> Result<(Change, Vec<String>), ApiError> {
    if let Some(ext) = &d.external_id
        && let Some(id) = state.db.change_by_external("deploy", ext).await?
    {
        return Ok((state.db.get_change(id).await?, Vec::new()));
    }
    let mut cis = Vec::new();
    let mut unknown = Vec::new();
    let by_identity = state.db.cis_by_identity(&d.cis).await?;
    for name in &d.cis {
        if let Some(c) = by_identity.iter().find(|c| c.identity.as_deref() == Some(name.as_str())) {
            cis.push(c.id);
            continue;
        }
        match state.db.cis_named(name).await?.as_slice() {
            [one] => cis.push(one.id),
            _ => unknown.push(name.clone()),
        }
    }
    cis.sort_unstable();
    cis.dedup();
    let signal = ChangeSignal {
        summary: d.summary.clone(),
        source: "deploy".into(),
        at: Some(d.finished_at),
        details: serde_json::json!({"status": d.outcome.as_str(), "description": d.description, "cis": d.cis}),
        links: d.url.iter().map(|u| AlertLink { href: u.clone(), text: "Pipeline run".into() }).collect(),
    };
    state.db.record_change(state.now(), route.service_id, Some(route.integration_id), &signal).await?;
    let ran = Ran {
        route,
        source: "deploy",
        title: d.summary,
        description: d.description,
        cis,
        started_at: d.started_at,
        finished_at: d.finished_at,
        outcome: d.outcome,
        external_id: d.external_id,
    };
    Ok((record(state, ran).await?, unknown))
}
