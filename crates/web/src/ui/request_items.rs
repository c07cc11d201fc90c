//! Managing the portal's request items (managers): the list, and one form to add or edit an
//! item. A form's fields are written one per line, `key | Label | kind | required | options`.

use super::{Chrome, PageAuth, done, error_page, form_error};
use crate::AppState;
use crate::error::ApiError;
use crate::operations::requests as op;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::Form;
use opsdeck_core::desk::request_item::{Field, FieldKind, ItemInput, ItemSpec};
use opsdeck_core::role::Permission;
use opsdeck_store::desk::requests::RequestItem;
use serde::Deserialize;

#[derive(Template, WebTemplate)]
#[template(path = "request_items/list.html")]
pub struct ListPage {
    chrome: Chrome,
    items: Vec<RequestItem>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct NoticeQuery {
    notice: Option<String>,
}

pub async fn list(State(state): State<AppState>, auth: PageAuth, Query(q): Query<NoticeQuery>) -> Response {
    let chrome = match auth.chrome(&state, "portal", q.notice).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    if let Err(e) = auth.0.require(Permission::Configure) {
        return error_page(&e);
    }
    match op::items(&state, &auth.0, true).await {
        Ok(items) => ListPage { chrome, items }.into_response(),
        Err(e) => error_page(&e),
    }
}

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct ItemForm {
    title: String,
    slug: String,
    category: String,
    description: String,
    fields: String,
    approver: String,
    tasks: String,
    impact: String,
    urgency: String,
    active: Option<String>,
    version: Option<i64>,
}

#[derive(Template, WebTemplate)]
#[template(path = "request_items/edit.html")]
pub struct EditPage {
    chrome: Chrome,
    form: ItemForm,
    /// The item being edited (none: a new one).
    editing: Option<String>,
    error: Option<String>,
    /// Active users who may approve (id, name).
    users: Vec<(uuid::Uuid, String)>,
}

/// Lines as the form shows an item's fields.
fn field_lines(fields: &[Field]) -> String {
    let lines: Vec<String> = fields
        .iter()
        .map(|f| {
            let mut parts = vec![
                f.key.clone(),
                f.label.clone(),
                f.kind.as_str().to_owned(),
                if f.required { "required" } else { "optional" }.into(),
            ];
            if !f.options.is_empty() {
                parts.push(f.options.join("; "));
            }
            parts.join(" | ")
        })
        .collect();
    lines.join("\n")
}

/// The fields written one per line: `key | Label | kind | required | option; option`.
fn parse_fields(text: &str) -> Result<Vec<Field>, ApiError> {
    let mut out = Vec::new();
    for (n, line) in text.lines().map(str::trim).filter(|l| !l.is_empty()).enumerate() {
        let at = n + 1;
        if at > opsdeck_core::desk::request_item::FIELDS_MAX {
            return Err(ApiError::invalid("fields", "at most 30 fields"));
        }
        let parts: Vec<&str> = line.split('|').map(str::trim).collect();
        let [key, label, kind, rest @ ..] = parts.as_slice() else {
            return Err(ApiError::invalid(
                "fields",
                format!("line {at}: write key | Label | kind (| required | options)"),
            ));
        };
        let kind = FieldKind::parse(kind).ok_or_else(|| {
            ApiError::invalid("fields", format!("line {at}: the kind must be {}", FieldKind::choices()))
        })?;
        let required = match rest.first().copied().unwrap_or("optional") {
            "required" => true,
            "optional" | "" => false,
            other => {
                return Err(ApiError::invalid(
                    "fields",
                    format!("line {at}: write required or optional, not {other:?}"),
                ));
            }
        };
        let options = rest.get(1).map_or_else(Vec::new, |o| {
            o.split(';').map(str::trim).filter(|o| !o.is_empty()).map(str::to_owned).collect()
        });
        out.push(Field { key: (*key).into(), label: (*label).into(), kind, required, options, help: String::new() });
    }
    Ok(out)
}

fn form_of(i: &RequestItem) -> ItemForm {
    ItemForm {
        title: i.title.clone(),
        slug: i.slug.clone(),
        category: i.category.clone(),
        description: i.description.clone(),
        fields: field_lines(&i.fields),
        approver: i.approver_id.map(|a| a.to_string()).unwrap_or_default(),
        tasks: i.tasks.join("\n"),
        impact: i.impact.to_string(),
        urgency: i.urgency.to_string(),
        active: i.active.then(|| "on".into()),
        version: Some(i.version),
    }
}

async fn edit_page(
    state: &AppState,
    auth: &PageAuth,
    form: ItemForm,
    editing: Option<String>,
    error: Option<String>,
) -> Response {
    let chrome = match auth.chrome(state, "portal", None).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    if let Err(e) = auth.0.require(Permission::Configure) {
        return error_page(&e);
    }
    let users = match state.db.list_users(None, None, Some(500)).await {
        Ok(p) => p.items.into_iter().filter(|u| !u.disabled).map(|u| (u.id, u.shown_name())).collect(),
        Err(e) => return error_page(&e.into()),
    };
    let code = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    (code, EditPage { chrome, form, editing, error, users }).into_response()
}

pub async fn new(State(state): State<AppState>, auth: PageAuth) -> Response {
    let form = ItemForm { impact: "3".into(), urgency: "3".into(), active: Some("on".into()), ..ItemForm::default() };
    edit_page(&state, &auth, form, None, None).await
}

pub async fn edit(State(state): State<AppState>, auth: PageAuth, Path(id): Path<String>) -> Response {
    match op::item(&state, &auth.0, &id).await {
        Ok(i) => edit_page(&state, &auth, form_of(&i), Some(i.slug.clone()), None).await,
        Err(e) => error_page(&e),
    }
}

fn spec_of(f: &ItemForm) -> Result<ItemSpec, ApiError> {
    let level =
        |field: &'static str, v: &str| v.trim().parse::<i64>().map_err(|_| ApiError::invalid(field, "choose 1 to 4"));
    let approver = match f.approver.trim() {
        "" => None,
        id => Some(id.parse().map_err(|_| ApiError::invalid("approver_id", "choose a user"))?),
    };
    Ok(ItemSpec::new(&ItemInput {
        slug: Some(f.slug.clone()),
        title: f.title.clone(),
        description: Some(f.description.clone()),
        category: Some(f.category.clone()),
        fields: parse_fields(&f.fields)?,
        approver_id: approver,
        tasks: f.tasks.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect(),
        impact: Some(level("impact", &f.impact)?),
        urgency: Some(level("urgency", &f.urgency)?),
        active: Some(f.active.is_some()),
    })?)
}

pub async fn create(State(state): State<AppState>, auth: PageAuth, Form(f): Form<ItemForm>) -> Response {
    let result = async { op::create_item(&state, &auth.0, &spec_of(&f)?).await }.await;
    match result {
        Ok(i) => done("/request-items", &format!("{} added to the portal", i.title)),
        Err(e) => match form_error(e) {
            Ok(msg) => edit_page(&state, &auth, f, None, Some(msg)).await,
            Err(r) => r,
        },
    }
}

pub async fn update(
    State(state): State<AppState>,
    auth: PageAuth,
    Path(id): Path<String>,
    Form(f): Form<ItemForm>,
) -> Response {
    let result = async { op::update_item(&state, &auth.0, &id, &spec_of(&f)?, f.version).await }.await;
    match result {
        Ok(i) => done("/request-items", &format!("{} saved", i.title)),
        Err(e) => match form_error(e) {
            Ok(msg) => edit_page(&state, &auth, f, Some(id), Some(msg)).await,
            Err(r) => r,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_lines_round_trip() {
        let text = "model | Model | select | required | 13 inch; 15 inch\nwhy | Why | textarea";
        let fields = parse_fields(text).unwrap();
        assert_eq!(fields.len(), 2);
        assert_eq!(fields[0].options, ["13 inch", "15 inch"]);
        assert!(fields[0].required && !fields[1].required);
        assert_eq!(
            field_lines(&fields),
            "model | Model | select | required | 13 inch; 15 inch\nwhy | Why | textarea | optional"
        );
        assert!(parse_fields("a | b").unwrap_err().message.contains("line 1"));
        assert!(parse_fields("a | b | colour").unwrap_err().message.contains("kind must be"));
    }
}
