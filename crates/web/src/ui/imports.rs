//! Settings → Import (admins): read PagerDuty, an Uptime Kuma database or a Gatus file into a
//! plan shown before anything is written; "Import now" applies it and shows the report (the new
//! integration keys' URLs once). The same operations as the API.

use super::{Chrome, PageAuth, done, error_page, form_error};
use crate::AppState;
use crate::error::ApiError;
use crate::operations::imports::{self as op, ImportReport, ImportStep, Origin, read};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::Form;
use opsdeck_core::Entity;
use opsdeck_core::import::SourceKind;
use opsdeck_store::import::ImportRun;
use serde::Deserialize;

/// Rows of a plan shown on the page (a large import's full plan is in the API's answer).
const STEPS_SHOWN: usize = 500;
/// A form carrying a file, beyond the largest file taken.
pub const FORM_MAX: usize = read::KUMA_FILE_MAX + 64 * 1024;

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct NoticeQuery {
    notice: Option<String>,
}

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct VendorForm {
    source: String,
    api_url: String,
    token: String,
    instance: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/import.html")]
pub struct ImportPage {
    chrome: Chrome,
    runs: Vec<ImportRun>,
    form: VendorForm,
    error: Option<String>,
}

async fn page(
    state: &AppState,
    auth: &PageAuth,
    notice: Option<String>,
    form: VendorForm,
    error: Option<String>,
) -> Response {
    let chrome = match auth.chrome(state, "import", notice).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let runs = match op::list(state, &auth.0).await {
        Ok(r) => r,
        Err(e) => return error_page(&e),
    };
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    (status, ImportPage { chrome, runs, form, error }).into_response()
}

pub async fn index(State(state): State<AppState>, auth: PageAuth, Query(q): Query<NoticeQuery>) -> Response {
    page(
        &state,
        &auth,
        q.notice,
        VendorForm { api_url: "https://api.pagerduty.com".into(), ..Default::default() },
        None,
    )
    .await
}

/// Reads PagerDuty or Opsgenie through its API and shows the plan.
pub async fn vendor(State(state): State<AppState>, auth: PageAuth, Form(f): Form<VendorForm>) -> Response {
    let result = async {
        let source = SourceKind::parse(&f.source).unwrap_or(SourceKind::Pagerduty);
        let origin = Origin::new(source, Some(&f.instance))?;
        let bundle = read::vendor(&state, &auth.0, source, &f.api_url, &f.token).await?;
        op::plan(&state, &auth.0, &origin, bundle).await
    }
    .await;
    planned(&state, &auth, result, VendorForm { token: String::new(), ..f }).await
}

async fn planned(
    state: &AppState,
    auth: &PageAuth,
    result: Result<(uuid::Uuid, ImportReport), ApiError>,
    form: VendorForm,
) -> Response {
    match result {
        Ok((id, _)) => done(&format!("/settings/import/{id}"), "Read: this is the plan; nothing is written yet"),
        Err(e) => match form_error(e) {
            Ok(msg) => page(state, auth, None, form, Some(msg)).await,
            Err(r) => r,
        },
    }
}

/// An uploaded `kuma.db` or Gatus file, planned.
pub async fn file(State(state): State<AppState>, auth: PageAuth, mut form: Multipart) -> Response {
    let result = async {
        // Nothing is read for someone who may not import.
        auth.0.require(opsdeck_core::role::Permission::Administer)?;
        let (mut source, mut instance, mut data) = (None, String::new(), Vec::new());
        let unread = |_| ApiError::invalid("file", "the form arrived incomplete (or over 256 MiB); send it again");
        while let Some(mut field) = form.next_field().await.map_err(unread)? {
            match field.name() {
                Some("source") => source = SourceKind::parse(&field.text().await.map_err(unread)?),
                Some("instance") => instance = field.text().await.map_err(unread)?,
                Some("file") => {
                    while let Some(chunk) = field.chunk().await.map_err(unread)? {
                        if data.len().saturating_add(chunk.len()) > read::KUMA_FILE_MAX {
                            return Err(ApiError::invalid("file", "the file is over 256 MiB"));
                        }
                        data.extend_from_slice(&chunk);
                    }
                }
                _ => {}
            }
        }
        if data.is_empty() {
            return Err(ApiError::invalid("file", "choose the file to import"));
        }
        let origin = Origin::new(source.unwrap_or(SourceKind::Gatus), Some(&instance))?;
        let bundle = match origin.source {
            SourceKind::UptimeKuma => read::uptime_kuma(&state, &auth.0, &data).await?,
            SourceKind::Gatus if data.len() <= read::GATUS_FILE_MAX => read::gatus(&auth.0, &data)?,
            SourceKind::Gatus => return Err(ApiError::invalid("file", "a Gatus file is at most 4 MiB")),
            SourceKind::Pagerduty | SourceKind::Opsgenie | SourceKind::GrafanaOncall => {
                return Err(ApiError::invalid("source", "on-call tools are read through their APIs"));
            }
        };
        op::plan(&state, &auth.0, &origin, bundle).await
    }
    .await;
    planned(&state, &auth, result, VendorForm::default()).await
}

/// A step as a row: its action's label and CSS class.
pub struct Row<'a> {
    pub s: &'a ImportStep,
    pub label: &'static str,
    pub class: &'static str,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/import_run.html")]
pub struct RunPage {
    chrome: Chrome,
    run: ImportRun,
    report: Option<ImportReport>,
    error: Option<String>,
    /// The new keys' URLs are in this answer only (the page after applying).
    fresh: bool,
}

impl RunPage {
    fn rows(&self) -> Vec<Row<'_>> {
        let Some(r) = &self.report else { return vec![] };
        let mut rows: Vec<Row<'_>> = r
            .steps
            .iter()
            .map(|s| {
                let (label, class) = match s.action {
                    op::ImportAction::Create => ("create", "ok"),
                    op::ImportAction::Update => ("update", "warn"),
                    op::ImportAction::Unchanged => ("unchanged", "grey"),
                    op::ImportAction::Adopt => ("adopt", "grey"),
                    op::ImportAction::Error => ("error", "crit"),
                };
                Row { s, label, class }
            })
            .collect();
        // Errors first: they are what needs reading.
        rows.sort_by_key(|r| r.label != "error");
        rows.truncate(STEPS_SHOWN);
        rows
    }

    fn hidden(&self) -> usize {
        self.report.as_ref().map_or(0, |r| r.steps.len().saturating_sub(STEPS_SHOWN))
    }

    fn status_class(&self) -> &'static str {
        match self.run.status.as_str() {
            "applied" => "ok",
            "failed" => "crit",
            _ => "grey",
        }
    }

    fn source_label(&self) -> &'static str {
        SourceKind::parse(&self.run.source).map_or("?", SourceKind::label)
    }
}

