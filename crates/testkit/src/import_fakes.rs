//! A PagerDuty REST API v2 on loopback playing recorded documents in the vendor's shapes
//! (classic pagination, a 429 with Retry-After, 401 for a wrong key, unknown fields, broken
//! objects), whose "final schedule" comes from a brute-force rendering of the layers written
//! here independently of Opsdeck's on-call code; and an Uptime Kuma database built with the
//! tables of Kuma's own schema (db/knex_init_db.js). Shared by the API and CLI suites.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Datelike, Duration, NaiveDateTime, TimeZone, Timelike, Utc};
use chrono_tz::Europe::Berlin;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

pub const GOOD_KEY: &str = "u+fake-read-only-key";

/// "Now" for the import tests: eight weeks from here span the change to summer time (28 March).
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2027, 3, 8, 6, 0, 0).unwrap()
}

fn berlin(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
    Berlin.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap().with_timezone(&Utc)
}

/// Who PagerDuty's rules put on call at `t` in the "Primary" schedule, by brute force:
/// the override, else the business-hours layer inside its window, else the weekly layer.
fn primary_at(t: DateTime<Utc>) -> &'static str {
    if (Utc.with_ymd_and_hms(2027, 3, 20, 10, 0, 0).unwrap()..Utc.with_ymd_and_hms(2027, 3, 21, 10, 0, 0).unwrap())
        .contains(&t)
    {
        return "PF";
    }
    let local = t.with_timezone(&Berlin).naive_local();
    let start: NaiveDateTime = "2027-01-04T09:00:00".parse().unwrap();
    let elapsed = (local - start).num_seconds();
    let weekday = local.weekday().num_days_from_monday();
    if weekday < 5 && (9..17).contains(&local.hour()) {
        return ["PD", "PE"][(elapsed / 86_400) as usize % 2];
    }
    ["PA", "PB", "PC"][(elapsed / 604_800) as usize % 3]
}

/// Rendered entries over `[since, until)` in 15-minute steps (every handoff here is on one).
fn render(since: DateTime<Utc>, until: DateTime<Utc>, who: impl Fn(DateTime<Utc>) -> &'static str) -> Vec<Value> {
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
            json!({"start": s.to_rfc3339(), "end": e.to_rfc3339(), "user": {"id": u, "type": "user_reference"}})
        })
        .collect()
}

fn user(id: &str, name: &str, role: &str) -> Value {
    let mail = format!("{}@example.com", name.to_lowercase());
    json!({
        "id": id, "type": "user", "summary": name, "name": name, "email": mail, "role": role,
        "time_zone": "Europe/Berlin", "avatar_url": "https://secure.gravatar.com/x", "job_title": "SRE",
        "contact_methods": [
            {"id": format!("C{id}"), "type": "email_contact_method", "address": mail, "label": "Work"},
            {"id": format!("S{id}"), "type": "sms_contact_method", "address": "5555550100", "label": "Mobile",
             "country_code": 1}
        ],
        "teams": [{"id": "PT1", "type": "team_reference", "summary": "Platform"}]
    })
}

fn layer_user(id: &str) -> Value {
    json!({"user": {"id": id, "type": "user_reference"}})
}

fn primary() -> Value {
    let weekday = |d: u32| {
        json!({"type": "weekly_restriction", "start_day_of_week": d, "start_time_of_day": "09:00:00",
               "duration_seconds": 28_800})
    };
    json!({
        "id": "PS1", "type": "schedule", "summary": "Primary", "name": "Primary", "time_zone": "Europe/Berlin",
        "description": "Platform on call", "teams": [{"id": "PT1", "type": "team_reference"}],
        // Highest layer first, as the API lists them.
        "schedule_layers": [
            {"id": "PL2", "name": "Business hours", "start": "2027-01-04T09:00:00+01:00", "end": null,
             "rotation_virtual_start": "2027-01-04T09:00:00+01:00", "rotation_turn_length_seconds": 86_400,
             "users": [layer_user("PD"), layer_user("PE")],
             "restrictions": [weekday(1), weekday(2), weekday(3), weekday(4), weekday(5)],
             "rendered_coverage_percentage": 23.8},
            {"id": "PL1", "name": "Weekly", "start": "2027-01-04T09:00:00+01:00", "end": null,
             "rotation_virtual_start": "2027-01-04T09:00:00+01:00", "rotation_turn_length_seconds": 604_800,
             "users": [layer_user("PA"), layer_user("PB"), layer_user("PC")], "restrictions": []}
        ]
    })
}

