//! Changes → Templates: the catalogue of pre-approved standard changes (managers keep it), each
//! with a "Raise" link that opens the change form filled in from it.

use super::{Chrome, PageAuth, done, error_page, form_error, outcome};
use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use crate::operations::change_templates as op;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::Form;
use opsdeck_core::change::template::TemplateInput;
use opsdeck_store::change::templates::StoredTemplate;
use serde::Deserialize;

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct TemplateForm {
    name: String,
    description: String,
    /// A CI name, identity or id per line.
    cis: String,
    duration_minutes: String,
    implementation_plan: String,
    test_plan: String,
    backout_plan: String,
    outage_expected: Option<String>,
}

impl TemplateForm {
    async fn input(&self, state: &AppState, auth: &Auth) -> Result<TemplateInput, ApiError> {
        auth.require(opsdeck_core::role::Permission::Configure)?;
        let max = opsdeck_core::change::template::TEMPLATE_CIS_MAX;
        let ci_ids = super::ci_lines::resolve(state, &self.cis, max, "a template names").await?;
        let duration_minutes = self
            .duration_minutes
            .trim()
            .parse::<i64>()
            .map_err(|_| ApiError::invalid("duration_minutes", "give the minutes the work takes"))?;
        Ok(TemplateInput {
            name: self.name.clone(),
            description: Some(self.description.clone()),
            implementation_plan: Some(self.implementation_plan.clone()),
            test_plan: Some(self.test_plan.clone()),
            backout_plan: Some(self.backout_plan.clone()),
            ci_ids,
            duration_minutes,
            outage_expected: self.outage_expected.is_some(),
            answers: Default::default(),
            active: true,
        })
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "changes/templates.html")]
pub struct TemplatesPage {
    chrome: Chrome,
    templates: Vec<StoredTemplate>,
    can_respond: bool,
    form: TemplateForm,
    error: Option<String>,
}

async fn page(
    state: &AppState,
    auth: &PageAuth,
    notice: Option<String>,
    form: TemplateForm,
    error: Option<String>,
) -> Response {
    let chrome = match auth.chrome(state, "changes", notice).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let templates = match op::list(state, &auth.0).await {
        Ok(t) => t,
        Err(e) => return error_page(&e),
    };
    let can_respond = auth.0.allows(opsdeck_core::role::Permission::Respond);
    let code = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    (code, TemplatesPage { chrome, templates, can_respond, form, error }).into_response()
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct NoticeQuery {
    notice: Option<String>,
}

pub async fn templates(State(state): State<AppState>, auth: PageAuth, Query(q): Query<NoticeQuery>) -> Response {
    let form = TemplateForm { duration_minutes: "30".into(), ..TemplateForm::default() };
    page(&state, &auth, q.notice, form, None).await
}

pub async fn create(State(state): State<AppState>, auth: PageAuth, Form(f): Form<TemplateForm>) -> Response {
    let result = async { op::save(&state, &auth.0, None, &f.input(&state, &auth.0).await?).await }.await;
    match result {
        Ok(t) => done("/changes/templates", &format!("Template {} added", t.spec.name)),
        Err(e) => match form_error(e) {
            Ok(msg) => page(&state, &auth, None, f, Some(msg)).await,
            Err(r) => r,
        },
    }
}

pub async fn delete(State(state): State<AppState>, auth: PageAuth, Path(id): Path<String>) -> Response {
    let result = async {
        let id = crate::extract::parse_id(opsdeck_core::Entity::ChangeTemplate, &id)?;
        op::delete(&state, &auth.0, id).await?;
        Ok("Template deleted".to_owned())
    }
    .await;
    outcome("/changes/templates", result)
}
