//! Channels.

use super::*;

#[derive(Template, WebTemplate)]
#[template(path = "oncall/channels.html")]
pub struct ChannelsPage {
    chrome: Chrome,
    channels: Vec<(opsdeck_store::oncall::Channel, String)>,
    services: Vec<opsdeck_store::catalogue::ServiceView>,
    teams: Vec<opsdeck_core::catalogue::Team>,
    kinds: [ChannelKind; 6],
}

pub async fn channels(State(state): State<AppState>, page: PageAuth, Query(q): Query<NoticeQuery>) -> Response {
    let chrome = chrome!(page, state, "channels", q.notice);
    let services = try_page!(
        state
            .db
            .list_services(&opsdeck_store::catalogue::ServiceFilter { limit: Some(500), ..Default::default() })
            .await
    )
    .items;
    let teams = try_page!(state.db.list_teams(None, None, Some(500)).await).items;
    let names: HashMap<Uuid, String> = services.iter().map(|s| (s.service.id, s.service.name.clone())).collect();
    let team_names: HashMap<Uuid, String> = teams.iter().map(|t| (t.id, t.name.clone())).collect();
    let channels = try_page!(state.db.list_channels(None).await)
        .into_iter()
        .map(|c| {
            let scope = match (c.service_id, c.team_id) {
                (Some(s), _) => names.get(&s).cloned().unwrap_or_default(),
                (None, Some(t)) => format!("every service of {}", team_names.get(&t).cloned().unwrap_or_default()),
                _ => "—".into(),
            };
            (c, scope)
        })
        .collect();
    ChannelsPage { chrome, channels, services, teams, kinds: ChannelKind::ALL }.into_response()
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ChannelForm {
    name: String,
    kind: String,
    target: String,
    secret: String,
    routing_key: String,
    service_id: String,
    team_id: String,
    subject_template: String,
    body_template: String,
}

pub async fn channel_create(State(state): State<AppState>, page: PageAuth, Form(f): Form<ChannelForm>) -> Response {
    let result = async {
        let mut config = ChannelConfig::default();
        if f.kind.trim() == ChannelKind::Email.as_str() {
            config.to = Some(f.target.clone());
        } else {
            config.url = Some(f.target.clone());
        }
        config.secret = Some(f.secret.clone()).filter(|s| !s.is_empty());
        config.routing_key = Some(f.routing_key.clone()).filter(|s| !s.is_empty());
        config.subject_template = Some(f.subject_template.clone()).filter(|s| !s.trim().is_empty());
        config.body_template = Some(f.body_template.clone()).filter(|s| !s.trim().is_empty());
        let service_id = f.service_id.parse::<Uuid>().ok();
        let team_id = f.team_id.parse::<Uuid>().ok();
        let spec = ChannelSpec::new(&f.name, &f.kind, config, service_id, team_id)?;
        Ok(format!("Channel {} added", op::create_channel(&state, &page.0, spec).await?.name))
    };
    outcome("/channels", result.await)
}

pub async fn channel_test(State(state): State<AppState>, page: PageAuth, Path(id): Path<String>) -> Response {
    let id = try_page!(crate::extract::parse_id(Entity::Channel, &id));
    let result = op::test_channel(&state, &page.0, id).await.map(|sent| match sent {
        Ok(c) => format!("Test notification sent to {}", c.name),
        Err(e) => format!("Test failed: {e}"),
    });
    outcome("/channels", result)
}

pub async fn channel_delete(State(state): State<AppState>, page: PageAuth, Path(id): Path<String>) -> Response {
    let id = try_page!(crate::extract::parse_id(Entity::Channel, &id));
    outcome("/channels", op::delete_channel(&state, &page.0, id).await.map(|()| "Channel deleted".into()))
}
