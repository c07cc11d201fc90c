//! Schedules.

use super::*;

pub struct ScheduleRow {
    id: Uuid,
    name: String,
    timezone: String,
    layers: usize,
    now: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "oncall/oncall.html")]
pub struct OnCallPage {
    chrome: Chrome,
    schedules: Vec<ScheduleRow>,
}

pub async fn list(State(state): State<AppState>, page: PageAuth, Query(q): Query<NoticeQuery>) -> Response {
    let chrome = chrome!(page, state, "oncall", q.notice);
    let now = state.now();
    let mut schedules = Vec::new();
    for s in try_page!(state.db.list_schedules().await) {
        let o = try_page!(state.db.overrides(s.id, now - Duration::days(1), now + Duration::days(1)).await);
        let who = oncall::on_call(&s.spec, &o, now).map(|w| w.0);
        let name = match who {
            Some(u) => try_page!(state.db.user_names(&[u]).await).into_iter().next().map(|x| x.1).unwrap_or_default(),
            None => String::new(),
        };
        schedules.push(ScheduleRow {
            id: s.id,
            layers: s.spec.layers.len(),
            timezone: s.spec.timezone,
            name: s.spec.name,
            now: name,
        });
    }
    OnCallPage { chrome, schedules }.into_response()
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct NewSchedule {
    name: String,
    timezone: String,
}

pub async fn create(State(state): State<AppState>, page: PageAuth, Form(f): Form<NewSchedule>) -> Response {
    let spec = ScheduleSpec {
        name: f.name,
        description: String::new(),
        timezone: if f.timezone.trim().is_empty() { "UTC".into() } else { f.timezone.trim().into() },
        team_id: None,
        layers: vec![],
    };
    match op::create_schedule(&state, &page.0, spec).await {
        Ok(s) => done(&format!("/oncall/{}", s.id), "Schedule created: add a layer of people"),
        Err(e) => outcome("/oncall", Err(e)),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "oncall/schedule.html")]
pub struct SchedulePage {
    chrome: Chrome,
    /// Which fortnight the timeline shows (0: from now), and its dates.
    fortnight: i32,
    range: String,
    /// People in the rotation with no contact method.
    unreachable: Vec<String>,
    s: Schedule,
    layer_users: Vec<Vec<String>>,
    svg: String,
    gaps: usize,
    overrides: Vec<(Uuid, String, String, String)>,
    now: Option<OnCall>,
    people: Vec<(Uuid, String)>,
    calendar_url: String,
    personal_url: String,
    days: [Weekday; 7],
    /// The layer form: a new layer, or the layer being edited.
    layer_form: LayerForm,
    /// Why the layer form was refused (it shows what was typed).
    layer_error: Option<String>,
    /// Editing layer N (0-based); `None` adds a layer.
    editing: Option<usize>,
    /// Time windows of the edited layer past the first (set through the API): the form edits
    /// the first and keeps these.
    kept_windows: usize,
    /// Turn pickers to show: the rotation plus spare ones to lengthen it.
    turn_slots: usize,
}

#[derive(Deserialize, Default)]
pub struct ScheduleQuery {
    notice: Option<String>,
    /// Fortnights from now for the timeline (negative: the past); anything else shows now.
    page: Option<String>,
    /// Edit this layer (0-based) in the layer form.
    edit_layer: Option<usize>,
}

pub async fn detail(
    State(state): State<AppState>,
    page: PageAuth,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<ScheduleQuery>,
) -> Response {
    let id = try_page!(crate::extract::parse_id(Entity::Schedule, &id));
    render(&state, &page, &headers, id, q, None).await
}

/// A layer form as posted and refused: what was typed, and why.
struct Refused {
    form: LayerForm,
    error: String,
}

async fn render(
    state: &AppState,
    page: &PageAuth,
    headers: &HeaderMap,
    id: Uuid,
    q: ScheduleQuery,
    refused: Option<Refused>,
) -> Response {
    let chrome = chrome!(page, state, "oncall", q.notice);
    let s = try_page!(state.db.get_schedule(id).await);
    let now = state.now();
    let tz = s.spec.tz();
    // Two weeks at a time; `?page=N` moves N fortnights forward (or back), within a year.
    let fortnight = q.page.as_deref().and_then(|p| p.trim().parse::<i32>().ok()).unwrap_or(0).clamp(-26, 26);
    let start = now - Duration::hours(12);
    let from = start.checked_add_signed(Duration::days(14 * i64::from(fortnight))).unwrap_or(start);
    let to = from.checked_add_signed(Duration::days(14) + Duration::hours(12)).unwrap_or(from);
    let overrides = try_page!(state.db.overrides(id, from, to).await);
    let people = try_page!(people(state).await);
    let names: HashMap<Uuid, String> = people.iter().cloned().collect();
    let order: Vec<Uuid> = people.iter().map(|p| p.0).collect();
    let mut rows: Vec<(String, Vec<Shift>)> = s
        .spec
        .layers
        .iter()
        .map(|l| {
            let only = ScheduleSpec { layers: vec![l.clone()], ..s.spec.clone() };
            (l.name.clone(), oncall::timeline(&only, &[], from, to))
        })
        .collect();
    if !overrides.is_empty() {
        let only = ScheduleSpec { layers: vec![], ..s.spec.clone() };
        rows.push(("Overrides".into(), oncall::timeline(&only, &overrides, from, to)));
    }
    let fin = oncall::timeline(&s.spec, &overrides, from, to);
    let gaps = fin.iter().filter(|f| f.user_id.is_none() && f.end > now).count();
    rows.push(("Final".into(), fin));
    let svg = crate::ui::charts::schedule_timeline(&rows, &names, &order, (from, to), now, tz);
    let who = oncall::on_call(&s.spec, &overrides, now).map(|(u, src)| OnCall {
        user_id: u,
        username: names.get(&u).cloned().unwrap_or_default(),
        display_name: names.get(&u).cloned().unwrap_or_default(),
        unreachable: false,
        level: 1,
        schedule_id: Some(id),
        via: op::via(&s.spec, src),
    });
    let base = crate::operations::settings::base_url(state, headers).await;
    let personal_url = try_page!(op::personal_calendar_url(state, &page.0, &base).await);
    // Everyone who can be on call in the next two weeks: the rotations and the overrides.
    let members: Vec<Uuid> = s
        .spec
        .layers
        .iter()
        .flat_map(|l| l.users.iter().copied())
        .chain(overrides.iter().filter(|o| o.end > now).map(|o| o.user_id))
        .collect();
    let unreachable = try_page!(op::unreachable_people(state, &members).await);
    let (layer_form, layer_error) = match refused {
        Some(r) => (r.form, Some(r.error)),
        None => match q.edit_layer.and_then(|i| Some((i, s.spec.layers.get(i)?))) {
            Some((i, l)) => (LayerForm::from_layer(i, l), None),
            None => {
                let start = default_start(now, tz);
                (LayerForm { start, count: "1".into(), unit: "weeks".into(), ..Default::default() }, None)
            }
        },
    };
    let editing = layer_form.editing(s.spec.layers.len());
    let kept_windows = editing.and_then(|i| s.spec.layers.get(i)).map_or(0, |l| l.restrictions.len().saturating_sub(1));
    // Spare pickers lengthen a rotation without JavaScript; there are never more than the limit.
    let turn_slots = (layer_form.users.len() + 3).max(people.len().min(10)).min(oncall::USERS_MAX);
    SchedulePage {
        chrome,
        unreachable,
        fortnight,
        range: format!(
            "{} – {}",
            from.with_timezone(&tz).format("%a %d %b"),
            to.with_timezone(&tz).format("%a %d %b %Y")
        ),
        layer_users: s
            .spec
            .layers
            .iter()
            .map(|l| l.users.iter().map(|u| names.get(u).cloned().unwrap_or_else(|| "?".into())).collect())
            .collect(),
        svg,
        gaps,
        overrides: overrides
            .iter()
            .map(|o| (o.id, names.get(&o.user_id).cloned().unwrap_or_default(), abs(o.start), abs(o.end)))
            .collect(),
        now: who,
        people,
        calendar_url: format!("{base}/schedules/{}/calendar.ics?token={}", s.id, s.feed_token),
        personal_url,
        days: [Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri, Weekday::Sat, Weekday::Sun],
        layer_form,
        layer_error,
        editing,
        kept_windows,
        turn_slots,
        s,
    }
    .into_response()
}

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct LayerForm {
    /// The layer being replaced (0-based); empty adds a layer.
    index: String,
    name: String,
    /// One per turn, in rotation order; empty turns are skipped.
    users: Vec<String>,
    start: String,
    count: String,
    unit: String,
    days: Vec<Weekday>,
    handoffs: String,
    from_time: String,
    to_time: String,
}

impl LayerForm {
    /// The form showing existing layer `index`.
    fn from_layer(index: usize, l: &Layer) -> Self {
        let (count, unit) = match l.length {
            Length::Days(n) => (n, "days"),
            Length::Weeks(n) => (n, "weeks"),
            Length::Hours(n) => (n, "hours"),
        };
        let first = l.restrictions.first();
        LayerForm {
            index: index.to_string(),
            name: l.name.clone(),
            users: l.users.iter().map(Uuid::to_string).collect(),
            start: l.start.format("%Y-%m-%dT%H:%M").to_string(),
            count: count.to_string(),
            unit: unit.into(),
            days: first.map(|r| r.days.clone()).unwrap_or_default(),
            handoffs: l.handoffs.clone().unwrap_or_default(),
            from_time: first.map(|r| r.start.format("%H:%M").to_string()).unwrap_or_default(),
            to_time: first.map(|r| r.end.format("%H:%M").to_string()).unwrap_or_default(),
        }
    }

    /// The layer this form replaces, when it names one of the schedule's `layers`.
    fn editing(&self, layers: usize) -> Option<usize> {
        self.index.trim().parse::<usize>().ok().filter(|i| *i < layers)
    }

    /// The person chosen for turn `i`, if any.
    pub fn turn(&self, i: &usize) -> &str {
        self.users.get(*i).map(String::as_str).unwrap_or("")
    }

    pub fn has_day(&self, d: &Weekday) -> bool {
        self.days.contains(d)
    }

    /// The layer, named `Layer N` when the form leaves the name empty.
    fn layer(self, n: usize) -> Result<Layer, ApiError> {
        let start = opsdeck_core::time::parse_local("start", &self.start)?;
        let count: u32 = self.count.trim().parse().map_err(|_| ApiError::invalid("count", "a whole number"))?;
        let length = match self.unit.as_str() {
            "hours" => Length::Hours(count),
            "weeks" => Length::Weeks(count),
            _ => Length::Days(count),
        };
        let restrictions = match (self.from_time.trim(), self.to_time.trim()) {
            ("", "") => vec![],
            (a, b) => vec![Restriction {
                days: self.days,
                start: NaiveTime::parse_from_str(a, "%H:%M")
                    .map_err(|_| ApiError::invalid("from_time", "a time such as 09:00"))?,
                end: NaiveTime::parse_from_str(b, "%H:%M")
                    .map_err(|_| ApiError::invalid("to_time", "a time such as 17:00"))?,
            }],
        };
        let name = if self.name.trim().is_empty() { format!("Layer {n}") } else { self.name };
        let handoffs = Some(self.handoffs.trim().to_owned()).filter(|h| !h.is_empty());
        let users = self
            .users
            .iter()
            .map(|u| u.trim())
            .filter(|u| !u.is_empty())
            .map(|u| u.parse::<Uuid>().map_err(|_| ApiError::invalid("users", "choose people from the list")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Layer { name, users, start, length, handoffs, restrictions })
    }
}

pub async fn layer_add(
    State(state): State<AppState>,
    page: PageAuth,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<LayerForm>,
) -> Response {
    let id = try_page!(crate::extract::parse_id(Entity::Schedule, &id));
    let s = try_page!(state.db.get_schedule(id).await);
    let mut spec = s.spec.clone();
    let editing = f.editing(spec.layers.len());
    let result = async {
        let mut layer = f.clone().layer(editing.unwrap_or(spec.layers.len()) + 1)?;
        match editing.and_then(|i| spec.layers.get_mut(i)) {
            // An edit replaces its layer in place. The form edits the first time window; the
            // others (set through the API, and said so on the form) are kept with it.
            Some(old) => {
                if let Some((_, rest)) = old.restrictions.split_first()
                    && !layer.restrictions.is_empty()
                {
                    layer.restrictions.extend_from_slice(rest);
                }
                *old = layer;
            }
            None => spec.layers.push(layer),
        }
        op::update_schedule(&state, &page.0, id, spec).await?;
        Ok(if editing.is_some() { "Layer saved" } else { "Layer added" })
    };
    match result.await {
        Ok(notice) => done(&format!("/oncall/{id}"), notice),
        Err(e) => match form_error(e) {
            Ok(error) => {
                let q = ScheduleQuery::default();
                let mut r = render(&state, &page, &headers, id, q, Some(Refused { form: f, error })).await;
                *r.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
                r
            }
            Err(r) => r,
        },
    }
}

pub async fn layer_remove(
    State(state): State<AppState>,
    page: PageAuth,
    Path((id, index)): Path<(String, usize)>,
) -> Response {
    let id = try_page!(crate::extract::parse_id(Entity::Schedule, &id));
    let s = try_page!(state.db.get_schedule(id).await);
    let result = async {
        let mut spec = s.spec.clone();
        if index >= spec.layers.len() {
            return Err(ApiError::invalid("index", "no such layer"));
        }
        spec.layers.remove(index);
        op::update_schedule(&state, &page.0, id, spec).await?;
        Ok("Layer removed".into())
    };
    outcome(&format!("/oncall/{id}"), result.await)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct OverrideForm {
    user_id: String,
    starts: String,
    ends: String,
}

pub async fn override_add(
    State(state): State<AppState>,
    page: PageAuth,
    Path(id): Path<String>,
    Form(f): Form<OverrideForm>,
) -> Response {
    let id = try_page!(crate::extract::parse_id(Entity::Schedule, &id));
    let s = try_page!(state.db.get_schedule(id).await);
    let tz = s.spec.tz();
    let result = async {
        let user: Uuid = f.user_id.parse().map_err(|_| ApiError::invalid("user_id", "choose who covers"))?;
        let local = |field: &'static str, v: &str| -> Result<DateTime<Utc>, ApiError> {
            Ok(oncall::local_to_utc(tz, opsdeck_core::time::parse_local(field, v)?))
        };
        let spec = OverrideSpec::new(user, local("starts", &f.starts)?, local("ends", &f.ends)?)?;
        op::add_override(&state, &page.0, id, spec).await?;
        Ok("Override added".into())
    };
    outcome(&format!("/oncall/{id}"), result.await)
}

pub async fn override_delete(
    State(state): State<AppState>,
    page: PageAuth,
    Path((id, oid)): Path<(String, String)>,
) -> Response {
    let id = try_page!(crate::extract::parse_id(Entity::Schedule, &id));
    let oid = try_page!(crate::extract::parse_id(Entity::Override, &oid));
    let result = op::delete_override(&state, &page.0, id, oid).await.map(|()| "Override removed".into());
    outcome(&format!("/oncall/{id}"), result)
}

pub async fn schedule_delete(State(state): State<AppState>, page: PageAuth, Path(id): Path<String>) -> Response {
    let id = try_page!(crate::extract::parse_id(Entity::Schedule, &id));
    match op::delete_schedule(&state, &page.0, id).await {
        Ok(()) => done("/oncall", "Schedule deleted"),
        Err(e) => outcome(&format!("/oncall/{id}"), Err(e)),
    }
}

/// The first handoff a new layer is offered: the latest 09:00 in the schedule's zone that has
/// passed, so a layer added before nine in the morning has someone on call at once rather than
/// leaving the schedule empty until then.
fn default_start(now: DateTime<Utc>, tz: chrono_tz::Tz) -> String {
    let local = now.with_timezone(&tz);
    let day = if local.time() < NaiveTime::from_hms_opt(9, 0, 0).unwrap_or_default() {
        local.date_naive().pred_opt().unwrap_or(local.date_naive())
    } else {
        local.date_naive()
    };
    day.format("%Y-%m-%dT09:00").to_string()
}
