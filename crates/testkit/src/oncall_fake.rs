//! A Grafana OnCall public API v1 on loopback in its shapes (`results` pages linked by `next`,
//! a 429 with Retry-After, 401 for a wrong token), whose final shifts come from a brute-force
//! rendering of its shifts written here independently of Opsdeck's on-call code.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Timelike, Utc};
use chrono_tz::America::New_York;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

pub const GOOD_TOKEN: &str = "oncall-fake-token";

/// Who OnCall has on call at `t` (New York): U3/U4 daily 09–17, else U1/U2 weekly; U4 covers
/// two hours on 20 March.
pub fn who(t: DateTime<Utc>) -> &'static str {
    let cover = "2027-03-20T06:00:00Z".parse::<DateTime<Utc>>().unwrap().."2027-03-20T08:00:00Z".parse().unwrap();
    if cover.contains(&t) {
        return "U4";
    }
    let local = t.with_timezone(&New_York).naive_local();
    let start: NaiveDateTime = "2027-01-04T09:00:00".parse().unwrap();
    let secs = (local - start).num_seconds();
    if (9..17).contains(&local.hour()) {
        ["U3", "U4"][(secs.div_euclid(86_400) % 2) as usize]
    } else {
        ["U1", "U2"][(secs.div_euclid(604_800) % 2) as usize]
    }
}

fn final_shifts(from: NaiveDate, to: NaiveDate) -> Vec<Value> {
    let since = from.and_hms_opt(0, 0, 0).unwrap().and_utc();
    let until = to.and_hms_opt(0, 0, 0).unwrap().and_utc();
    let mut out: Vec<(DateTime<Utc>, DateTime<Utc>, &str)> = Vec::new();
    let mut t = since;
    while t < until {
        let next = t + Duration::minutes(15);
        let u = who(t);
        match out.last_mut() {
            Some(last) if last.2 == u => last.1 = next,
            _ => out.push((t, next, u)),
        }
        t = next;
    }
    out.into_iter()
        .map(|(s, e, u)| {
            json!({"user_pk": u, "user_email": format!("{}@example.com", u.to_lowercase()), "user_username": u,
                   "shift_start": s.to_rfc3339(), "shift_end": e.to_rfc3339()})
        })
        .collect()
}

pub struct Fake {
    limited: AtomicUsize,
}

pub fn instance() -> Arc<Fake> {
    Arc::new(Fake { limited: AtomicUsize::new(0) })
}

type Q = Query<HashMap<String, String>>;

/// `items` in pages of two, `next` pointing at this server's next page.
fn page(host: &str, path: &str, items: Vec<Value>, q: &Q) -> Value {
    let n = q.get("page").and_then(|p| p.parse::<usize>().ok()).unwrap_or(1).max(1);
    let results: Vec<Value> = items.iter().skip((n - 1) * 2).take(2).cloned().collect();
    let next = (n * 2 < items.len()).then(|| format!("http://{host}/api/v1/{path}?page={}", n + 1));
    json!({"count": items.len(), "next": next, "previous": null, "results": results, "page_size": 2})
}

fn user(i: u32, role: &str) -> Value {
    json!({"id": format!("U{i}"), "email": format!("u{i}@example.com"), "username": format!("oncall{i}"),
           "role": role, "timezone": "America/New_York", "slack": null, "is_phone_number_verified": false})
}

