//! The alerts list.

use super::*;

pub struct AlertRow {
    a: AlertDto,
    seen: String,
    seen_at: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "incidents/alerts.html")]
pub struct AlertsPage {
    chrome: Chrome,
    rows: Vec<AlertRow>,
    status_f: String,
    q: String,
    next: Option<String>,
    counts: Vec<(String, i64)>,
    /// Alerts of every status.
    all: i64,
    filtered: bool,
}

#[derive(Deserialize, Default)]
pub struct AlertListQuery {
    status: Option<String>,
    q: Option<String>,
    cursor: Option<String>,
}

pub async fn alerts(State(state): State<AppState>, page: PageAuth, Query(q): Query<AlertListQuery>) -> Response {
    let chrome = chrome!(page, state, "alerts", None);
    let status = q.status.as_deref().filter(|s| !s.is_empty()).and_then(AlertStatus::parse);
    let query = q.q.clone().filter(|s| !s.trim().is_empty());
    let p = try_page!(
        state
            .db
            .list_alerts(&AlertFilter {
                status,
                q: query.clone(),
                cursor: q.cursor.as_deref().and_then(opsdeck_store::Cursor::decode),
                limit: Some(50),
                ..Default::default()
            })
            .await
    );
    let counts = try_page!(state.db.alert_counts().await);
    let now = state.now();
    let next = p.next_cursor.map(|c| {
        let mut params = vec![("cursor", c)];
        if let Some(s) = q.status.clone().filter(|s| !s.is_empty()) {
            params.push(("status", s));
        }
        if let Some(s) = query.clone() {
            params.push(("q", s));
        }
        format!("/alerts?{}", serde_urlencoded::to_string(params).unwrap_or_default())
    });
    AlertsPage {
        chrome,
        rows: p
            .items
            .into_iter()
            .map(|a| AlertRow { seen: ago(a.last_seen, now), seen_at: abs(a.last_seen), a: AlertDto::from(a) })
            .collect(),
        filtered: status.is_some() || query.is_some(),
        status_f: q.status.unwrap_or_default(),
        q: q.q.unwrap_or_default(),
        next,
        all: counts.values().sum(),
        counts: ["firing", "acknowledged", "resolved"]
            .iter()
            .map(|s| (s.to_string(), counts.get(*s).copied().unwrap_or(0)))
            .collect(),
    }
    .into_response()
}
