//! The overview: the state of the catalogue and, for admins, recent changes.

use super::{Chrome, PageAuth, abs, ago, error_page};
use crate::AppState;
use crate::operations::oncall;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use opsdeck_core::role::Permission;
use opsdeck_store::audit::AuditFilter;
use opsdeck_store::catalogue::ServiceFilter;

pub struct Activity {
    pub actor: String,
    pub summary: String,
    pub ago: String,
    pub at: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "overview/home.html")]
pub struct HomePage {
    chrome: Chrome,
    services: i64,
    teams: usize,
    teams_more: bool,
    /// Services per tier 1..=4.
    tiers: [i64; 4],
    unowned: i64,
    activity: Vec<Activity>,
    /// Who is on call now, per schedule.
    on_call: Vec<(String, oncall::OnCall)>,
}

pub async fn page(
    State(state): State<AppState>,
    page: PageAuth,
    Query(q): Query<super::account::NoticeQuery>,
) -> Response {
    let chrome = match page.chrome(&state, "home", q.notice).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    match build(&state, &page, chrome).await {
        Ok(p) => p.into_response(),
        Err(e) => error_page(&e),
    }
}

async fn build(state: &AppState, page: &PageAuth, chrome: Chrome) -> Result<HomePage, crate::ApiError> {
    let services = state.db.count_services().await?;
    let teams = state.db.list_teams(None, None, Some(500)).await?;
    // Tier and ownership counts from one bounded pass over the catalogue.
    let mut tiers = [0i64; 4];
    let mut unowned = 0;
    let all = state.db.list_services(&ServiceFilter { limit: Some(500), ..Default::default() }).await?;
    for s in &all.items {
        if let Some(slot) = tiers.get_mut((s.service.tier - 1).clamp(0, 3) as usize) {
            *slot += 1;
        }
        if s.service.team_id.is_none() {
            unowned += 1;
        }
    }
    let now = state.now();
    let activity = if page.0.allows(Permission::Administer) {
        state
            .db
            .list_audit(&AuditFilter { limit: Some(8), ..Default::default() })
            .await?
            .items
            .into_iter()
            .map(|e| Activity { actor: e.actor, summary: e.summary, ago: ago(e.at, now), at: abs(e.at) })
            .collect()
    } else {
        Vec::new()
    };
    let schedules = state.db.list_schedules().await?;
    let names: std::collections::HashMap<uuid::Uuid, String> =
        schedules.iter().map(|s| (s.id, s.spec.name.clone())).collect();
    let on_call = oncall::who_is_on_call(state, oncall::Scope::All, state.now())
        .await?
        .into_iter()
        .map(|o| (o.schedule_id.and_then(|s| names.get(&s).cloned()).unwrap_or_default(), o))
        .collect();
    Ok(HomePage {
        on_call,
        chrome,
        services,
        teams: teams.items.len(),
        teams_more: teams.next_cursor.is_some(),
        tiers,
        unowned,
        activity,
    })
}
