//! The maintenance page: planned windows and a form to add one.

use super::{Chrome, PageAuth, done, error_page, form_error};
use crate::AppState;
use crate::api::maintenance::WindowDto;
use crate::error::ApiError;
use crate::operations::maintenance as op;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::Form;
use chrono::{TimeZone, Utc};
use opsdeck_core::Entity;
use opsdeck_core::maintenance::WindowInput;
use opsdeck_core::role::Permission;
use opsdeck_store::catalogue::ServiceFilter;
use serde::Deserialize;
use std::collections::HashMap;
use uuid::Uuid;

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct WindowForm {
    name: String,
    description: String,
    /// `YYYY-MM-DDTHH:MM` in `timezone` (an HTML datetime-local value).
    starts_local: String,
    timezone: String,
    duration_minutes: String,
    /// none, daily, weekly, monthly or custom.
    repeat: String,
    rrule: String,
    service_ids: Vec<Uuid>,
    monitor_ids: Vec<Uuid>,
}

pub struct Row {
    w: WindowDto,
    scope: String,
    /// The current or next occurrence, readable.
    next: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "monitors/maintenance.html")]
pub struct MaintenancePage {
    chrome: Chrome,
    rows: Vec<Row>,
    services: Vec<opsdeck_store::catalogue::ServiceView>,
    /// Monitors to choose from: (id, name), the first 500 by name.
    monitors: Vec<(Uuid, String)>,
    form: WindowForm,
    error: Option<String>,
}

async fn page(
    state: &AppState,
    auth: &PageAuth,
    notice: Option<String>,
    form: WindowForm,
    error: Option<String>,
) -> Response {
    let chrome = match auth.chrome(state, "maintenance", notice).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let windows = match state.db.list_windows().await {
        Ok(w) => w,
        Err(e) => return error_page(&e.into()),
    };
    let services = match state.db.list_services(&ServiceFilter { limit: Some(500), ..Default::default() }).await {
        Ok(s) => s.items,
        Err(e) => return error_page(&e.into()),
    };
    let monitors: Vec<(Uuid, String)> = match state
        .db
        .list_monitors(&opsdeck_store::monitor::MonitorFilter { limit: Some(500), ..Default::default() })
        .await
    {
        Ok(p) => p.items.into_iter().map(|m| (m.monitor.id, m.monitor.spec.name)).collect(),
        Err(e) => return error_page(&e.into()),
    };
    let monitor_names: HashMap<Uuid, String> = monitors.iter().cloned().collect();
    let names: HashMap<Uuid, String> = services.iter().map(|s| (s.service.id, s.service.name.clone())).collect();
    let now = state.now();
    let rows = windows
        .into_iter()
        .map(|w| {
            let mut parts: Vec<String> = w
                .spec
                .service_ids
                .iter()
                .map(|id| names.get(id).cloned().unwrap_or_else(|| "deleted service".into()))
                .collect();
            for id in &w.spec.monitor_ids {
                parts.push(monitor_names.get(id).cloned().unwrap_or_else(|| "a deleted monitor".into()));
            }
            let next =
                w.spec.next(now).map(|(s, e)| format!("{} – {}", s.format("%a %d %b %H:%M"), e.format("%H:%M UTC")));
            Row { scope: parts.join(", "), next, w: WindowDto::new(w, now) }
        })
        .collect();
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    (status, MaintenancePage { chrome, rows, services, monitors, form, error }).into_response()
}

#[derive(Deserialize)]
pub struct NoticeQuery {
    notice: Option<String>,
}

pub async fn list(State(state): State<AppState>, auth: PageAuth, Query(q): Query<NoticeQuery>) -> Response {
    let form = WindowForm {
        timezone: "UTC".into(),
        duration_minutes: "60".into(),
        repeat: "none".into(),
        ..Default::default()
    };
    page(&state, &auth, q.notice, form, None).await
}

impl WindowForm {
    fn input(&self) -> Result<WindowInput, ApiError> {
        let tz_name = if self.timezone.trim().is_empty() { "UTC" } else { self.timezone.trim() };
        let tz: chrono_tz::Tz = tz_name.parse().map_err(|_| {
            ApiError::invalid("timezone", format!("unknown time zone {tz_name:?}; use e.g. Europe/Berlin"))
        })?;
        let local = opsdeck_core::time::parse_local("starts_at", &self.starts_local)?;
        let starts_at = tz
            .from_local_datetime(&local)
            .earliest()
            .ok_or_else(|| ApiError::invalid("starts_at", "this local time does not exist (a DST gap); pick another"))?
            .with_timezone(&Utc);
        let rrule = match self.repeat.as_str() {
            "daily" => Some("FREQ=DAILY".to_owned()),
            "weekly" => Some("FREQ=WEEKLY".to_owned()),
            "monthly" => Some("FREQ=MONTHLY".to_owned()),
            "custom" => Some(self.rrule.clone()),
            _ => None,
        };
        let duration = self
            .duration_minutes
            .trim()
            .parse::<i64>()
            .map_err(|_| ApiError::invalid("duration_minutes", "must be a whole number of minutes"))?;
        Ok(WindowInput {
            name: Some(self.name.clone()),
            description: Some(self.description.clone()),
            starts_at: Some(starts_at),
            duration_minutes: Some(duration),
            rrule: Some(rrule),
            timezone: Some(tz_name.to_owned()),
            service_ids: Some(self.service_ids.clone()),
            monitor_ids: Some(self.monitor_ids.clone()),
        })
    }
}

pub async fn create(State(state): State<AppState>, auth: PageAuth, Form(f): Form<WindowForm>) -> Response {
    if let Err(r) = auth.require(Permission::Configure) {
        return r;
    }
    let result = async { op::create_window(&state, &auth.0, f.input()?).await }.await;
    match result {
        Ok(w) => done("/maintenance", &format!("Maintenance {} planned", w.spec.name)),
        Err(e) => match form_error(e) {
            Ok(msg) => page(&state, &auth, None, f, Some(msg)).await,
            Err(r) => r,
        },
    }
}

pub async fn delete(State(state): State<AppState>, auth: PageAuth, Path(id): Path<String>) -> Response {
    if let Err(r) = auth.require(Permission::Configure) {
        return r;
    }
    let result = async {
        let id = crate::extract::parse_id(Entity::MaintenanceWindow, &id)?;
        op::delete_window(&state, &auth.0, id).await
    }
    .await;
    match result {
        Ok(w) => done("/maintenance", &format!("Maintenance {} deleted", w.spec.name)),
        Err(e) => error_page(&e),
    }
}
