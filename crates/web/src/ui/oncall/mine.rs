//! My notifications.

use super::*;

#[derive(Template, WebTemplate)]
#[template(path = "oncall/my_notifications.html")]
pub struct MyNotificationsPage {
    chrome: Chrome,
    methods: Vec<opsdeck_store::oncall::ContactMethod>,
    rules: Vec<(Uuid, String, i32)>,
    kinds: [ChannelKind; 5],
    calendar_url: String,
    /// On call now or within a day: a missing contact method matters.
    on_call_soon: bool,
    /// Results of "send me a test", one line per method.
    tested: Vec<(String, Option<String>)>,
}

pub async fn mine(
    State(state): State<AppState>,
    page: PageAuth,
    headers: HeaderMap,
    Query(q): Query<NoticeQuery>,
) -> Response {
    mine_page(state, page, headers, q.notice, Vec::new()).await
}

async fn mine_page(
    state: AppState,
    page: PageAuth,
    headers: HeaderMap,
    notice: Option<String>,
    tested: Vec<(String, Option<String>)>,
) -> Response {
    let chrome = chrome!(page, state, "notifications", notice);
    let me = page.0.user.id;
    let methods = try_page!(state.db.contact_methods(me).await);
    let rules = try_page!(state.db.notification_rules(me).await)
        .into_iter()
        .map(|r| {
            let m = methods
                .iter()
                .find(|m| m.id == r.contact_method_id)
                .map(|m| format!("{} {}", m.kind, m.address))
                .unwrap_or_default();
            (r.id, m, r.delay_minutes)
        })
        .collect();
    let base = crate::operations::settings::base_url(&state, &headers).await;
    let calendar_url = try_page!(crate::operations::oncall::personal_calendar_url(&state, &page.0, &base).await);
    // Only worth the schedule walk when there is no way to reach me.
    let on_call_soon = methods.is_empty() && try_page!(crate::ui::home::shifts_include(&state, state.now(), me).await);
    MyNotificationsPage {
        chrome,
        methods,
        rules,
        kinds: [ChannelKind::Email, ChannelKind::Slack, ChannelKind::Teams, ChannelKind::Discord, ChannelKind::Webhook],
        calendar_url,
        on_call_soon,
        tested,
    }
    .into_response()
}

/// "Send me a test" (`POST /settings/notifications/test`): one message to each of my contact
/// methods now, each outcome shown on the page.
pub async fn test_mine(State(state): State<AppState>, page: PageAuth, headers: HeaderMap) -> Response {
    match op::test_my_contact_methods(&state, &page.0).await {
        Ok(results) => {
            let failed = results.iter().filter(|(_, r)| r.is_err()).count();
            let notice = if failed == 0 {
                format!("Test sent to {} contact method{}", results.len(), if results.len() == 1 { "" } else { "s" })
            } else {
                format!("Not done: {failed} of {} contact methods refused the test", results.len())
            };
            let tested = results.into_iter().map(|(m, r)| (m, r.err())).collect();
            mine_page(state, page, headers, Some(notice), tested).await
        }
        Err(e) => outcome(MINE, Err(e)),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "oncall/demo_inbox.html")]
pub struct DemoInboxPage {
    chrome: Chrome,
    messages: Vec<(crate::demo_inbox::InboxMessage, String, String)>,
}

/// The demo inbox (`/demo/inbox`, `serve --demo` only): what the demo users' contact methods
/// received, newest first.
pub async fn demo_inbox(State(state): State<AppState>, page: PageAuth) -> Response {
    if !state.config.demo_endpoints {
        return error_page(&ApiError::new(crate::error::ErrorCode::PageNotFound, "There is no page at this address."));
    }
    let chrome = chrome!(page, state, "inbox", None);
    let now = state.now();
    let messages = state
        .demo_inbox
        .messages()
        .into_iter()
        .map(|m| (super::super::ago(m.at, now), abs(m.at), m))
        .map(|(a, b, m)| (m, a, b))
        .collect();
    DemoInboxPage { chrome, messages }.into_response()
}

pub(super) const MINE: &str = "/settings/notifications";

/// A new personal calendar link (`POST /settings/notifications/calendar/reset`).
pub async fn calendar_reset(State(state): State<AppState>, page: PageAuth) -> Response {
    let result = crate::operations::oncall::new_personal_calendar_url(&state, &page.0).await;
    outcome(MINE, result.map(|()| "New calendar link: the old one no longer works".to_owned()))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct MethodForm {
    kind: String,
    address: String,
    label: String,
}

pub async fn method_add(State(state): State<AppState>, page: PageAuth, Form(f): Form<MethodForm>) -> Response {
    let result = async {
        let spec = ContactSpec::new(&f.kind, &f.address, &f.label)?;
        op::add_contact_method(&state, &page.0, page.0.user.id, spec).await?;
        Ok("Contact method added".into())
    };
    outcome(MINE, result.await)
}

pub async fn method_delete(State(state): State<AppState>, page: PageAuth, Path(id): Path<String>) -> Response {
    let id = try_page!(crate::extract::parse_id(Entity::ContactMethod, &id));
    let result = op::delete_contact_method(&state, &page.0, page.0.user.id, id).await;
    outcome(MINE, result.map(|()| "Contact method removed".into()))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RuleForm {
    contact_method_id: String,
    delay_minutes: String,
}

pub async fn rule_add(State(state): State<AppState>, page: PageAuth, Form(f): Form<RuleForm>) -> Response {
    let result = async {
        let cm: Uuid = f
            .contact_method_id
            .parse()
            .map_err(|_| ApiError::invalid("contact_method_id", "choose a contact method"))?;
        let delay: i64 =
            f.delay_minutes.trim().parse().map_err(|_| ApiError::invalid("delay_minutes", "minutes, e.g. 0 or 5"))?;
        op::add_notification_rule(&state, &page.0, page.0.user.id, RuleSpec::new(cm, delay)?).await?;
        Ok("Rule added".into())
    };
    outcome(MINE, result.await)
}

pub async fn rule_delete(State(state): State<AppState>, page: PageAuth, Path(id): Path<String>) -> Response {
    let id = try_page!(crate::extract::parse_id(Entity::NotificationRule, &id));
    let result = op::delete_notification_rule(&state, &page.0, page.0.user.id, id).await;
    outcome(MINE, result.map(|()| "Rule removed".into()))
}

/// Who is on call now for a service, for its page.
pub async fn for_service(state: &AppState, service_id: Uuid) -> Vec<OnCall> {
    op::who_is_on_call(state, op::Scope::Service(service_id), state.now()).await.unwrap_or_default()
}