async fn route(State(f): State<Arc<Fake>>, Path(path): Path<String>, h: HeaderMap, q: Q) -> Response {
    let error = |status: StatusCode, detail: &str| (status, axum::Json(json!({"detail": detail}))).into_response();
    if h.get("authorization").and_then(|v| v.to_str().ok()) != Some(GOOD_TOKEN) {
        return error(StatusCode::UNAUTHORIZED, "Invalid token.");
    }
    let host = h.get("host").and_then(|v| v.to_str().ok()).unwrap_or("127.0.0.1").to_owned();
    let body = match path.as_str() {
        "users/" => {
            page(&host, &path, vec![user(1, "admin"), user(2, "editor"), user(3, "editor"), user(4, "viewer")], &q)
        }
        "teams/" => {
            if f.limited.fetch_add(1, Ordering::SeqCst) == 0 {
                let mut r = error(StatusCode::TOO_MANY_REQUESTS, "Request was throttled.");
                r.headers_mut().insert("retry-after", "0".parse().unwrap());
                return r;
            }
            page(&host, &path, vec![json!({"id": "T1", "name": "SRE", "email": "", "avatar_url": ""})], &q)
        }
        "schedules/" => page(
            &host,
            &path,
            vec![
                json!({"id": "S1", "team_id": "T1", "name": "Primary", "type": "web", "time_zone": "America/New_York",
                   "on_call_now": ["U1"], "shifts": ["SH1", "SH2", "SH3"], "slack": null}),
                json!({"id": "S2", "name": "From a calendar", "type": "ical", "ical_url_primary": "https://x/cal.ics"}),
            ],
            &q,
        ),
        "on_call_shifts/" => page(
            &host,
            &path,
            vec![
                json!({"id": "SH1", "name": "Weekly", "type": "rolling_users", "level": 0,
                   "start": "2027-01-04T09:00:00",
                   "rotation_start": "2027-01-04T09:00:00", "duration": 604_800, "frequency": "weekly", "interval": 1,
                   "week_start": "MO", "rolling_users": [["U1"], ["U2"]], "time_zone": null, "until": null}),
                json!({"id": "SH2", "name": "Days", "type": "rolling_users", "level": 1, "start": "2027-01-04T09:00:00",
                   "rotation_start": "2027-01-04T09:00:00", "duration": 28_800, "frequency": "daily", "interval": 1,
                   "rolling_users": [["U3"], ["U4"]], "time_zone": null, "until": null}),
                json!({"id": "SH3", "name": "Cover", "type": "override", "start": "2027-03-20T02:00:00",
                   "duration": 7_200, "users": ["U4"], "time_zone": null}),
            ],
            &q,
        ),
        "schedules/S1/final_shifts/" => {
            let date = |k: &str| q.get(k).and_then(|d| d.parse::<NaiveDate>().ok()).unwrap();
            json!({"count": 1, "next": null, "previous": null,
                   "results": final_shifts(date("start_date"), date("end_date"))})
        }
        "escalation_chains/" => page(&host, &path, vec![json!({"id": "C1", "team_id": "T1", "name": "SRE chain"})], &q),
        "escalation_policies/" => page(
            &host,
            &path,
            vec![
                json!({"id": "E1", "escalation_chain_id": "C1", "position": 0, "type": "notify_on_call_from_schedule",
                   "important": false, "notify_on_call_from_schedule": "S1"}),
                json!({"id": "E2", "escalation_chain_id": "C1", "position": 1, "type": "wait", "duration": 900}),
                json!({"id": "E3", "escalation_chain_id": "C1", "position": 2, "type": "notify_persons",
                   "important": true, "persons_to_notify": ["U1"]}),
            ],
            &q,
        ),
        "integrations/" => page(
            &host,
            &path,
            vec![json!({
                "id": "I1", "name": "Prod Alertmanager", "team_id": "T1", "type": "alertmanager",
                "link": "https://oncall.example.com/integrations/v1/alertmanager/AbCdEfGh12345/",
                "default_route": {"id": "R1", "escalation_chain_id": "C1"}
            })],
            &q,
        ),
        _ => return error(StatusCode::NOT_FOUND, "Not found."),
    };
    axum::Json(body).into_response()
}

/// Serves `fake` on loopback; the API root to import from (`…/api/v1`).
pub async fn serve(fake: Arc<Fake>) -> String {
    let app = axum::Router::new().route("/api/v1/{*path}", get(route)).with_state(fake);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.ok() });
    format!("http://{addr}/api/v1")
}
