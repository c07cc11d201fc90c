//! A service's integrations page: add an integration and see its key once with the exact URL
//! and copy-paste configuration for the sender; rotate or delete keys; try a webhook payload
//! against the field mapping; and the service's alert grouping, auto-resolve and rules.

use super::alert_rules::AlertForm;
use super::{Chrome, PageAuth, done, error_page, form_error, outcome};
use crate::AppState;
use crate::api::integrations::{PreviewDto, SettingsDto};
use crate::error::ApiError;
use crate::operations::integrations::{self as op, ingest_url};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::Form;
use opsdeck_core::Entity;
use opsdeck_core::alert::webhook::Mapping;
use opsdeck_core::alert::{IntegrationType, Severity};
use opsdeck_core::role::Permission;
use opsdeck_store::catalogue::{Ref, ServiceFilter, ServiceView};
use opsdeck_store::integration::Integration;
use serde::Deserialize;

pub struct Example {
    title: &'static str,
    text: String,
}

pub struct Item {
    it: Integration,
    url: String,
    last: String,
    examples: Vec<Example>,
    mapping_json: String,
}

/// A key just created or rotated: shown once, with examples that carry it.
pub struct Fresh {
    name: String,
    key: String,
    url: String,
    examples: Vec<Example>,
}

#[derive(Template, WebTemplate)]
#[template(path = "incidents/integrations.html")]
pub struct IntegrationsPage {
    chrome: Chrome,
    s: ServiceView,
    items: Vec<Item>,
    fresh: Option<Fresh>,
    types: [IntegrationType; 4],
    alert: AlertForm,
    alert_error: Option<String>,
    /// Other services a rule may route to: (id, name).
    services: Vec<(String, String)>,
    severities: [&'static str; 4],
    preview: Option<(String, PreviewDto)>,
    sample: String,
}

/// Copy-paste configuration for each sender, with `key` filled in.
pub fn examples(kind: IntegrationType, base: &str, key: &str) -> Vec<Example> {
    let url = ingest_url(base, kind, key);
    let hostport = base.trim_start_matches("http://").trim_start_matches("https://");
    let scheme = if base.starts_with("https://") { "https" } else { "http" };
    match kind {
        IntegrationType::Pagerduty => vec![
            Example {
                title: "curl",
                text: format!(
                    "curl -X POST {url} -H 'Content-Type: application/json' -d \
                     '{{\n  \"routing_key\": \"{key}\",\n  \"event_action\": \"trigger\",\n  \"dedup_key\": \
                         \"db1/disk\",\n  \"payload\": {{\"summary\": \"Disk 95% full on db1\", \"source\": \"db1\", \
                             \"severity\": \"critical\"}}\n}}'"
                ),
            },
            Example {
                title: "Alertmanager (pagerduty_configs)",
                text: format!(
                    "receivers:\n  - name: opsdeck\n    pagerduty_configs:\n      - routing_key: \
                     {key}\n        url: {url}\n        send_resolved: true"
                ),
            },
            Example {
                title: "opsdeck CLI",
                text: format!(
                    "opsdeck event send --server {base} --routing-key {key} \\\n  --summary 'Disk 95% \
                     full on db1' --severity critical --dedup-key db1/disk"
                ),
            },
        ],
        IntegrationType::Alertmanager => vec![
            Example {
                title: "Alertmanager (webhook_configs)",
                text: format!(
                    "receivers:\n  - name: opsdeck\n    webhook_configs:\n      - url: {url}\n        \
                     send_resolved: true"
                ),
            },
            Example {
                title: "Prometheus sending straight to Opsdeck (alerting:)",
                text: format!(
                    "alerting:\n  alertmanagers:\n    - scheme: {scheme}\n      static_configs:\n        \
                     - targets: ['{hostport}']\n      authorization:\n        credentials: {key}"
                ),
            },
        ],
        IntegrationType::Grafana => vec![Example {
            title: "Grafana contact point (Webhook)",
            text: format!("Integration: Webhook\nURL: {url}\nHTTP method: POST"),
        }],
        IntegrationType::Webhook => vec![Example {
            title: "curl",
            text: format!(
                "curl -X POST {url} -H 'Content-Type: application/json' \\\n  -d \
                 '{{\"summary\": \"Queue backed \
                 up\", \"severity\": \"warning\", \"dedup_key\": \"queue-7\", \"status\": \"firing\", \"source\": \
                     \"mq1\"}}'"
            ),
        }],
    }
}

const SAMPLE: &str = "{\n  \"summary\": \"Queue backed \
                      up\",\n  \"severity\": \"warning\",\n  \"dedup_key\": \"queue-7\",\n  \"status\": \
                          \"firing\",\n  \"source\": \"mq1\"\n}";

/// What a page draw carries besides the stored state.
#[derive(Default)]
struct Extras {
    notice: Option<String>,
    /// A key just created or rotated, shown once.
    fresh: Option<(Integration, String)>,
    preview: Option<(String, PreviewDto)>,
    sample: Option<String>,
    /// The alert-handling form as posted (unsaved), with why it was refused if it was.
    alert: Option<(AlertForm, Option<String>)>,
}

async fn render(state: &AppState, page: &PageAuth, headers: &HeaderMap, service: &str, x: Extras) -> Response {
    let chrome = chrome!(page, state, "services", x.notice);
    let s = try_page!(state.db.get_service(Ref::parse(service)).await);
    let list = try_page!(state.db.list_integrations(s.service.id).await);
    let (alert, alert_error) = match x.alert {
        Some(a) => a,
        None => (SettingsDto::from(try_page!(state.db.alert_settings(s.service.id).await)).into(), None),
    };
    let filter = ServiceFilter { limit: Some(500), ..Default::default() };
    let mut services: Vec<(String, String)> = try_page!(state.db.list_services(&filter).await)
        .items
        .into_iter()
        .filter(|v| v.service.id != s.service.id)
        .map(|v| (v.service.id.to_string(), v.service.name))
        .collect();
    // A rule may route to a service past the list's end: keep it choosable.
    for r in &alert.rows {
        if r.action == "route" && !r.route.is_empty() && !services.iter().any(|(id, _)| *id == r.route) {
            services.push((r.route.clone(), format!("service {}", r.route)));
        }
    }
    let base = crate::operations::settings::base_url(state, headers).await;
    let now = state.now();
    let items = list
        .into_iter()
        .map(|it| {
            let placeholder = format!("{}…", it.key_hint);
            Item {
                url: ingest_url(&base, it.kind, &placeholder),
                last: it.last_event_at.map(|t| super::ago(t, now)).unwrap_or_else(|| "never".into()),
                examples: examples(it.kind, &base, "YOUR_KEY"),
                mapping_json: serde_json::to_string_pretty(&it.mapping).unwrap_or_default(),
                it,
            }
        })
        .collect();
    let fresh = x.fresh.map(|(it, key)| Fresh {
        name: it.name.clone(),
        url: ingest_url(&base, it.kind, &key),
        examples: examples(it.kind, &base, &key),
        key,
    });
    IntegrationsPage {
        chrome,
        s,
        items,
        fresh,
        types: IntegrationType::ALL,
        alert,
        alert_error,
        services,
        severities: Severity::ALL.map(Severity::as_str),
        preview: x.preview,
        sample: x.sample.unwrap_or_else(|| SAMPLE.into()),
    }
    .into_response()
}

#[derive(Deserialize, Default)]
pub struct NoticeQuery {
    notice: Option<String>,
}

pub async fn page(
    State(state): State<AppState>,
    page: PageAuth,
    headers: HeaderMap,
    Path(service): Path<String>,
    Query(q): Query<NoticeQuery>,
) -> Response {
    render(&state, &page, &headers, &service, Extras { notice: q.notice, ..Default::default() }).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct CreateForm {
    kind: String,
    name: String,
}

pub async fn create(
    State(state): State<AppState>,
    page: PageAuth,
    headers: HeaderMap,
    Path(service): Path<String>,
    Form(f): Form<CreateForm>,
) -> Response {
    if let Err(r) = page.require(Permission::Configure) {
        return r;
    }
    let s = try_page!(state.db.get_service(Ref::parse(&service)).await);
    let back = format!("/services/{}/integrations", s.service.slug);
    let result = async {
        let kind = IntegrationType::parse(&f.kind).ok_or_else(|| ApiError::invalid("type", "choose a type"))?;
        op::create_integration(&state, &page.0, s.service.id, kind, Some(&f.name), None).await
    }
    .await;
    match result {
        Ok((it, key)) => {
            let notice = Some(format!("Integration {} added", it.name));
            render(&state, &page, &headers, &service, Extras { notice, fresh: Some((it, key)), ..Default::default() })
                .await
        }
        Err(e) if e.status().is_client_error() => done(&back, &format!("Not added: {}", e.message)),
        Err(e) => error_page(&e),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct MappingForm {
    mapping: String,
    sample: String,
}

fn parse_mapping(raw: &str) -> Result<Mapping, ApiError> {
    serde_json::from_str::<Mapping>(raw)
        .map_err(|e| ApiError::invalid("mapping", format!("not a mapping: {e}")))?
        .validate()
        .map_err(ApiError::from)
}

/// The integration of the page's service, and the page to go back to.
async fn integration_of(state: &AppState, service: &str, id: &str) -> Result<(Integration, String), ApiError> {
    let s = state.db.get_service(Ref::parse(service)).await?;
    let it = state.db.get_integration(crate::extract::parse_id(Entity::Integration, id)?).await?;
    if it.service_id != s.service.id {
        return Err(ApiError::not_found(Entity::Integration));
    }
    Ok((it, format!("/services/{}/integrations", s.service.slug)))
}

pub async fn rotate(
    State(state): State<AppState>,
    page: PageAuth,
    headers: HeaderMap,
    Path((service, id)): Path<(String, String)>,
) -> Response {
    let (it, _) = try_page!(integration_of(&state, &service, &id).await);
    match op::rotate_key(&state, &page.0, it.id).await {
        Ok((it, key)) => {
            let notice = Some("Key rotated: the old key no longer works".into());
            render(&state, &page, &headers, &service, Extras { notice, fresh: Some((it, key)), ..Default::default() })
                .await
        }
        Err(e) => error_page(&e),
    }
}

pub async fn delete(
    State(state): State<AppState>,
    page: PageAuth,
    Path((service, id)): Path<(String, String)>,
) -> Response {
    let (it, back) = try_page!(integration_of(&state, &service, &id).await);
    let result = op::delete_integration(&state, &page.0, it.id).await;
    outcome(&back, result.map(|()| format!("Integration {} deleted", it.name)))
}

pub async fn save_mapping(
    State(state): State<AppState>,
    page: PageAuth,
    Path((service, id)): Path<(String, String)>,
    Form(f): Form<MappingForm>,
) -> Response {
    let (it, back) = try_page!(integration_of(&state, &service, &id).await);
    let result = async {
        let m = parse_mapping(&f.mapping)?;
        op::update_integration(&state, &page.0, it.id, None, Some(m)).await?;
        Ok("Mapping saved".to_owned())
    };
    outcome(&back, result.await)
}

/// What a sample payload would become; stores nothing (viewers may try it).
pub async fn preview(
    State(state): State<AppState>,
    page: PageAuth,
    headers: HeaderMap,
    Path((service, id)): Path<(String, String)>,
    Form(f): Form<MappingForm>,
) -> Response {
    let (it, _) = try_page!(integration_of(&state, &service, &id).await);
    let result = (|| {
        let payload: serde_json::Value =
            serde_json::from_str(&f.sample).map_err(|e| ApiError::invalid("payload", format!("not JSON: {e}")))?;
        let mapping = if f.mapping.trim().is_empty() { None } else { Some(parse_mapping(&f.mapping)?) };
        op::preview_payload(&it, mapping, &payload)
    })();
    let dto = match result {
        Ok(p) => PreviewDto::from(p),
        Err(e) => PreviewDto { ok: false, error: Some(e.message), alert: None },
    };
    let x = Extras { preview: Some((it.name.clone(), dto)), sample: Some(f.sample), ..Default::default() };
    render(&state, &page, &headers, &service, x).await
}

/// Saves the alert-handling form, or redraws it unsaved after an add/move/remove button or a
/// refused save (values kept, the reason beside the form).
pub async fn settings(
    State(state): State<AppState>,
    page: PageAuth,
    headers: HeaderMap,
    Path(service): Path<String>,
    axum::extract::RawForm(body): axum::extract::RawForm,
) -> Response {
    if let Err(r) = page.require(Permission::Configure) {
        return r;
    }
    let s = try_page!(state.db.get_service(Ref::parse(&service)).await);
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let (mut form, edit) = AlertForm::from_pairs(&pairs);
    if form.edit(edit) {
        let notice = Some("Rules changed below: save to keep them".to_owned());
        return render(
            &state,
            &page,
            &headers,
            &service,
            Extras { notice, alert: Some((form, None)), ..Default::default() },
        )
        .await;
    }
    let result = async { op::set_alert_settings(&state, &page.0, s.service.id, form.input()?).await }.await;
    match result.map(|_| ()) {
        Ok(()) => done(&format!("/services/{}/integrations", s.service.slug), "Alert settings saved"),
        Err(e) => match form_error(e) {
            Ok(msg) => {
                let x = Extras { alert: Some((form, Some(msg))), ..Default::default() };
                let mut r = render(&state, &page, &headers, &service, x).await;
                *r.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
                r
            }
            Err(r) => r,
        },
    }
}
