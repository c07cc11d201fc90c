//! An Opsgenie REST API v2 on loopback in the vendor's shapes (`data` lists paged by `limit`
//! and `offset`, a 429 with Retry-After, 401 for a wrong key), whose schedule timeline comes from
//! a brute-force rendering of its rotations written here independently of Opsdeck's on-call code.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Datelike, Duration, NaiveDateTime, Timelike, Utc};
use chrono_tz::Europe::Berlin;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

pub const GOOD_KEY: &str = "og-fake-key";

/// Which rotation has whom on call at `t` (Berlin): business hours rotate U1, U2 daily on
/// weekdays 09–17; nights (17–09) rotate U3, U4 weekly; U5 covers one night.
pub fn who(t: DateTime<Utc>) -> Option<(&'static str, &'static str)> {
    let local = t.with_timezone(&Berlin).naive_local();
    let over = "2027-03-16T20:00:00Z".parse::<DateTime<Utc>>().unwrap().."2027-03-17T06:00:00Z".parse().unwrap();
    let (h, wd) = (local.hour(), local.weekday().num_days_from_monday());
    let day_start: NaiveDateTime = "2027-01-04T09:00:00".parse().unwrap();
    let night_start: NaiveDateTime = "2027-01-04T17:00:00".parse().unwrap();
    let rotation = if wd < 5 && (9..17).contains(&h) {
        ("R1", ["U1", "U2"][((local - day_start).num_days() % 2) as usize])
    } else if !(9..17).contains(&h) {
        ("R2", ["U3", "U4"][((local - night_start).num_seconds().div_euclid(604_800) % 2) as usize])
    } else {
        return None;
    };
    Some(if over.contains(&t) { (rotation.0, "U5") } else { rotation })
}

