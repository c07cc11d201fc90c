//! Custom attribute definitions on pages: the admin page that lists and defines them per class,
//! and the helpers a CI's page uses to show its defined attributes by label (references as
//! links) and to edit them with typed inputs.

use super::cmdb::Choice;
use super::{Chrome, PageAuth, error_page, outcome};
use crate::AppState;
use crate::error::ApiError;
use crate::operations::cmdb_attributes as op;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::Form;
use opsdeck_core::Entity;
use opsdeck_core::cmdb::CiClass;
use opsdeck_core::cmdb::attr_def::{AttrDefInput, AttrKind};
use opsdeck_store::cmdb::Ci;
use opsdeck_store::cmdb::attr_defs::AttrDef;
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashMap;
use uuid::Uuid;

/// A defined attribute as the CI's edit form shows it. `shown` and `stored` go back with the
/// form: a value the user left as shown keeps what is stored (a reference keeps its CI's id,
/// and is not looked up again by a name another CI may have taken).
pub struct DefField {
    pub key: String,
    pub label: String,
    /// The input to draw: `enum`, `date`, `number`, `reference` or `text` (a date stored in
    /// another shape is shown as text, so the browser does not blank it).
    pub input: &'static str,
    pub required: bool,
    pub choices: Vec<String>,
    /// For an enum: the stored value is not on the list (it is offered as it is).
    pub off_list: bool,
    pub value: String,
    pub shown: String,
    pub stored: String,
}

impl DefField {
    fn new(d: &AttrDef, value: String, shown: String, stored: String) -> DefField {
        let date_ok = value.is_empty() || chrono::NaiveDate::parse_from_str(&value, "%Y-%m-%d").is_ok();
        let input = match d.spec.kind {
            AttrKind::Enum => "enum",
            AttrKind::Date if date_ok => "date",
            AttrKind::Number => "number",
            AttrKind::Reference => "reference",
            AttrKind::Date | AttrKind::Text => "text",
        };
        DefField {
            key: d.spec.key.clone(),
            label: d.spec.label.clone(),
            input,
            required: d.spec.required,
            off_list: d.spec.kind == AttrKind::Enum && !value.is_empty() && !d.spec.choices.contains(&value),
            choices: d.spec.choices.clone(),
            value,
            shown,
            stored,
        }
    }
}

/// An attribute as the CI's page lists it: defined ones by label first, in their order.
pub struct AttrRow {
    pub label: String,
    pub key: String,
    pub value: String,
    /// For a reference: the CI it names.
    pub link: Option<Uuid>,
}

/// A CI's attribute definitions and the names of the CIs its references name.
pub async fn load(state: &AppState, ci: &Ci) -> Result<(Vec<AttrDef>, HashMap<Uuid, String>), ApiError> {
    let defs = state.db.attr_defs(Some(ci.class)).await?;
    let ids: Vec<Uuid> = defs
        .iter()
        .filter(|d| d.spec.kind == AttrKind::Reference)
        .filter_map(|d| ci.attributes.get(&d.spec.key)?.as_str()?.parse().ok())
        .collect();
    let names = state.db.cis_by_id(&ids).await?.into_iter().map(|c| (c.id, c.name)).collect();
    Ok((defs, names))
}

fn shown(v: &Value) -> String {
    v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string())
}

pub fn rows(ci: &Ci, defs: &[AttrDef], names: &HashMap<Uuid, String>) -> Vec<AttrRow> {
    let mut out = Vec::new();
    for d in defs {
        let Some(v) = ci.attributes.get(&d.spec.key) else { continue };
        let link = (d.spec.kind == AttrKind::Reference).then(|| v.as_str()?.parse::<Uuid>().ok()).flatten();
        let value = link.and_then(|id| names.get(&id).cloned()).unwrap_or_else(|| shown(v));
        out.push(AttrRow { label: d.spec.label.clone(), key: d.spec.key.clone(), value, link });
    }
    for (k, v) in &ci.attributes {
        if !defs.iter().any(|d| d.spec.key == *k) {
            out.push(AttrRow { label: k.clone(), key: k.clone(), value: shown(v), link: None });
        }
    }
    out
}

