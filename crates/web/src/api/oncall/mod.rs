//! On-call: schedules with layers and overrides, who is on call, escalation policies, people's
//! contact methods and notification rules, broadcast channels, and each incident's delivery log.

use super::{List, ts};
use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, parse_id};
use crate::operations::incidents::find_incident;
use crate::operations::oncall::{self as op, names, via};
use crate::operations::service_ref;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Duration, Utc};
use opsdeck_core::Entity;
use opsdeck_core::escalation::{ChannelConfig, ChannelSpec, ContactSpec, Level, PolicySpec, RuleSpec};
use opsdeck_core::oncall::{self, Layer, OverrideSpec, ScheduleSpec};
use opsdeck_core::role::Permission;
use opsdeck_store::oncall::{Delivery, Policy, Schedule};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_schedules, create_schedule))
        .routes(routes!(get_schedule, put_schedule, delete_schedule))
        .routes(routes!(schedule_timeline))
        .routes(routes!(add_override))
        .routes(routes!(delete_override))
        .routes(routes!(oncall_now))
        .routes(routes!(list_policies, create_policy))
        .routes(routes!(get_policy, put_policy, delete_policy))
        .routes(routes!(set_service_policy))
        .routes(routes!(list_contacts, add_contact))
        .routes(routes!(delete_contact))
        .routes(routes!(list_rules, add_rule))
        .routes(routes!(delete_rule))
        .routes(routes!(list_channels, create_channel))
        .routes(routes!(delete_channel))
        .routes(routes!(test_channel))
        .routes(routes!(incident_notifications))
}

use crate::operations::parse_time;

mod channels;
mod contacts;
mod deliveries;
mod policies;
mod schedules;
pub(crate) use channels::*;
pub(crate) use contacts::*;
pub(crate) use deliveries::*;
pub(crate) use policies::*;
pub(crate) use schedules::*;