/// A schedule whose recorded rendering disagrees with its own layers by a day: the check must
/// say where.
fn drifted() -> Value {
    json!({
        "id": "PS2", "type": "schedule", "name": "Drifted", "time_zone": "UTC",
        "schedule_layers": [
            {"id": "PL3", "name": "Daily", "start": "2027-01-01T00:00:00Z",
             "rotation_virtual_start": "2027-01-01T00:00:00Z", "rotation_turn_length_seconds": 86_400,
             "users": [layer_user("PA"), layer_user("PB")], "restrictions": []}
        ]
    })
}

fn drifted_at(t: DateTime<Utc>) -> &'static str {
    let days = (t - Utc.with_ymd_and_hms(2027, 1, 2, 0, 0, 0).unwrap()).num_days();
    ["PA", "PB"][days.rem_euclid(2) as usize]
}

pub struct Fake {
    users: Vec<Value>,
    pub requests: AtomicUsize,
    limited: AtomicUsize,
}

/// The account's documents; `extra_users` adds that many plain users (the 10,000-user run).
pub fn account(extra_users: usize) -> Arc<Fake> {
    let mut users = vec![
        user("PA", "Ann", "admin"),
        user("PB", "Bob", "user"),
        user("PC", "Cid", "limited_user"),
        user("PD", "Dee", "limited_user"),
        user("PE", "Eve", "observer"),
        user("PF", "Fay", "limited_user"),
        json!({"id": "PNOMAIL", "type": "user", "name": "No Mail", "role": "user"}),
        json!({"id": "PBROKEN", "type": "user", "name": 42, "email": ["not", "text"]}),
    ];
    users.extend((0..extra_users).map(|i| {
        json!({"id": format!("PX{i}"), "type": "user", "name": format!("Extra {i}"),
               "email": format!("extra{i}@example.com"), "role": "limited_user", "contact_methods": []})
    }));
    Arc::new(Fake { users, requests: AtomicUsize::new(0), limited: AtomicUsize::new(0) })
}

type Q = Query<HashMap<String, String>>;

fn page(key: &str, items: &[Value], q: &Q) -> Value {
    // Pages of at most 50 whatever the limit asked, so paging is exercised.
    let limit = q.get("limit").and_then(|l| l.parse::<usize>().ok()).unwrap_or(25).min(50);
    let offset = q.get("offset").and_then(|o| o.parse::<usize>().ok()).unwrap_or(0);
    let slice: Vec<Value> = items.iter().skip(offset).take(limit).cloned().collect();
    json!({key: slice, "limit": limit, "offset": offset, "total": null, "more": offset + limit < items.len()})
}

fn time(q: &Q, k: &str) -> DateTime<Utc> {
    q.get(k).and_then(|v| DateTime::parse_from_rfc3339(v).ok()).map(|t| t.with_timezone(&Utc)).unwrap()
}

