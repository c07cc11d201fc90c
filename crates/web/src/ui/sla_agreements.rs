//! SLA agreements' form (managers): which services or requesters one covers, its four
//! priorities' targets, and its calendar. The list is a card of the desk's settings page.

use super::desk_settings::{DAYS, lines_of, week_of};
use super::ticket_routes::Names;
use super::{Chrome, PageAuth, done, error_page, form_error, outcome};
use crate::AppState;
use crate::error::ApiError;
use crate::operations::desk_settings::written_hours;
use crate::operations::sla_agreements::{self as op, AgreementForm};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::Form;
use opsdeck_core::desk::agreement::TargetInput;
use opsdeck_core::role::Permission;
use opsdeck_store::desk::SlaPolicy;
use opsdeck_store::desk::agreements::SlaAgreement;
use serde::Deserialize;
use uuid::Uuid;

const LIST: &str = "/tickets/settings#agreements";

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct Fields {
    name: String,
    position: String,
    services: Vec<String>,
    /// One address or `@domain` per line.
    requesters: String,
    /// `p{priority}_fr` and `p{priority}_res`, in minutes.
    p1_fr: String,
    p1_res: String,
    p2_fr: String,
    p2_res: String,
    p3_fr: String,
    p3_res: String,
    p4_fr: String,
    p4_res: String,
    timezone: String,
    mon: String,
    tue: String,
    wed: String,
    thu: String,
    fri: String,
    sat: String,
    sun: String,
    holidays: String,
    ical: String,
    escalation_email: String,
    enabled: Option<String>,
    version: Option<i64>,
}

impl Fields {
    /// Each priority's (first response, resolution) as written, P1 first.
    pub fn targets(&self) -> [(&str, &str); 4] {
        [
            (&self.p1_fr, &self.p1_res),
            (&self.p2_fr, &self.p2_res),
            (&self.p3_fr, &self.p3_res),
            (&self.p4_fr, &self.p4_res),
        ]
        .map(|(a, b)| (a.as_str(), b.as_str()))
    }

    /// Each weekday's (form key, name, hours as written).
    pub fn days(&self) -> [(&'static str, &'static str, &str); 7] {
        let v = [&self.mon, &self.tue, &self.wed, &self.thu, &self.fri, &self.sat, &self.sun];
        let keys = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
        std::array::from_fn(|i| (keys[i], DAYS[i], v[i].as_str()))
    }

    pub fn has_service(&self, id: &Uuid) -> bool {
        self.services.iter().any(|s| s.trim() == id.to_string())
    }

    /// A new agreement's form, starting from the P1–P4 policies' targets and P1's calendar.
    fn from_policies(policies: &[SlaPolicy; 4]) -> Fields {
        let mut f = Fields { position: "100".into(), enabled: Some("on".into()), ..Fields::default() };
        let t: Vec<(String, String)> =
            policies.iter().map(|p| (p.first_response_minutes.to_string(), p.resolution_minutes.to_string())).collect();
        f.set_targets(&t);
        f.set_hours(&policies[0].hours);
        f
    }

    fn of(a: &SlaAgreement) -> Fields {
        let s = &a.spec;
        let mut f = Fields {
            name: s.name.clone(),
            position: s.position.to_string(),
            services: s.service_ids.iter().map(Uuid::to_string).collect(),
            requesters: s.requesters.join("\n"),
            escalation_email: s.escalation_email.clone().unwrap_or_default(),
            enabled: s.enabled.then(|| "on".into()),
            version: Some(a.version),
            ..Fields::default()
        };
        let t: Vec<(String, String)> = s
            .targets
            .iter()
            .map(|t| (t.first_response_minutes.to_string(), t.resolution_minutes.to_string()))
            .collect();
        f.set_targets(&t);
        f.set_hours(&s.hours);
        f
    }

    fn set_targets(&mut self, t: &[(String, String)]) {
        let slots = [
            (&mut self.p1_fr, &mut self.p1_res),
            (&mut self.p2_fr, &mut self.p2_res),
            (&mut self.p3_fr, &mut self.p3_res),
            (&mut self.p4_fr, &mut self.p4_res),
        ];
        for ((fr, res), (a, b)) in slots.into_iter().zip(t) {
            fr.clone_from(a);
            res.clone_from(b);
        }
    }

