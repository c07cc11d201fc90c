//! The JSON API under `/api/v1`, described by OpenAPI 3.1 at `/api/openapi.json`.

pub(crate) mod agents;
pub(crate) mod alerts;
pub(crate) mod anomalies;
pub(crate) mod audit;
pub(crate) mod auth;
mod catalogue;
pub(crate) mod change_calendar;
pub(crate) mod change_schema;
pub(crate) mod change_templates;
pub(crate) mod changes;
pub(crate) mod cmdb;
mod cmdb_attributes;
mod cmdb_import;
mod cmdb_reports;
pub(crate) mod contracts;
mod desk_settings;
mod events;
mod imports;
pub(crate) mod incidents;
pub(crate) mod integrations;
mod kb;
pub(crate) mod kpi;
pub(crate) mod maintenance;
mod monitor_batch;
mod monitor_locations;
pub(crate) mod monitors;
pub(crate) mod oncall;
pub(crate) mod openapi;
pub(crate) mod postmortems;
mod problems;
pub(crate) mod report_schedules;
pub(crate) mod reports;
mod requests;
pub(crate) mod schema;
pub(crate) mod series;
mod series_alerts;
pub(crate) mod settings;
mod sla_agreements;
pub(crate) mod slos;
pub(crate) mod status_pages;
pub(crate) mod status_subscribers;
pub(crate) mod status_templates;
pub(crate) mod team_members;
mod ticket_files;
mod ticket_links;
mod ticket_routes;
mod ticket_schema;
mod tickets;
pub(crate) mod users;
pub(crate) mod vendors;

pub use crate::operations::cursor;

use crate::AppState;
use serde::Serialize;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Opsdeck API",
        description = "IT operations in one binary. Authenticate with `Authorization: Bearer TOKEN` \
            (create tokens in the UI or with `opsdeck token create`). Errors are \
            `{\"error\": {\"code\", \"message\", \"details\"}}` with the codes of the `ErrorCode` schema; \
            lists are `{\"items\", \"next_cursor\"}` paged with `?limit=N&cursor=…`.\n\n\
            [← Back to Opsdeck](/)"
    ),
    modifiers(&Security),
    security(("bearer" = []), ("session" = [])),
    components(schemas(ErrorBody, ErrorDetail))
)]
struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(crate::auth::SESSION_COOKIE))),
        );
    }
}

/// The error shape every API failure uses.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `service_not_found`, `validation_failed`.
    #[schema(schema_with = openapi::error_code_schema)]
    pub code: String,
    /// What went wrong and how to fix it.
    pub message: String,
    #[schema(value_type = Option<Object>)]
    pub details: Option<serde_json::Value>,
}

/// A page of a list: `next_cursor` is passed back as `?cursor=` for the next page.
#[derive(Serialize, ToSchema)]
pub struct List<T: ToSchema> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T: ToSchema> List<T> {
    pub fn from_page<U>(page: opsdeck_store::Page<U>, f: impl FnMut(U) -> T) -> Self {
        List { items: page.items.into_iter().map(f).collect(), next_cursor: page.next_cursor }
    }
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(auth::router())
        .merge(catalogue::router())
        .merge(monitors::router())
        .merge(monitor_batch::router())
        .merge(maintenance::router())
        .merge(users::router())
        .merge(audit::router())
        .merge(settings::router())
        .merge(events::router())
        .merge(incidents::router())
        .merge(postmortems::router())
        .merge(alerts::router())
        .merge(integrations::router())
        .merge(reports::router())
        .merge(kpi::router())
        .merge(anomalies::router())
        .merge(series::router())
        .merge(series_alerts::router())
        .merge(report_schedules::router())
        .merge(oncall::router())
        .merge(status_pages::router())
        .merge(status_subscribers::router())
        .merge(status_templates::router())
        .merge(slos::router())
        .merge(team_members::router())
        .merge(vendors::router())
        .merge(agents::router())
        .merge(cmdb::router())
        .merge(cmdb_attributes::router())
        .merge(cmdb_import::router())
        .merge(cmdb_reports::router())
        .merge(contracts::router())
        .merge(changes::router())
        .merge(change_calendar::router())
        .merge(change_templates::router())
        .merge(tickets::router())
        .merge(requests::router())
        .merge(ticket_routes::router())
        .merge(ticket_links::router())
        .merge(desk_settings::router())
        .merge(sla_agreements::router())
        .merge(ticket_files::router())
        .merge(kb::router())
        .merge(problems::router())
        .merge(imports::router())
        .layer(axum::extract::DefaultBodyLimit::max(crate::extract::MAX_JSON_BODY))
        // After the 1 MiB layer, so import files and uploads keep their own limits.
        .merge(cmdb_import::import_router())
        .merge(ticket_files::upload_router())
        .merge(imports::file_router())
}

pub use crate::operations::{LIMIT_MAX, page_limit as limit};

/// Response timestamps are RFC 3339 in UTC with milliseconds.
pub fn ts(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
