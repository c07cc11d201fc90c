//! Standard change templates: the catalogue of pre-approved routine work (managers keep it), and
//! raising a standard change from one. A standard change needs a template: its pre-approval is
//! why the change skips assessment and approval.

use super::changes::CHANGED;
use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use opsdeck_core::change::ChangeType;
use opsdeck_core::change::spec::ChangeInput;
use opsdeck_core::change::template::{TemplateInput, TemplateSpec};
use opsdeck_core::role::Permission;
use opsdeck_store::change::templates::StoredTemplate;
use uuid::Uuid;

pub async fn list(state: &AppState, auth: &Auth) -> Result<Vec<StoredTemplate>, ApiError> {
    auth.require(Permission::Read)?;
    Ok(state.db.change_templates().await?)
}

pub async fn get(state: &AppState, auth: &Auth, id: Uuid) -> Result<StoredTemplate, ApiError> {
    auth.require(Permission::Read)?;
    Ok(state.db.change_template(id).await?)
}

/// Creates (`id` None) or replaces a template whose CIs exist (managers and up).
pub async fn save(
    state: &AppState,
    auth: &Auth,
    id: Option<Uuid>,
    input: &TemplateInput,
) -> Result<StoredTemplate, ApiError> {
    auth.require(Permission::Configure)?;
    let spec = TemplateSpec::new(input, &state.db.questionnaire().await?)?;
    let found = state.db.cis_by_id(&spec.ci_ids).await?;
    if let Some(missing) = spec.ci_ids.iter().find(|id| !found.iter().any(|c| c.id == **id)) {
        return Err(ApiError::invalid("ci_ids", format!("no CI has the id {missing}")));
    }
    let t = state.db.save_change_template(&auth.actor(), state.now(), id, &spec).await?;
    state.events.publish(CHANGED, Some(t.id), format!("Standard change template {} saved", t.spec.name));
    Ok(t)
}

pub async fn delete(state: &AppState, auth: &Auth, id: Uuid) -> Result<(), ApiError> {
    auth.require(Permission::Configure)?;
    state.db.delete_change_template(&auth.actor(), state.now(), id).await?;
    state.events.publish(CHANGED, Some(id), "Standard change template deleted".to_owned());
    Ok(())
}

/// Fills `input` in from the active template it names. A standard change without one is
/// refused: routine work is pre-approved once, as a template, not change by change.
pub async fn apply(state: &AppState, input: &mut ChangeInput) -> Result<(), ApiError> {
    let Some(id) = input.template_id else {
        if input.kind.as_deref() == Some(ChangeType::Standard.as_str()) {
            return Err(ApiError::invalid(
                "template_id",
                "a standard change is raised from a standard change template (Changes → Templates); \
                 otherwise make it a normal change",
            ));
        }
        return Ok(());
    };
    let t = match state.db.change_template(id).await {
        Ok(t) => t,
        Err(opsdeck_store::StoreError::NotFound(_)) => {
            return Err(ApiError::invalid("template_id", format!("no standard change template has the id {id}")));
        }
        Err(e) => return Err(e.into()),
    };
    if !t.spec.active {
        return Err(ApiError::invalid("template_id", format!("the template {} is retired", t.spec.name)));
    }
    if input.kind.as_deref().is_some_and(|k| k != ChangeType::Standard.as_str()) {
        return Err(ApiError::invalid("type", "a change raised from a template is a standard change"));
    }
    t.spec.apply(input);
    Ok(())
}
