//! Escalation policies.

use super::*;

pub struct PolicyRow {
    id: Uuid,
    name: String,
    loops: u32,
    levels: Vec<(u32, Vec<String>)>,
    /// Services that use the policy: (name, slug).
    services: Vec<(String, String)>,
    /// People the policy pages directly who have no contact method.
    unreachable: Vec<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "oncall/policies.html")]
pub struct PoliciesPage {
    chrome: Chrome,
    policies: Vec<PolicyRow>,
    targets: Vec<(String, String)>,
    /// The form: the policy being edited (id, name, loops, per level: selected targets and delay).
    form: PolicyFormView,
}

#[derive(Default)]
pub struct PolicyFormView {
    id: Option<Uuid>,
    name: String,
    loops: u32,
    levels: Vec<(Vec<String>, u32)>,
}

impl PolicyFormView {
    fn selected(&self, level: usize, target: &str) -> bool {
        self.levels.get(level).is_some_and(|l| l.0.iter().any(|t| t == target))
    }

    fn delay(&self, level: usize) -> u32 {
        self.levels.get(level).map(|l| l.1).unwrap_or(15)
    }
}

pub(super) fn target_key(t: &Target) -> String {
    let kind = match t.kind {
        TargetKind::User => "user",
        TargetKind::Schedule => "schedule",
        TargetKind::Team => "team",
    };
    format!("{kind}:{}", t.id)
}

#[derive(Deserialize, Default)]
pub struct PoliciesQuery {
    notice: Option<String>,
    edit: Option<Uuid>,
}

pub(super) async fn target_names(state: &AppState) -> Result<Vec<(String, String)>, ApiError> {
    let mut out = Vec::new();
    for s in state.db.list_schedules().await? {
        out.push((format!("schedule:{}", s.id), format!("Schedule: {}", s.spec.name)));
    }
    for (id, name) in people(state).await? {
        out.push((format!("user:{id}"), format!("Person: {name}")));
    }
    for t in state.db.list_teams(None, None, Some(500)).await?.items {
        out.push((format!("team:{}", t.id), format!("Team: {}", t.name)));
    }
    Ok(out)
}

pub async fn policies(State(state): State<AppState>, page: PageAuth, Query(q): Query<PoliciesQuery>) -> Response {
    let chrome = chrome!(page, state, "policies", q.notice);
    let targets = try_page!(target_names(&state).await);
    let label: HashMap<String, String> = targets.iter().cloned().collect();
    let used_by = try_page!(state.db.policy_services().await);
    let mut rows = Vec::new();
    for p in try_page!(state.db.list_policies().await) {
        let direct: Vec<Uuid> = p
            .spec
            .levels
            .iter()
            .flat_map(|l| l.targets.iter())
            .filter(|t| t.kind == TargetKind::User)
            .map(|t| t.id)
            .collect();
        rows.push((p, try_page!(op::unreachable_people(&state, &direct).await)));
    }
    let policies = rows
        .into_iter()
        .map(|(p, unreachable)| PolicyRow {
            services: used_by.iter().filter(|(id, _, _)| *id == p.id).map(|(_, n, s)| (n.clone(), s.clone())).collect(),
            unreachable,
            id: p.id,
            name: p.spec.name,
            loops: p.spec.loops,
            levels: p
                .spec
                .levels
                .iter()
                .map(|l| {
                    let names = l
                        .targets
                        .iter()
                        .map(|t| {
                            let key = format!(
                                "{}:{}",
                                serde_json::to_value(t.kind)
                                    .ok()
                                    .and_then(|v| v.as_str().map(str::to_owned))
                                    .unwrap_or_default(),
                                t.id
                            );
                            label.get(&key).cloned().unwrap_or(key)
                        })
                        .collect();
                    (l.delay_minutes, names)
                })
                .collect(),
        })
        .collect();
    let form = match q.edit {
        Some(id) => match state.db.get_policy(id).await {
            Ok(p) => PolicyFormView {
                id: Some(p.id),
                name: p.spec.name,
                loops: p.spec.loops,
                levels: p
                    .spec
                    .levels
                    .iter()
                    .map(|l| (l.targets.iter().map(target_key).collect(), l.delay_minutes))
                    .collect(),
            },
            Err(e) => return error_page(&e.into()),
        },
        None => PolicyFormView { loops: 1, ..Default::default() },
    };
    PoliciesPage { chrome, policies, targets, form }.into_response()
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PolicyForm {
    id: String,
    name: String,
    loops: String,
    level1: Vec<String>,
    delay1: String,
    level2: Vec<String>,
    delay2: String,
    level3: Vec<String>,
    delay3: String,
}

pub(super) fn parse_target(s: &str) -> Option<Target> {
    let (k, id) = s.split_once(':')?;
    let kind = match k {
        "user" => TargetKind::User,
        "schedule" => TargetKind::Schedule,
        "team" => TargetKind::Team,
        _ => return None,
    };
    Some(Target { kind, id: id.parse().ok()? })
}

pub async fn policy_create(State(state): State<AppState>, page: PageAuth, Form(f): Form<PolicyForm>) -> Response {
    let result = async {
        let mut levels = Vec::new();
        for (targets, delay) in [(&f.level1, &f.delay1), (&f.level2, &f.delay2), (&f.level3, &f.delay3)] {
            if targets.is_empty() {
                continue;
            }
            levels.push(Level {
                delay_minutes: delay
                    .trim()
                    .parse()
                    .map_err(|_| ApiError::invalid("levels", "each delay is a whole number of minutes"))?,
                targets: targets.iter().filter_map(|t| parse_target(t)).collect(),
            });
        }
        let loops = f.loops.trim().parse().map_err(|_| ApiError::invalid("loops", "a whole number, 1 to 9"))?;
        let spec = PolicySpec { name: f.name, description: String::new(), loops, levels };
        Ok(match f.id.parse::<Uuid>() {
            Ok(id) => format!("Policy {} saved", op::update_policy(&state, &page.0, id, spec).await?.spec.name),
            Err(_) => format!("Policy {} created", op::create_policy(&state, &page.0, spec).await?.spec.name),
        })
    };
    outcome("/escalation-policies", result.await)
}

pub async fn policy_delete(State(state): State<AppState>, page: PageAuth, Path(id): Path<String>) -> Response {
    let id = try_page!(crate::extract::parse_id(Entity::EscalationPolicy, &id));
    outcome("/escalation-policies", op::delete_policy(&state, &page.0, id).await.map(|()| "Policy deleted".into()))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ServicePolicyForm {
    policy_id: String,
}

pub async fn service_policy(
    State(state): State<AppState>,
    page: PageAuth,
    Path(service): Path<String>,
    Form(f): Form<ServicePolicyForm>,
) -> Response {
    let s = try_page!(state.db.get_service(opsdeck_store::catalogue::Ref::parse(&service)).await);
    let pid = f.policy_id.parse::<Uuid>().ok();
    let result = op::set_service_policy(&state, &page.0, s.service.id, pid).await;
    outcome(&format!("/services/{}", s.service.slug), result.map(|()| "Escalation policy saved".into()))
}
