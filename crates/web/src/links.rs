//! Pages reached without signing in, authorised by a secret in the URL:
//!
//! - `/a/{token}`: a signed, expiring link from a notification. GET shows the incident and one
//!   button; POST acknowledges or resolves (a GET never changes anything, so mail scanners that
//!   open links cannot acknowledge incidents).
//! - `/schedules/{id}/calendar.ics?token=…` and `/users/{id}/calendar.ics?token=…`: iCalendar
//!   (RFC 5545) feeds of a schedule's final timeline and of one person's shifts.

use crate::AppState;
use crate::error::ApiError;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Duration, Utc};
use opsdeck_core::audit::Actor;
use opsdeck_core::escalation::{LinkAction, verify_link};
use opsdeck_core::incident::{Move, display_number};
use opsdeck_core::oncall;
use opsdeck_core::role::Permission;
use serde::Deserialize;
use uuid::Uuid;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/a/{token}", get(link_page).post(link_act))
        .route("/schedules/{id}/calendar.ics", get(schedule_feed))
        .route("/users/{id}/calendar.ics", get(user_feed))
}

use crate::ui::charts::esc;

pub(crate) fn page(title: &str, body: &str, status: StatusCode) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta \
         name=\"viewport\" content=\"width=device-width, \
         initial-scale=1\"><title>{t}</title><link rel=\"stylesheet\" \
         href=\"/static/app.css\"></head><body><main class=\"narrow\" \
         id=\"main\">{body}</main></body></html>",
        t = esc(title)
    );
    (status, Html(html)).into_response()
}

async fn claim(state: &AppState, token: &str) -> Result<opsdeck_core::escalation::LinkClaim, ApiError> {
    let key = state.db.signing_key().await?;
    Ok(verify_link(&key, token, state.now().timestamp())?)
}

fn verb(a: LinkAction) -> &'static str {
    match a {
        LinkAction::Acknowledge => "Acknowledge",
        LinkAction::Resolve => "Resolve",
        LinkAction::View => "View",
    }
}

async fn link_page(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    let c = match claim(&state, &token).await {
        Ok(c) => c,
        Err(e) => {
            return page(
                "Link not valid",
                &format!("<h1>Link not valid</h1><p class=\"flash error\">{}</p>", esc(&e.message)),
                e.status(),
            );
        }
    };
    let inc = match state.db.get_incident(c.incident_id).await {
        Ok(i) => i,
        Err(e) => return crate::ui::error_page(&e.into()),
    };
    let n = display_number(inc.number);
    let button = if c.action == LinkAction::View {
        String::new()
    } else {
        format!(
            "<form method=\"post\" action=\"/a/{}\"><button class=\"btn primary\" \
             id=\"link-action\" type=\"submit\">{} {n}</button></form>",
            esc(&token),
            verb(c.action)
        )
    };
    page(
        &n,
        &format!(
            "<h1>{n}: {}</h1><p><span class=\"istatus is-{st}\" id=\"link-status\"><span \
             class=\"dot\"></span>{st}</span> <span class=\"sev sev-{sev}\">{sev}</span> \
             {svc}</p>{button}<p><a href=\"/incidents/{n}\">Open the incident in Opsdeck</a> \
             (sign-in needed)</p>",
            esc(&inc.title),
            st = inc.status,
            sev = inc.severity,
            svc = esc(inc.service_name.as_deref().unwrap_or("")),
        ),
        StatusCode::OK,
    )
}

async fn link_act(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    let c = match claim(&state, &token).await {
        Ok(c) => c,
        Err(e) => {
            return page(
                "Link not valid",
                &format!("<h1>Link not valid</h1><p class=\"flash error\">{}</p>", esc(&e.message)),
                e.status(),
            );
        }
    };
    let m = match c.action {
        LinkAction::Acknowledge => Move::Acknowledge,
        LinkAction::Resolve => Move::Resolve,
        LinkAction::View => return page("Nothing to do", "<h1>Nothing to do</h1>", StatusCode::BAD_REQUEST),
    };
    // The link stands for its recipient as they are now: an account disabled or demoted since
    // the message was sent cannot act through it. Links without a recipient (older broadcast
    // messages) act for nobody: sign in instead.
    let recipient = match c.user_id {
        Some(u) => state.db.get_user(u).await.ok().filter(|u| !u.disabled && u.role.allows(Permission::Respond)),
        None => None,
    };
    let Some(recipient) = recipient else {
        return page(
            "Sign in to respond",
            &format!(
                "<h1>Sign in to respond</h1><p class=\"flash error\" id=\"link-refused\">This link no longer acts \
                 for anyone. <a href=\"/login?next=/incidents/{n}\">Sign in</a> to respond to {n}.</p>",
                n = display_number(state.db.get_incident(c.incident_id).await.map(|i| i.number).unwrap_or_default())
            ),
            StatusCode::FORBIDDEN,
        );
    };
    let actor =
        Actor { user_id: Some(recipient.id), label: format!("{} (link in a notification)", recipient.username) };
    match crate::operations::incidents::move_from_link(&state, &actor, c.incident_id, m).await {
        Ok(inc) => {
            let n = display_number(inc.number);
            page(
                &n,
                &format!(
                    "<h1>{n} is {st}</h1><p class=\"flash ok\" id=\"link-done\">Done: {n} is <span \
                     id=\"link-status\">{st}</span>.</p><p><a href=\"/incidents/{n}\">Open the incident \
                     in Opsdeck</a></p>",
                    st = inc.status
                ),
                StatusCode::OK,
            )
        }
        Err(e) => page(
            "Not done",
            &format!("<h1>Not done</h1><p class=\"flash error\" id=\"link-error\">{}</p>", esc(&e.message)),
            e.status(),
        ),
    }
}