fn run_page(chrome: Chrome, run: ImportRun, fresh: Option<ImportReport>) -> Response {
    let error = run.report.get("error").and_then(|e| e.as_str()).map(str::to_owned);
    let stored: Option<ImportReport> = serde_json::from_value(run.report.clone()).ok();
    let is_fresh = fresh.is_some();
    RunPage { chrome, report: fresh.or(stored), error, fresh: is_fresh, run }.into_response()
}

pub async fn show(
    State(state): State<AppState>,
    auth: PageAuth,
    Path(id): Path<String>,
    Query(q): Query<NoticeQuery>,
) -> Response {
    let chrome = match auth.chrome(&state, "import", q.notice).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let run = async { op::get(&state, &auth.0, crate::extract::parse_id(Entity::Import, &id)?).await }.await;
    match run {
        Ok(run) => run_page(chrome, run, None),
        Err(e) => error_page(&e),
    }
}

/// Applies the plan and shows the report at once (the new keys are in this page only).
pub async fn apply(State(state): State<AppState>, auth: PageAuth, Path(id): Path<String>) -> Response {
    let result = async {
        let id = crate::extract::parse_id(Entity::Import, &id)?;
        let report = op::apply(&state, &auth.0, id).await?;
        Ok::<_, ApiError>((op::get(&state, &auth.0, id).await?, report))
    }
    .await;
    match result {
        Ok((run, report)) => {
            let c = report.counts;
            let notice = format!("Imported: {} created, {} updated, {} errors", c.create, c.update, c.error);
            match auth.chrome(&state, "import", Some(notice)).await {
                Ok(chrome) => run_page(chrome, run, Some(report)),
                Err(r) => r,
            }
        }
        Err(e) if e.status().is_client_error() => {
            done(&format!("/settings/import/{id}"), &format!("Not done: {}", e.message))
        }
        Err(e) => error_page(&e),
    }
}