/// The edit form's typed inputs; a reference shows the referred CI's name.
pub fn fields(ci: &Ci, defs: &[AttrDef], names: &HashMap<Uuid, String>) -> Vec<DefField> {
    defs.iter()
        .map(|d| {
            let stored = ci.attributes.get(&d.spec.key).map(shown).unwrap_or_default();
            let value =
                stored.parse::<Uuid>().ok().and_then(|id| names.get(&id).cloned()).unwrap_or_else(|| stored.clone());
            DefField::new(d, value.clone(), value, stored)
        })
        .collect()
}

/// Re-fills typed inputs from a submitted form that came back refused.
pub fn refill(defs: &[AttrDef], f: &DefValues) -> Vec<DefField> {
    defs.iter()
        .map(|d| {
            let at = f.keys.iter().position(|k| *k == d.spec.key);
            let pick = |v: &[String]| at.and_then(|i| v.get(i).cloned()).unwrap_or_default();
            DefField::new(d, pick(f.values), pick(f.shown), pick(f.stored))
        })
        .collect()
}

/// The typed inputs of a submitted CI form, in step.
pub struct DefValues<'a> {
    pub keys: &'a [String],
    pub values: &'a [String],
    pub shown: &'a [String],
    pub stored: &'a [String],
}

impl DefValues<'_> {
    /// Each defined attribute's value: what is stored when the input was left as shown, the new
    /// text otherwise, `None` for a blank (removed).
    pub fn merged(&self) -> Vec<(String, Option<String>)> {
        self.keys
            .iter()
            .enumerate()
            .map(|(i, k)| {
                let value = self.values.get(i).map(|v| v.trim()).unwrap_or("");
                let shown = self.shown.get(i).map(String::as_str).unwrap_or("");
                let stored = self.stored.get(i).map(String::as_str).unwrap_or("");
                let kept = if value == shown.trim() && !stored.is_empty() { stored } else { value };
                (k.clone(), Some(kept.to_owned()).filter(|v| !v.is_empty()))
            })
            .collect()
    }
}

/// The names of the attributes a class defines (the CI form leaves their text untyped, for the
/// definitions to type).
pub async fn defined_keys(state: &AppState, class: &str) -> Vec<String> {
    match CiClass::parse(class.trim()) {
        Some(c) => {
            state.db.attr_defs(Some(c)).await.map(|d| d.into_iter().map(|d| d.spec.key).collect()).unwrap_or_default()
        }
        None => Vec::new(),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PageQuery {
    notice: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "cmdb/attributes.html")]
pub struct AttributesPage {
    chrome: Chrome,
    defs: Vec<AttrDef>,
    classes: Vec<Choice>,
    kinds: Vec<Choice>,
}

pub async fn page(State(state): State<AppState>, auth: PageAuth, Query(q): Query<PageQuery>) -> Response {
    let chrome = match auth.chrome(&state, "cmdb", q.notice).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let defs = match op::list(&state, &auth.0, None).await {
        Ok(d) => d,
        Err(e) => return error_page(&e),
    };
    let classes = CiClass::ALL.iter().map(|c| Choice { value: c.as_str().into(), label: c.label().into() }).collect();
    let kinds = AttrKind::ALL.iter().map(|k| Choice { value: k.as_str().into(), label: k.label().into() }).collect();
    AttributesPage { chrome, defs, classes, kinds }.into_response()
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct DefForm {
    class: String,
    key: String,
    label: String,
    kind: String,
    required: Option<String>,
    /// One value per line (enum).
    choices: String,
    ref_class: String,
}

pub async fn create(State(state): State<AppState>, auth: PageAuth, Form(f): Form<DefForm>) -> Response {
    let input = AttrDefInput {
        class: f.class,
        key: f.key,
        label: Some(f.label),
        kind: f.kind,
        required: f.required.is_some(),
        choices: f.choices.lines().map(str::to_owned).collect(),
        ref_class: Some(f.ref_class),
    };
    let result = op::create(&state, &auth.0, &input)
        .await
        .map(|d| format!("Attribute {} defined for {}", d.spec.key, d.spec.class.label()));
    outcome("/cmdb/attributes", result)
}

pub async fn delete(State(state): State<AppState>, auth: PageAuth, Path(id): Path<String>) -> Response {
    let result = async {
        let d = op::delete(&state, &auth.0, crate::extract::parse_id(Entity::CiAttribute, &id)?).await?;
        Ok(format!("Attribute {} of {} deleted; CIs keep their values", d.spec.key, d.spec.class.label()))
    }
    .await;
    outcome("/cmdb/attributes", result)
}
