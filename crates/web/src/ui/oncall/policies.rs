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
    /// Everyone and everything a level can notify: (`kind:id`, label).
    targets_all: Vec<(String, String)>,
    /// The form: the policy being edited (id, name, loops, per level: chosen targets and delay).
    form: PolicyFormView,
    /// Why the last save was refused, shown beside the form (which keeps what was typed).
    error: Option<String>,
}

/// Most levels a policy form offers; most targets per level.
const LEVELS_MAX: usize = 10;
const TARGETS_MAX: usize = 6;

#[derive(Default)]
pub struct PolicyFormView {
    id: Option<Uuid>,
    name: String,
    loops: String,
    /// Per level: its targets (`kind:id`) in order, and the delay as typed.
    levels: Vec<(Vec<String>, String)>,
}

impl PolicyFormView {
    /// Levels to draw: the filled ones, and one empty to add (the first when there is none).
    fn shown_levels(&self) -> Vec<(Vec<String>, String)> {
        if self.levels.is_empty() { vec![(Vec::new(), "15".into())] } else { self.levels.clone() }
    }

    /// Target slots of a level: its targets and one empty, at most [`TARGETS_MAX`].
    fn slots(targets: &[String]) -> Vec<String> {
        let mut v = targets.to_vec();
        if v.len() < TARGETS_MAX {
            v.push(String::new());
        }
        v
    }

    /// The form as posted: `name`, `loops`, `id`, and `level{n}` (repeated, one target each)
    /// with `delay{n}` for levels 1 to [`LEVELS_MAX`].
    fn from_pairs(pairs: &[(String, String)]) -> (PolicyFormView, bool) {
        let mut f = PolicyFormView { loops: "1".into(), ..Default::default() };
        let mut add_level = false;
        f.levels = vec![(Vec::new(), "15".into()); LEVELS_MAX];
        for (k, v) in pairs {
            match k.as_str() {
                "id" => f.id = v.parse().ok(),
                "name" => f.name = v.clone(),
                "loops" => f.loops = v.clone(),
                "add_level" => add_level = true,
                _ => {
                    let slot = |prefix: &str| {
                        k.strip_prefix(prefix)
                            .and_then(|n| n.parse::<usize>().ok())
                            .filter(|n| (1..=LEVELS_MAX).contains(n))
                            .map(|n| n - 1)
                    };
                    if let Some(i) = slot("level") {
                        if !v.is_empty() && !f.levels[i].0.contains(v) && f.levels[i].0.len() < TARGETS_MAX {
                            f.levels[i].0.push(v.clone());
                        }
                    } else if let Some(i) = slot("delay") {
                        f.levels[i].1 = v.clone();
                    }
                }
            }
        }
        f.levels.retain(|(t, _)| !t.is_empty());
        (f, add_level)
    }

    /// The policy the form describes; errors name the level to fix.
    fn spec(&self) -> Result<PolicySpec, ApiError> {
        let mut levels = Vec::new();
        for (n, (targets, delay)) in self.levels.iter().enumerate() {
            let delay_minutes = delay.trim().parse().map_err(|_| {
                ApiError::invalid("levels", format!("level {}: the delay is a whole number of minutes", n + 1))
            })?;
            levels.push(Level { delay_minutes, targets: targets.iter().filter_map(|t| parse_target(t)).collect() });
        }
        let loops = self.loops.trim().parse().map_err(|_| ApiError::invalid("loops", "a whole number, 1 to 9"))?;
        Ok(PolicySpec { name: self.name.clone(), description: String::new(), loops, levels })
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
    let form = match q.edit {
        Some(id) => match state.db.get_policy(id).await {
            Ok(p) => PolicyFormView {
                id: Some(p.id),
                name: p.spec.name,
                loops: p.spec.loops.to_string(),
                levels: p
                    .spec
                    .levels
                    .iter()
                    .map(|l| (l.targets.iter().map(target_key).collect(), l.delay_minutes.to_string()))
                    .collect(),
            },
            Err(e) => return error_page(&e.into()),
        },
        None => PolicyFormView { loops: "1".into(), ..Default::default() },
    };
    policies_page(state, page, q.notice, form, None).await
}

async fn policies_page(
    state: AppState,
    page: PageAuth,
    notice: Option<String>,
    form: PolicyFormView,
    error: Option<String>,
) -> Response {
    let chrome = chrome!(page, state, "policies", notice);
    let targets = try_page!(target_names(&state).await);
    let label: HashMap<String, String> = targets.iter().cloned().collect();
    let used_by = try_page!(state.db.policy_services().await);
    let all = try_page!(state.db.list_policies().await);
    let direct = |p: &opsdeck_store::oncall::Policy| -> Vec<Uuid> {
        let users = p.spec.levels.iter().flat_map(|l| l.targets.iter());
        users.filter(|t| t.kind == TargetKind::User).map(|t| t.id).collect()
    };
    // Who of all the people paged directly has no contact method: one lookup for the page.
    let every: Vec<Uuid> = all.iter().flat_map(direct).collect();
    let unreachable = try_page!(op::unreachable_ids(&state, &every).await);
    let names: HashMap<Uuid, String> = try_page!(people(&state).await).into_iter().collect();
    let rows: Vec<_> = all
        .into_iter()
        .map(|p| {
            let mut seen = std::collections::HashSet::new();
            let lost = direct(&p)
                .into_iter()
                .filter(|id| unreachable.contains(id) && seen.insert(*id))
                .filter_map(|id| names.get(&id).cloned())
                .collect::<Vec<_>>();
            (p, lost)
        })
        .collect();
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
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    (status, PoliciesPage { chrome, policies, targets_all: targets, form, error }).into_response()
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

/// Creates or saves a policy (`POST /escalation-policies`); "Add level" comes back with one more
/// empty level, and a refused policy comes back with what was typed and why.
pub async fn policy_create(
    State(state): State<AppState>,
    page: PageAuth,
    axum::extract::RawForm(body): axum::extract::RawForm,
) -> Response {
    // Level fields are numbered (`level1`, `delay1`, …) and repeat, so the pairs are read as sent.
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let (f, add_level) = PolicyFormView::from_pairs(&pairs);
    if add_level {
        let mut f = f;
        if f.levels.len() < LEVELS_MAX {
            f.levels.push((Vec::new(), "15".into()));
        }
        return policies_page(state, page, None, f, None).await;
    }
    let result = async {
        let spec = f.spec()?;
        Ok::<_, ApiError>(match f.id {
            Some(id) => format!("Policy {} saved", op::update_policy(&state, &page.0, id, spec).await?.spec.name),
            None => format!("Policy {} created", op::create_policy(&state, &page.0, spec).await?.spec.name),
        })
    };
    match result.await {
        Ok(notice) => done("/escalation-policies", &notice),
        Err(e) if e.status().is_client_error() => policies_page(state, page, None, f, Some(e.message)).await,
        Err(e) => error_page(&e),
    }
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