/// A rotation's recipient from one instant to another.
type Period = (DateTime<Utc>, DateTime<Utc>, &'static str);

fn timeline(since: DateTime<Utc>, weeks: i64) -> Value {
    let until = since + Duration::weeks(weeks);
    let mut periods: HashMap<&str, Vec<Period>> = HashMap::new();
    let mut t = since;
    while t < until {
        let next = t + Duration::minutes(15);
        if let Some((r, u)) = who(t) {
            let list = periods.entry(r).or_default();
            match list.last_mut() {
                Some(last) if last.1 == t && last.2 == u => last.1 = next,
                _ => list.push((t, next, u)),
            }
        }
        t = next;
    }
    let rotations: Vec<Value> = ["R1", "R2"]
        .iter()
        .map(|r| {
            let ps: Vec<Value> = periods
                .get(r)
                .into_iter()
                .flatten()
                .map(|(s, e, u)| {
                    json!({"startDate": s.to_rfc3339(), "endDate": e.to_rfc3339(), "type": "default",
                           "recipient": {"id": u, "type": "user", "name": format!("{u}@example.com")}})
                })
                .collect();
            json!({"id": r, "name": r, "order": 1.0, "periods": ps})
        })
        .collect();
    json!({"data": {"_parent": {"id": "S1", "name": "Ops", "enabled": true}, "startDate": since.to_rfc3339(),
                    "endDate": until.to_rfc3339(), "finalTimeline": {"rotations": rotations}}})
}

pub struct Fake {
    users: Vec<Value>,
    limited: AtomicUsize,
}

pub fn account(extra_users: usize) -> Arc<Fake> {
    let mut users: Vec<Value> = (1..=5)
        .map(|i| {
            json!({"id": format!("U{i}"), "username": format!("u{i}@example.com"), "fullName": format!("User {i}"),
                   "role": {"id": "User", "name": if i == 1 { "Admin" } else { "User" }}, "timeZone": "Europe/Berlin",
                   "verified": true, "createdAt": "2020-01-01T00:00:00Z"})
        })
        .collect();
    users.push(json!({"id": "UBAD", "fullName": "No username"}));
    users.extend((0..extra_users).map(|i| json!({"id": format!("X{i}"), "username": format!("x{i}@example.com")})));
    Arc::new(Fake { users, limited: AtomicUsize::new(0) })
}

type Q = Query<HashMap<String, String>>;

fn page(items: &[Value], q: &Q) -> Value {
    let limit = q.get("limit").and_then(|l| l.parse::<usize>().ok()).unwrap_or(20).min(100);
    let offset = q.get("offset").and_then(|o| o.parse::<usize>().ok()).unwrap_or(0);
    let data: Vec<Value> = items.iter().skip(offset).take(limit).cloned().collect();
    json!({"data": data, "totalCount": items.len(), "took": 0.01, "requestId": "r"})
}

fn weekdays() -> Vec<Value> {
    ["monday", "tuesday", "wednesday", "thursday", "friday"]
        .iter()
        .map(|d| json!({"startDay": d, "startHour": 9, "startMin": 0, "endDay": d, "endHour": 17, "endMin": 0}))
        .collect()
}

async fn route(State(f): State<Arc<Fake>>, Path(path): Path<String>, h: HeaderMap, q: Q) -> Response {
    let error = |status: StatusCode, message: &str| {
        (status, axum::Json(json!({"message": message, "took": 0.0, "requestId": "r"}))).into_response()
    };
    if h.get("authorization").and_then(|v| v.to_str().ok()) != Some(&format!("GenieKey {GOOD_KEY}")) {
        return error(StatusCode::UNAUTHORIZED, "Could not authenticate");
    }
    let body = match path.as_str() {
        "v2/users" => page(&f.users, &q),
        "v2/teams" => {
            if f.limited.fetch_add(1, Ordering::SeqCst) == 0 {
                let mut r = error(StatusCode::TOO_MANY_REQUESTS, "You are making too many requests!");
                r.headers_mut().insert("retry-after", "0".parse().unwrap());
                return r;
            }
            page(&[json!({"id": "T1", "name": "Platform", "description": "Core"})], &q)
        }
        "v2/teams/T1" => json!({"data": {"id": "T1", "name": "Platform", "description": "Core", "members": [
            {"user": {"id": "U1", "username": "u1@example.com"}, "role": "admin"},
            {"user": {"id": "U3", "username": "u3@example.com"}, "role": "user"}
        ]}}),
        "v2/schedules" => page(
            &[json!({
                "id": "S1", "name": "Ops", "description": "", "timezone": "Europe/Berlin", "enabled": true,
                "ownerTeam": {"id": "T1", "name": "Platform"},
                "rotations": [
                    {"id": "R1", "name": "Business hours", "startDate": "2027-01-04T08:00:00Z", "type": "daily",
                     "length": 1, "participants": [{"type": "user", "id": "U1"}, {"type": "user", "id": "U2"}],
                     "timeRestriction": {"type": "weekday-and-time-of-day", "restrictions": weekdays()}},
                    {"id": "R2", "name": "Nights", "startDate": "2027-01-04T16:00:00Z", "type": "weekly", "length": 1,
                     "participants": [{"type": "user", "id": "U3"}, {"type": "user", "id": "U4"}],
                     "timeRestriction": {"type": "time-of-day",
                         "restriction": {"startHour": 17, "startMin": 0, "endHour": 9, "endMin": 0}}}
                ]
            })],
            &q,
        ),
        "v2/schedules/S1/overrides" => page(
            &[json!({
                "alias": "cover", "user": {"type": "user", "id": "U5", "username": "u5@example.com"},
                "startDate": "2027-03-16T20:00:00Z", "endDate": "2027-03-17T06:00:00Z", "rotations": []
            })],
            &q,
        ),
        "v2/schedules/S1/timeline" => {
            let since = q.get("date").and_then(|d| d.parse::<DateTime<Utc>>().ok()).unwrap();
            let weeks = q.get("interval").and_then(|i| i.parse::<i64>().ok()).unwrap_or(1);
            timeline(since, weeks)
        }
        "v2/escalations" => page(
            &[json!({
                "id": "E1", "name": "Platform escalation", "description": "",
                "ownerTeam": {"id": "T1", "name": "Platform"},
                "rules": [
                    {"condition": "if-not-acked", "notifyType": "default",
                     "delay": {"timeAmount": 0, "timeUnit": "minutes"},
                     "recipient": {"type": "schedule", "id": "S1", "name": "Ops"}},
                    {"condition": "if-not-acked", "notifyType": "default",
                     "delay": {"timeAmount": 15, "timeUnit": "minutes"},
                     "recipient": {"type": "user", "id": "U1", "username": "u1@example.com"}}
                ],
                "repeat": {"waitInterval": 10, "count": 1, "resetRecipientStates": false, "closeAlertAfterAll": false}
            })],
            &q,
        ),
        "v2/integrations" => page(
            &[
                json!({"id": "I1", "name": "Prometheus prod", "type": "Prometheus", "enabled": true, "teamId": "T1"}),
                json!({"id": "I2", "name": "Mail", "type": "Email", "enabled": true, "teamId": "T1"}),
            ],
            &q,
        ),
        _ => return error(StatusCode::NOT_FOUND, "Not found"),
    };
    axum::Json(body).into_response()
}

/// Serves `fake` on loopback; the base URL to import from.
pub async fn serve(fake: Arc<Fake>) -> String {
    let app = axum::Router::new().route("/{*path}", get(route)).with_state(fake);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.ok() });
    format!("http://{addr}")
}