async fn route(State(f): State<Arc<Fake>>, Path(path): Path<String>, h: HeaderMap, q: Q) -> Response {
    f.requests.fetch_add(1, Ordering::SeqCst);
    let error = |status: StatusCode, code: i64, message: &str| {
        (status, axum::Json(json!({"error": {"message": message, "code": code}}))).into_response()
    };
    if h.get("authorization").and_then(|v| v.to_str().ok()) != Some(&format!("Token token={GOOD_KEY}")) {
        return error(StatusCode::UNAUTHORIZED, 2006, "Unauthorized");
    }
    let body = match path.as_str() {
        "users" => page("users", &f.users, &q),
        "teams" => {
            // The first request for teams is rate limited.
            if f.limited.fetch_add(1, Ordering::SeqCst) == 0 {
                let mut r = error(StatusCode::TOO_MANY_REQUESTS, 2020, "Rate Limit Exceeded");
                r.headers_mut().insert("retry-after", "0".parse().unwrap());
                return r;
            }
            let teams = [json!({"id": "PT1", "type": "team", "name": "Platform", "description": "Core platform",
                                "default_role": "manager"})];
            page("teams", &teams, &q)
        }
        "schedules" => {
            page("schedules", &[json!({"id": "PS1", "name": "Primary"}), json!({"id": "PS2", "name": "Drifted"})], &q)
        }
        "schedules/PS1" | "schedules/PS2" => {
            let (since, until) = (time(&q, "since"), time(&q, "until"));
            let (mut s, who): (Value, fn(DateTime<Utc>) -> &'static str) =
                if path == "schedules/PS1" { (primary(), primary_at) } else { (drifted(), drifted_at) };
            s["final_schedule"] =
                json!({"name": "Final Schedule", "rendered_schedule_entries": render(since, until, who)});
            json!({"schedule": s})
        }
        "schedules/PS1/overrides" => json!({"overrides": [
            {"id": "PO1", "start": "2027-03-20T10:00:00Z", "end": "2027-03-21T10:00:00Z",
             "user": {"id": "PF", "type": "user_reference"}},
            {"id": "PO0", "start": "2027-01-20T10:00:00Z", "end": "2027-01-21T10:00:00Z",
             "user": {"id": "PA", "type": "user_reference"}}
        ]}),
        "schedules/PS2/overrides" => json!({"overrides": []}),
        "escalation_policies" => page(
            "escalation_policies",
            &[
                json!({"id": "PP1", "type": "escalation_policy", "name": "Platform", "num_loops": 2,
                   "escalation_rules": [
                       {"id": "R1", "escalation_delay_in_minutes": 10,
                        "targets": [{"id": "PS1", "type": "schedule_reference"}]},
                       {"id": "R2", "escalation_delay_in_minutes": 15,
                        "targets": [{"id": "PA", "type": "user_reference"},
                                    {"id": "PMISSING", "type": "user_reference"}]}
                   ], "on_call_handoff_notifications": "if_has_services"}),
                json!({"id": "PP2", "type": "escalation_policy", "name": "Truncated",
                       "escalation_rules": [{"id": "R3"}]}),
            ],
            &q,
        ),
        "services" => page(
            "services",
            &[json!({
                "id": "PSV1", "type": "service", "name": "Checkout API", "description": "Takes payments",
                "status": "active", "escalation_policy": {"id": "PP1", "type": "escalation_policy_reference"},
                "teams": [{"id": "PT1", "type": "team_reference"}],
                "integrations": [
                    {"id": "PI1", "type": "events_api_v2_inbound_integration", "name": "Prometheus",
                     "integration_key": "0123456789abcdef0123456789abcdef"},
                    {"id": "PI2", "type": "generic_email_inbound_integration", "name": "Mail",
                     "integration_email": "checkout@example.pagerduty.com"}
                ]
            })],
            &q,
        ),
        "maintenance_windows" => page(
            "maintenance_windows",
            &[json!({
                "id": "PM1", "type": "maintenance_window", "start_time": "2027-03-14T02:00:00Z",
                "end_time": "2027-03-14T04:00:00Z", "description": "Database upgrade",
                "services": [{"id": "PSV1", "type": "service_reference"}]
            })],
            &q,
        ),
        _ => return error(StatusCode::NOT_FOUND, 2100, "Not Found"),
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

/// Who the import should put on call at `t` in "Primary" (source user ids).
pub fn expected_primary(t: DateTime<Utc>) -> &'static str {
    primary_at(t)
}

pub fn dst_week() -> [DateTime<Utc>; 4] {
    [berlin(2027, 3, 26, 12), berlin(2027, 3, 28, 8), berlin(2027, 3, 29, 8), berlin(2027, 3, 29, 10)]
}

/// Uptime Kuma's tables as its `db/knex_init_db.js` creates them (the columns the importer
/// reads, with Kuma's types and defaults), filled with one monitor of each kind.
pub async fn kuma_db(path: &std::path::Path) {
    use sqlx::ConnectOptions;
    let mut c =
        sqlx::sqlite::SqliteConnectOptions::new().filename(path).create_if_missing(true).connect().await.unwrap();
    let ddl = r#"
CREATE TABLE monitor (id INTEGER PRIMARY KEY AUTOINCREMENT, name VARCHAR(150), active BOOLEAN NOT NULL DEFAULT 1,
  user_id INTEGER, interval INTEGER NOT NULL DEFAULT 20, url TEXT, type VARCHAR(20), weight INTEGER DEFAULT 2000,
  hostname VARCHAR(255), port INTEGER, created_date DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  keyword VARCHAR(255), maxretries INTEGER NOT NULL DEFAULT 0, ignore_tls BOOLEAN NOT NULL DEFAULT 0,
  upside_down BOOLEAN NOT NULL DEFAULT 0, maxredirects INTEGER NOT NULL DEFAULT 10,
  accepted_statuscodes_json TEXT NOT NULL DEFAULT '["200-299"]', dns_resolve_type VARCHAR(5),
  dns_resolve_server VARCHAR(255), dns_last_result VARCHAR(255), retry_interval INTEGER NOT NULL DEFAULT 0,
  push_token VARCHAR(20) DEFAULT NULL, method TEXT NOT NULL DEFAULT 'GET', body TEXT DEFAULT NULL,
  headers TEXT DEFAULT NULL, basic_auth_user TEXT DEFAULT NULL, basic_auth_pass TEXT DEFAULT NULL,
  docker_host INTEGER, docker_container VARCHAR(255), auth_method VARCHAR(250), description TEXT DEFAULT NULL,
  parent INTEGER REFERENCES monitor(id), invert_keyword BOOLEAN NOT NULL DEFAULT 0, json_path TEXT,
  expected_value VARCHAR(255), timeout DOUBLE NOT NULL DEFAULT 0, resend_interval INTEGER NOT NULL DEFAULT 0);
CREATE TABLE tag (id INTEGER PRIMARY KEY AUTOINCREMENT, name VARCHAR(255) NOT NULL, color VARCHAR(255) NOT NULL,
  created_date DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP);
CREATE TABLE monitor_tag (id INTEGER PRIMARY KEY AUTOINCREMENT, monitor_id INTEGER NOT NULL REFERENCES monitor(id),
  tag_id INTEGER NOT NULL REFERENCES tag(id), value TEXT);
CREATE TABLE maintenance (id INTEGER PRIMARY KEY AUTOINCREMENT, title VARCHAR(150) NOT NULL, description TEXT NOT NULL,
  user_id INTEGER, active BOOLEAN NOT NULL DEFAULT 1, strategy VARCHAR(50) NOT NULL DEFAULT 'single',
  start_date DATETIME, end_date DATETIME, start_time TIME, end_time TIME, weekdays VARCHAR(250) DEFAULT '[]',
  days_of_month TEXT DEFAULT '[]', interval_day INTEGER, cron TEXT, timezone VARCHAR(255), duration INTEGER);
CREATE TABLE monitor_maintenance (id INTEGER PRIMARY KEY AUTOINCREMENT, monitor_id INTEGER NOT NULL,
  maintenance_id INTEGER NOT NULL);
CREATE TABLE status_page (id INTEGER PRIMARY KEY AUTOINCREMENT, slug VARCHAR(255) NOT NULL UNIQUE,
  title VARCHAR(255) NOT NULL, description TEXT, icon VARCHAR(255) NOT NULL, theme VARCHAR(30) NOT NULL,
  published BOOLEAN NOT NULL DEFAULT 1);
CREATE TABLE "group" (id INTEGER PRIMARY KEY AUTOINCREMENT, name VARCHAR(255) NOT NULL,
  created_date DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP, public BOOLEAN NOT NULL DEFAULT 0,
  active BOOLEAN NOT NULL DEFAULT 1, weight INTEGER NOT NULL DEFAULT 1000, status_page_id INTEGER);
CREATE TABLE monitor_group (id INTEGER PRIMARY KEY AUTOINCREMENT, monitor_id INTEGER NOT NULL,
  group_id INTEGER NOT NULL, weight INTEGER NOT NULL DEFAULT 1000, send_url BOOLEAN NOT NULL DEFAULT 0);
INSERT INTO monitor (id, name, type, interval) VALUES (1, 'Production', 'group', 60);
INSERT INTO monitor (id, name, type, url, interval, maxretries, accepted_statuscodes_json, parent, headers,
  basic_auth_user, basic_auth_pass, timeout)
  VALUES (2, 'Website', 'http', 'https://shop.example.com/', 30, 2, '["200-299","301"]', 1,
  '{"X-Probe": "kuma"}', 'probe', 's3cret', 24);
INSERT INTO monitor (id, name, type, url, keyword, interval) VALUES (3, 'Login page', 'keyword',
  'https://shop.example.com/login', 'Sign in', 60);
INSERT INTO monitor (id, name, type, hostname, port, interval)
  VALUES (4, 'Database port', 'port', 'db.internal', 5432, 60);
INSERT INTO monitor (id, name, type, hostname, interval, active) VALUES (5, 'Gateway ping', 'ping', '10.0.0.1', 60, 0);
INSERT INTO monitor (id, name, type, hostname, dns_resolve_type, dns_resolve_server, interval)
  VALUES (6, 'DNS', 'dns', 'example.com', 'AAAA', '1.1.1.1', 300);
INSERT INTO monitor (id, name, type, push_token, interval) VALUES (7, 'Nightly backup', 'push', 'abc123', 86400);
INSERT INTO monitor (id, name, type, docker_container, interval) VALUES (8, 'Container', 'docker', 'web', 60);
INSERT INTO monitor (id, name, type, url, upside_down, interval)
  VALUES (9, 'Must fail', 'http', 'https://x.example', 1, 60);
INSERT INTO tag (id, name, color) VALUES (1, 'env', '#f00');
INSERT INTO monitor_tag (monitor_id, tag_id, value) VALUES (2, 1, 'prod');
INSERT INTO maintenance (id, title, description, strategy, start_date, end_date)
  VALUES (1, 'Shop migration', 'Moving hosts', 'single', '2027-03-20 22:00:00', '2027-03-21 02:00:00');
INSERT INTO monitor_maintenance (monitor_id, maintenance_id) VALUES (2, 1);
INSERT INTO maintenance (id, title, description, strategy, weekdays)
  VALUES (2, 'Weekly reboot', '', 'recurring-weekday', '[7]');
INSERT INTO status_page (id, slug, title, icon, theme) VALUES (1, 'shop', 'Shop status', '/icon.svg', 'light');
INSERT INTO "group" (id, name, public, active, weight, status_page_id) VALUES (1, 'Storefront', 1, 1, 1, 1);
INSERT INTO monitor_group (monitor_id, group_id, weight) VALUES (2, 1, 1);
INSERT INTO monitor_group (monitor_id, group_id, weight) VALUES (3, 1, 2);
INSERT INTO monitor_group (monitor_id, group_id, weight) VALUES (8, 1, 3);
"#;
    sqlx::raw_sql(ddl).execute(&mut c).await.unwrap();
}
