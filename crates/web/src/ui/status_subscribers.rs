//! The subscribers panel of the status page editor: managers add subscribers; admins see the
//! list (people's addresses), remove them and export them as CSV.

use super::{PageAuth, error_page};
use crate::AppState;
use crate::error::ApiError;
use crate::operations::status_subscribers as op;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::Form;
use opsdeck_core::role::Permission;
use opsdeck_core::status_subscriber::SubscriberSpec;
use opsdeck_store::status_page::StatusPage;
use uuid::Uuid;

/// Subscribers the editor lists at most (the export has them all).
const SHOWN: i64 = 100;

/// One listed subscriber.
pub struct Listed {
    pub id: Uuid,
    pub kind: &'static str,
    pub address: String,
    pub follows: String,
    pub confirmed: bool,
}

/// What the editor shows about subscribers.
pub struct Panel {
    pub total: i64,
    pub confirmed: i64,
    /// Messages by status: "12 sent, 1 pending".
    pub deliveries: String,
    /// Admins only: the first [`SHOWN`].
    pub listed: Option<Vec<Listed>>,
}

pub async fn panel(state: &AppState, auth: &PageAuth, page: &StatusPage) -> Result<Panel, ApiError> {
    let (total, confirmed) = state.db.subscriber_counts(page.id).await?;
    let counts = state.db.delivery_counts(page.id).await?;
    let deliveries = counts.iter().map(|(s, n)| format!("{n} {s}")).collect::<Vec<_>>().join(", ");
    let listed = if auth.0.allows(Permission::Administer) {
        let names = |ids: &[Uuid]| -> String {
            if ids.is_empty() {
                return "whole page".into();
            }
            let n: Vec<&str> =
                page.components.iter().filter(|c| ids.contains(&c.id)).map(|c| c.name.as_str()).collect();
            n.join(", ")
        };
        let subs = op::list(state, &auth.0, page, None, SHOWN).await?;
        Some(
            subs.iter()
                .map(|s| Listed {
                    id: s.id,
                    kind: s.kind.as_str(),
                    address: s.address.clone(),
                    follows: names(&s.component_ids),
                    confirmed: s.confirmed_at.is_some(),
                })
                .collect(),
        )
    } else {
        None
    };
    Ok(Panel { total, confirmed, deliveries, listed })
}

async fn load(state: &AppState, id: &str) -> Result<StatusPage, ApiError> {
    Ok(state.db.get_status_page(crate::extract::parse_id(opsdeck_core::Entity::StatusPage, id)?).await?)
}

/// `kind` (email, webhook or slack) and `address`; `component` repeated (none: the whole page);
/// `skip_confirmation` for e-mail.
pub async fn add(
    State(state): State<AppState>,
    auth: PageAuth,
    Path(id): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let page = match load(&state, &id).await {
        Ok(p) => p,
        Err(e) => return error_page(&e),
    };
    let field = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).unwrap_or("");
    let result = async {
        let mut components = Vec::new();
        for (_, v) in fields.iter().filter(|(k, _)| k == "component") {
            components.push(Uuid::parse_str(v).map_err(|_| ApiError::invalid("component_ids", "unknown component"))?);
        }
        let address = Some(field("address"));
        let spec = match field("kind") {
            "webhook" => SubscriberSpec::new(None, address, None, &components),
            "slack" => SubscriberSpec::new(None, None, address, &components),
            _ => SubscriberSpec::new(address, None, None, &components),
        }?;
        let (s, _) = op::add(&state, &auth.0, &page, spec, !field("skip_confirmation").is_empty()).await?;
        Ok(if s.confirmed_at.is_some() {
            format!("Subscribed {}", s.address)
        } else {
            format!("Subscribed {}; a confirmation message is on its way", s.address)
        })
    }
    .await;
    super::outcome(&format!("/status-pages/{}#subscribers", page.id), result)
}

pub async fn remove(
    State(state): State<AppState>,
    auth: PageAuth,
    Path((id, subscriber)): Path<(String, Uuid)>,
) -> Response {
    let page = match load(&state, &id).await {
        Ok(p) => p,
        Err(e) => return error_page(&e),
    };
    let result = op::remove(&state, &auth.0, &page, subscriber).await.map(|()| "Subscriber removed".to_owned());
    super::outcome(&format!("/status-pages/{}#subscribers", page.id), result)
}

pub async fn export(State(state): State<AppState>, auth: PageAuth, Path(id): Path<String>) -> Response {
    let result = async {
        let page = load(&state, &id).await?;
        let csv = op::export_csv(&state, &auth.0, &page).await?;
        Ok::<_, ApiError>((page.slug, csv))
    }
    .await;
    match result {
        Ok((slug, csv)) => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
                (header::CONTENT_DISPOSITION, format!("attachment; filename=\"subscribers-{slug}.csv\"")),
            ],
            csv,
        )
            .into_response(),
        Err(e) => error_page(&e),
    }
}