#[derive(Deserialize)]
struct FeedQuery {
    token: Option<String>,
}

/// RFC 5545 text: escaped values and lines folded at 75 octets.
pub(crate) struct Ics(String);

impl Ics {
    pub(crate) fn new(name: &str) -> Ics {
        let mut c = Ics(String::new());
        c.line("BEGIN:VCALENDAR");
        c.line("VERSION:2.0");
        c.line("PRODID:-//Opsdeck//Opsdeck//EN");
        c.line("CALSCALE:GREGORIAN");
        c.line("METHOD:PUBLISH");
        c.line(&format!("X-WR-CALNAME:{}", text(name)));
        c
    }

    fn line(&mut self, l: &str) {
        let mut count = 0;
        for ch in l.chars() {
            let n = ch.len_utf8();
            if count + n > 75 {
                self.0.push_str("\r\n ");
                count = 1;
            }
            self.0.push(ch);
            count += n;
        }
        self.0.push_str("\r\n");
    }

    pub(crate) fn event(
        &mut self,
        uid: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        summary: &str,
        stamp: DateTime<Utc>,
    ) {
        let f = |t: DateTime<Utc>| t.format("%Y%m%dT%H%M%SZ").to_string();
        self.line("BEGIN:VEVENT");
        self.line(&format!("UID:{uid}"));
        self.line(&format!("DTSTAMP:{}", f(stamp)));
        self.line(&format!("DTSTART:{}", f(start)));
        self.line(&format!("DTEND:{}", f(end)));
        self.line(&format!("SUMMARY:{}", text(summary)));
        self.line("END:VEVENT");
    }

    pub(crate) fn finish(mut self) -> Response {
        self.line("END:VCALENDAR");
        ([(header::CONTENT_TYPE, "text/calendar; charset=utf-8")], self.0).into_response()
    }
}

fn text(s: &str) -> String {
    s.replace('\\', "\\\\").replace(';', "\\;").replace(',', "\\,").replace('\n', "\\n")
}

fn forbidden() -> Response {
    (StatusCode::FORBIDDEN, "this calendar link is not valid; copy it again from Opsdeck").into_response()
}

async fn schedule_feed(State(state): State<AppState>, Path(id): Path<String>, Query(q): Query<FeedQuery>) -> Response {
    let Ok(id) = id.parse::<Uuid>() else { return forbidden() };
    let Some(token) = q.token else { return forbidden() };
    let s = match state.db.schedule_by_feed_token(&token).await {
        Ok(s) if s.id == id => s,
        _ => return forbidden(),
    };
    let now = state.now();
    let (from, to) = (now - Duration::days(7), now + Duration::days(60));
    let shifts = match crate::operations::oncall::shifts(&state, &s, from, to).await {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    let mut cal = Ics::new(&s.spec.name);
    for sh in shifts.iter().filter(|s| s.user_id.is_some()) {
        let who = sh.username.clone().unwrap_or_default();
        cal.event(
            &format!("{}-{}@opsdeck", s.id, sh.start.timestamp()),
            sh.start,
            sh.end,
            &format!("On call: {who} ({})", s.spec.name),
            now,
        );
    }
    cal.finish()
}

async fn user_feed(State(state): State<AppState>, Path(id): Path<String>, Query(q): Query<FeedQuery>) -> Response {
    let Ok(uid) = id.parse::<Uuid>() else { return forbidden() };
    let token = q.token.unwrap_or_default();
    if !matches!(crate::operations::oncall::personal_feed_allowed(&state, uid, &token).await, Ok(true)) {
        return forbidden();
    }
    let now = state.now();
    let (from, to) = (now - Duration::days(7), now + Duration::days(60));
    let Ok(schedules) = state.db.list_schedules().await else { return forbidden() };
    let name =
        state.db.user_names(&[uid]).await.ok().and_then(|v| v.into_iter().next()).map(|x| x.1).unwrap_or_default();
    let mut cal = Ics::new(&format!("{name}: on call"));
    for s in schedules.iter().filter(|s| s.spec.layers.iter().any(|l| l.users.contains(&uid))) {
        let Ok(overrides) = state.db.overrides(s.id, from, to).await else { continue };
        for sh in oncall::timeline(&s.spec, &overrides, from, to).into_iter().filter(|sh| sh.user_id == Some(uid)) {
            cal.event(
                &format!("{}-{}-{}@opsdeck", s.id, uid.simple(), sh.start.timestamp()),
                sh.start,
                sh.end,
                &format!("On call: {}", s.spec.name),
                now,
            );
        }
    }
    cal.finish()
}