    fn set_hours(&mut self, hours: &opsdeck_core::desk::hours::BusinessHours) {
        let (week, holidays) = written_hours(hours);
        let days =
            [&mut self.mon, &mut self.tue, &mut self.wed, &mut self.thu, &mut self.fri, &mut self.sat, &mut self.sun];
        for (slot, d) in days.into_iter().zip(&week) {
            *slot = d.join(", ");
        }
        self.timezone.clone_from(&hours.timezone);
        self.holidays = holidays.join("\n");
    }

    /// The form as the operation reads it (a number that is not one is a 422 naming its field).
    fn read(&self) -> Result<AgreementForm, ApiError> {
        let position = match self.position.trim() {
            "" => None,
            p => Some(p.parse().map_err(|_| ApiError::invalid("position", "write a whole number, 0 to 10000"))?),
        };
        let mins = |v: &str| {
            v.trim().parse::<i64>().map_err(|_| ApiError::invalid("targets", "write each target in whole minutes"))
        };
        let mut targets = Vec::with_capacity(4);
        for (priority, (fr, res)) in (1..=4).zip(self.targets()) {
            targets.push(TargetInput { priority, first_response_minutes: mins(fr)?, resolution_minutes: mins(res)? });
        }
        let mut service_ids = Vec::new();
        for s in self.services.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
            service_ids.push(Uuid::parse_str(s).map_err(|_| ApiError::invalid("service_ids", "choose a service"))?);
        }
        Ok(AgreementForm {
            name: self.name.clone(),
            position,
            service_ids,
            requesters: lines_of(&self.requesters),
            targets,
            timezone: self.timezone.trim().to_owned(),
            week: week_of(self.days().map(|(_, _, v)| v)),
            holidays: lines_of(&self.holidays),
            ical: Some(self.ical.clone()),
            escalation_email: Some(self.escalation_email.clone()),
            enabled: Some(self.enabled.is_some()),
        })
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "tickets/agreement_edit.html")]
pub struct EditPage {
    chrome: Chrome,
    form: Fields,
    editing: Option<Uuid>,
    error: Option<String>,
    names: Names,
}

fn agreement_id(raw: &str) -> Result<Uuid, ApiError> {
    crate::extract::parse_id(opsdeck_core::Entity::SlaAgreement, raw)
}

async fn edit_page(
    state: &AppState,
    auth: &PageAuth,
    form: Fields,
    editing: Option<Uuid>,
    error: Option<String>,
) -> Response {
    let chrome = match auth.chrome(state, "tickets", None).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    if let Err(e) = auth.0.require(Permission::Configure) {
        return error_page(&e);
    }
    let names = match Names::load(state).await {
        Ok(n) => n,
        Err(e) => return error_page(&e),
    };
    let code = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    (code, EditPage { chrome, form, editing, error, names }).into_response()
}

pub async fn new(State(state): State<AppState>, auth: PageAuth) -> Response {
    match state.db.policy_book().await {
        Ok(book) => edit_page(&state, &auth, Fields::from_policies(book.policies()), None, None).await,
        Err(e) => error_page(&e.into()),
    }
}

pub async fn edit(State(state): State<AppState>, auth: PageAuth, Path(id): Path<String>) -> Response {
    let found = async { op::get(&state, &auth.0, agreement_id(&id)?).await }.await;
    match found {
        Ok(a) => edit_page(&state, &auth, Fields::of(&a), Some(a.id), None).await,
        Err(e) => error_page(&e),
    }
}

pub async fn create(State(state): State<AppState>, auth: PageAuth, Form(f): Form<Fields>) -> Response {
    let result = async { op::create(&state, &auth.0, &op::spec_from(&f.read()?)?).await }.await;
    match result {
        Ok(a) => done(LIST, &format!("SLA agreement {} added", a.spec.name)),
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
    Form(f): Form<Fields>,
) -> Response {
    let result =
        async { op::update(&state, &auth.0, agreement_id(&id)?, &op::spec_from(&f.read()?)?, f.version).await }.await;
    match result {
        Ok(a) => done(LIST, &format!("SLA agreement {} saved", a.spec.name)),
        Err(e) => match form_error(e) {
            Ok(msg) => edit_page(&state, &auth, f, id.parse().ok(), Some(msg)).await,
            Err(r) => r,
        },
    }
}

pub async fn delete(State(state): State<AppState>, auth: PageAuth, Path(id): Path<String>) -> Response {
    let result = async { op::delete(&state, &auth.0, agreement_id(&id)?).await }.await;
    outcome(LIST, result.map(|()| "SLA agreement deleted".to_owned()))
}
