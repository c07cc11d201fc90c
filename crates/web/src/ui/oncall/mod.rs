//! On-call pages: schedules (layers, overrides, a visual timeline of the next two weeks with
//! gaps flagged), escalation policies, broadcast channels with a test button, and a person's
//! own contact methods and notification rules.

use super::{Chrome, PageAuth, abs, done, error_page, form_error, outcome};
use crate::AppState;
use crate::error::ApiError;
use crate::operations::oncall::{self as op, OnCall};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::Form;
use chrono::{DateTime, Duration, NaiveTime, Utc, Weekday};
use opsdeck_core::Entity;
use opsdeck_core::escalation::{
    ChannelConfig, ChannelKind, ChannelSpec, ContactSpec, Level, PolicySpec, RuleSpec, Target, TargetKind,
};
use opsdeck_core::oncall::{self, Layer, Length, OverrideSpec, Restriction, ScheduleSpec, Shift};
use opsdeck_store::oncall::Schedule;
use serde::Deserialize;
use std::collections::HashMap;
use uuid::Uuid;

#[derive(Deserialize, Default)]
pub struct NoticeQuery {
    notice: Option<String>,
}

async fn people(state: &AppState) -> Result<Vec<(Uuid, String)>, ApiError> {
    super::active_people(state).await
}

mod channels;
mod mine;
mod policies;
mod schedules;
pub(crate) use channels::*;
pub(crate) use mine::*;
pub(crate) use policies::*;
pub(crate) use schedules::*;
