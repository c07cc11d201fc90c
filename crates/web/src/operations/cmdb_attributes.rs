//! Custom attribute definitions per CI class, and the one rule that makes a CI's attributes
//! conform to them, for CIs saved by hand (API and page) and imported alike.

use super::cmdb::CMDB_CHANGED;
use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use opsdeck_core::cmdb::attr_def::{self, AttrDefInput, AttrDefSpec, PendingReference};
use opsdeck_core::cmdb::import::{RowError, RowErrors, ValidItem};
use opsdeck_core::cmdb::{Attributes, CiClass};
use opsdeck_core::role::Permission;
use opsdeck_store::cmdb::attr_defs::AttrDef;
use std::collections::HashMap;
use uuid::Uuid;

pub async fn list(state: &AppState, auth: &Auth, class: Option<CiClass>) -> Result<Vec<AttrDef>, ApiError> {
    auth.require(Permission::Read)?;
    Ok(state.db.attr_defs(class).await?)
}

pub async fn create(state: &AppState, auth: &Auth, input: &AttrDefInput) -> Result<AttrDef, ApiError> {
    auth.require(Permission::Administer)?;
    let spec = AttrDefSpec::new(input)?;
    let d = state.db.create_attr_def(&auth.actor(), state.now(), &spec).await?;
    state.events.publish(CMDB_CHANGED, None, format!("Attribute {} defined", d.spec.key));
    Ok(d)
}

pub async fn update(state: &AppState, auth: &Auth, id: Uuid, input: &AttrDefInput) -> Result<AttrDef, ApiError> {
    auth.require(Permission::Administer)?;
    let spec = AttrDefSpec::new(input)?;
    let d = state.db.update_attr_def(&auth.actor(), state.now(), id, &spec).await?;
    state.events.publish(CMDB_CHANGED, None, format!("Attribute {} changed", d.spec.key));
    Ok(d)
}

pub async fn delete(state: &AppState, auth: &Auth, id: Uuid) -> Result<AttrDef, ApiError> {
    auth.require(Permission::Administer)?;
    let d = state.db.delete_attr_def(&auth.actor(), state.now(), id).await?;
    state.events.publish(CMDB_CHANGED, None, format!("Attribute {} deleted", d.spec.key));
    Ok(d)
}

/// The CI a reference names (an id, an identity, or a name only one CI has), of the class the
/// definition asks for: its id, or why not.
async fn resolve(state: &AppState, r: &PendingReference) -> Result<Result<Uuid, String>, ApiError> {
    let found = match r.reference.parse::<Uuid>() {
        Ok(id) => state.db.cis_by_id(&[id]).await?,
        Err(_) => state.db.cis_named(&r.reference).await?,
    };
    Ok(match found.as_slice() {
        [one] if r.class.is_none_or(|c| c == one.class) => Ok(one.id),
        [one] => Err(format!(
            "{} must refer to a {} CI; {} is a {}",
            r.key,
            r.class.map_or("", |c| c.as_str()),
            one.name,
            one.class.as_str()
        )),
        [] => Err(format!("{}: no CI is named {:?}", r.key, r.reference)),
        _ => Err(format!("{}: several CIs are named {:?}; give its identity or id", r.key, r.reference)),
    })
}

/// Makes `attrs` of a CI of `class` conform to the class's definitions; references are stored
/// as the referred CI's id. 422 on `attributes` naming every problem.
pub async fn conform(state: &AppState, class: CiClass, attrs: &mut Attributes) -> Result<(), ApiError> {
    let defs: Vec<AttrDefSpec> = state.db.attr_defs(Some(class)).await?.into_iter().map(|d| d.spec).collect();
    if defs.is_empty() {
        return Ok(());
    }
    let refs = attr_def::conform(&defs, attrs).map_err(|m| ApiError::invalid("attributes", m))?;
    for r in refs {
        let id = resolve(state, &r).await?.map_err(|m| ApiError::invalid("attributes", m))?;
        attrs.insert(r.key, serde_json::Value::String(id.to_string()));
    }
    Ok(())
}

/// [`conform`] for every CI of an import, each problem a row error. A defined attribute a row
/// does not carry keeps the existing CI's value (a Terraform file knows nothing of a support
/// tier set by hand). References resolve against the CMDB as it is before the import (each
/// distinct one looked up once), so they name CIs already there.
pub async fn conform_import(state: &AppState, items: &mut [ValidItem]) -> Result<Result<(), RowErrors>, ApiError> {
    let mut by_class: HashMap<CiClass, Vec<AttrDefSpec>> = HashMap::new();
    for d in state.db.attr_defs(None).await? {
        by_class.entry(d.spec.class).or_default().push(d.spec);
    }
    if by_class.is_empty() {
        return Ok(Ok(()));
    }
    let identities: Vec<String> =
        items.iter().filter(|i| by_class.contains_key(&i.spec.class)).map(|i| i.identity.clone()).collect();
    let existing: HashMap<String, Attributes> = state
        .db
        .cis_by_identity(&identities)
        .await?
        .into_iter()
        .filter_map(|c| Some((c.identity?, c.attributes)))
        .collect();
    for item in items.iter_mut() {
        let (Some(defs), Some(before)) = (by_class.get(&item.spec.class), existing.get(&item.identity)) else {
            continue;
        };
        for d in defs {
            if !item.spec.attributes.contains_key(&d.key)
                && let Some(v) = before.get(&d.key)
            {
                item.spec.attributes.insert(d.key.clone(), v.clone());
            }
        }
    }
    let mut errors = RowErrors::default();
    let mut cache: HashMap<(String, String, Option<CiClass>), Result<Uuid, String>> = HashMap::new();
    for item in items.iter_mut() {
        let Some(defs) = by_class.get(&item.spec.class) else { continue };
        let refs = match attr_def::conform(defs, &mut item.spec.attributes) {
            Ok(r) => r,
            Err(m) => {
                errors.push(RowError::at(item.row, Some(&item.identity), m));
                continue;
            }
        };
        for r in refs {
            let key = (r.key.clone(), r.reference.clone(), r.class);
            let resolved = match cache.get(&key) {
                Some(v) => v.clone(),
                None => {
                    let v = resolve(state, &r).await?;
                    cache.insert(key, v.clone());
                    v
                }
            };
            match resolved {
                Ok(id) => {
                    item.spec.attributes.insert(r.key, serde_json::Value::String(id.to_string()));
                }
                Err(m) => errors.push(RowError::at(item.row, Some(&item.identity), m)),
            }
        }
    }
    Ok(if errors.is_empty() { Ok(()) } else { Err(errors) })
}
