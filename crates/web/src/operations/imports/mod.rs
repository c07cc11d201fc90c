//! Imports from other tools: read a source (a vendor API, a `kuma.db`, a Gatus file) into a
//! core [`Bundle`], plan it against what exists, and apply the plan.
//!
//! One walk does both: [`Run`] goes through the bundle's kinds in dependency order (users,
//! teams, schedules, policies, services and their integrations, monitors, maintenance) and
//! decides each item: *unchanged* (linked before, same digest), *update* (linked, changed at the
//! source), *adopt* (an object with its natural key exists: linked, not changed), *create*, or
//! *error* (it cannot be built; the reason names what to fix). A dry run stops there, with
//! stand-in ids for what it would create so dependents are checked too; applying writes each
//! object through the same operations the API uses (roles, validation, audit) and records its
//! link, so a re-run, or a run resumed after a failure, creates nothing twice.

mod people;
/// Reads a source into a bundle: the vendor API, the Kuma file or the Gatus text.
pub mod read;
mod things;

use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use chrono::{DateTime, Utc};
use opsdeck_core::import::{Bundle, ObjectKind, SourceKind, Unmapped, digest, equivalence};
use opsdeck_core::role::Permission;
use opsdeck_store::import::{Existing, ImportLink, ImportRun};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use utoipa::ToSchema;
use uuid::Uuid;

/// What a plan does with one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImportAction {
    Create,
    Update,
    Unchanged,
    /// An object with its natural key (e-mail, slug, name) exists: it is linked, not changed.
    Adopt,
    Error,
}

/// One object of the plan (and, once applied, of the report).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ImportStep {
    /// `user`, `team`, `schedule`, `policy`, `service`, `integration`, `monitor`, `maintenance`,
    /// `status_page`.
    pub kind: String,
    pub source_id: String,
    pub name: String,
    pub action: ImportAction,
    /// Why: the error to fix, what was adopted, or what the object leaves out.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
    /// The Opsdeck object (once it exists).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_id: Option<Uuid>,
}

/// Something the source has that Opsdeck cannot hold.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ImportUnmapped {
    pub what: String,
    pub source_id: String,
    pub name: String,
    pub reason: String,
}

/// Where the imported schedule would put someone else on call than the source does.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ImportDifference {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// The source's user id (none: nobody).
    pub source: Option<String>,
    pub opsdeck: Option<String>,
}

/// The on-call equivalence check of one schedule over the coming eight weeks.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ImportEquivalence {
    pub schedule: String,
    pub name: String,
    /// True when the source's "who is on call" and Opsdeck's agree everywhere.
    pub same: bool,
    pub differences: Vec<ImportDifference>,
}

/// An integration's new key beside the old one, so senders can be switched.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ImportKey {
    pub service: String,
    pub integration: String,
    /// The last characters of the key senders use today.
    pub old_key_hint: Option<String>,
    /// Where senders send now (it holds the key, except for Events API v2 senders, which send
    /// it as `routing_key`): in the answer that created it only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingest_url: Option<String>,
    /// The new key: in the answer that created it only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, ToSchema)]
pub struct ImportCounts {
    pub create: usize,
    pub update: usize,
    pub unchanged: usize,
    pub adopt: usize,
    pub error: usize,
    pub unmapped: usize,
}

/// A plan, or once applied, the report.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ImportReport {
    pub counts: ImportCounts,
    pub steps: Vec<ImportStep>,
    pub unmapped: Vec<ImportUnmapped>,
    pub equivalence: Vec<ImportEquivalence>,
    pub keys: Vec<ImportKey>,
}

/// A source instance: its kind and a name telling two of one kind apart.
#[derive(Debug, Clone)]
pub struct Origin {
    pub source: SourceKind,
    pub instance: String,
}

/// The longest instance name.
pub const INSTANCE_MAX: usize = 100;

impl Origin {
    pub fn new(source: SourceKind, instance: Option<&str>) -> Result<Self, ApiError> {
        let instance = instance.map(str::trim).unwrap_or("").to_owned();
        if instance.chars().count() > INSTANCE_MAX || instance.chars().any(char::is_control) {
            return Err(ApiError::invalid("instance", format!("use at most {INSTANCE_MAX} printable characters")));
        }
        Ok(Origin { source, instance })
    }
}

type Key = (ObjectKind, String);

/// One walk over a bundle: planning, or applying.
pub(crate) struct Run<'a> {
    pub state: &'a AppState,
    pub auth: &'a Auth,
    pub write: bool,
    pub origin: &'a Origin,
    pub existing: Existing,
    links: HashMap<Key, ImportLink>,
    /// Where each source object is (or would be) in Opsdeck.
    pub ids: HashMap<Key, Uuid>,
    pub steps: Vec<ImportStep>,
    pub keys: Vec<ImportKey>,
    /// Objects adopted so far: one object is adopted by one source object at most.
    adopted: std::collections::HashSet<Uuid>,
}

/// What to do with one item.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Decision {
    Create,
    Update(Uuid),
    Unchanged(Uuid),
    Adopt(Uuid),
}

impl<'a> Run<'a> {
    async fn new(state: &'a AppState, auth: &'a Auth, origin: &'a Origin, write: bool) -> Result<Self, ApiError> {
        let existing = state.db.import_existing().await?;
        let links = state
            .db
            .import_links(origin.source.as_str(), &origin.instance)
            .await?
            .into_iter()
            .filter_map(|l| {
                let kind = kind_of(&l.kind)?;
                Some(((kind, l.source_id.clone()), l))
            })
            .collect();
        Ok(Run {
            state,
            auth,
            write,
            origin,
            existing,
            links,
            ids: HashMap::new(),
            steps: vec![],
            keys: vec![],
            adopted: Default::default(),
        })
    }

    /// Decides an item by its link (if its object still exists), else by `adopt`.
    pub fn decide(&self, kind: ObjectKind, source_id: &str, digest: &str, adopt: Option<Uuid>) -> Decision {
        match self.links.get(&(kind, source_id.to_owned())) {
            Some(l) if self.existing.ids.contains(&l.object_id) && l.digest == digest => {
                Decision::Unchanged(l.object_id)
            }
            Some(l) if self.existing.ids.contains(&l.object_id) => Decision::Update(l.object_id),
            _ => adopt.filter(|id| !self.adopted.contains(id)).map_or(Decision::Create, Decision::Adopt),
        }
    }

    /// The Opsdeck id of a source object this run has placed, or why there is none.
    pub fn resolve(&self, kind: ObjectKind, source_id: &str) -> Result<Uuid, String> {
        self.ids.get(&(kind, source_id.to_owned())).copied().ok_or_else(|| {
            match self.steps.iter().find(|s| s.kind == kind.as_str() && s.source_id == source_id) {
                Some(s) => format!("{} {:?} was not imported: {}", kind.as_str(), s.name, s.note),
                None => format!("{} {source_id} is not in the source (or was not readable)", kind.as_str()),
            }
        })
    }

    /// Records the outcome of one item: its step, its id for dependents and, when writing, its
    /// link. `done` is the object written (or adopted, or unchanged) or the reason it is not.
    pub async fn finish(
        &mut self,
        (kind, source_id, name): (ObjectKind, &str, &str),
        decision: &Decision,
        digest: &str,
        done: Result<Uuid, String>,
        note: String,
    ) -> Result<(), ApiError> {
        let action = match decision {
            Decision::Create => ImportAction::Create,
            Decision::Update(_) => ImportAction::Update,
            Decision::Unchanged(_) => ImportAction::Unchanged,
            Decision::Adopt(_) => ImportAction::Adopt,
        };
        let step = match done {
            Ok(id) => {
                self.ids.insert((kind, source_id.to_owned()), id);
                if matches!(decision, Decision::Adopt(_)) {
                    self.adopted.insert(id);
                }
                let changed = !matches!(decision, Decision::Unchanged(_));
                if self.write && changed {
                    let link = ImportLink {
                        kind: kind.as_str().into(),
                        source_id: source_id.into(),
                        object_id: id,
                        digest: digest.into(),
                    };
                    let source = self.origin.source.as_str();
                    self.state.db.record_import_link(self.state.now(), source, &self.origin.instance, &link).await?;
                }
                ImportStep {
                    kind: kind.as_str().into(),
                    source_id: source_id.into(),
                    name: name.into(),
                    action,
                    note,
                    object_id: (self.write || !matches!(decision, Decision::Create)).then_some(id),
                }
            }
            Err(why) => ImportStep {
                kind: kind.as_str().into(),
                source_id: source_id.into(),
                name: name.into(),
                action: ImportAction::Error,
                note: why,
                object_id: None,
            },
        };
        self.steps.push(step);
        Ok(())
    }

    /// A stand-in id while planning; the written object's id when applying.
    pub async fn written<F>(&self, decision: &Decision, write: F) -> Result<Uuid, String>
    where
        F: std::future::Future<Output = Result<Uuid, ApiError>>,
    {
        match decision {
            Decision::Unchanged(id) | Decision::Adopt(id) => Ok(*id),
            Decision::Update(id) if !self.write => Ok(*id),
            Decision::Create if !self.write => Ok(Uuid::now_v7()),
            _ => write.await.map_err(|e| e.message),
        }
    }
}

fn kind_of(s: &str) -> Option<ObjectKind> {
    use ObjectKind::*;
    [User, Team, Schedule, Policy, Service, Integration, Maintenance, Monitor, StatusPage]
        .into_iter()
        .find(|k| k.as_str() == s)
}

pub fn item_digest<T: Serialize>(item: &T) -> String {
    digest(item)
}

/// Plans (`write` false) or applies a bundle; the report says what each object became.
async fn walk(
    state: &AppState,
    auth: &Auth,
    origin: &Origin,
    bundle: &Bundle,
    write: bool,
) -> Result<ImportReport, ApiError> {
    auth.require(Permission::Administer)?;
    let mut run = Run::new(state, auth, origin, write).await?;
    people::users(&mut run, &bundle.users).await?;
    people::teams(&mut run, &bundle.teams).await?;
    people::schedules(&mut run, &bundle.schedules).await?;
    people::policies(&mut run, &bundle.policies).await?;
    things::services(&mut run, &bundle.services).await?;
    things::monitors(&mut run, &bundle.monitors).await?;
    things::windows(&mut run, &bundle.windows).await?;
    things::pages(&mut run, &bundle.pages).await?;
    let equivalence = check_equivalence(&run, bundle, state.now());
    let unmapped: Vec<ImportUnmapped> = bundle.unmapped.iter().map(unmapped_dto).collect();
    let mut counts = ImportCounts { unmapped: unmapped.len(), ..ImportCounts::default() };
    for s in &run.steps {
        match s.action {
            ImportAction::Create => counts.create += 1,
            ImportAction::Update => counts.update += 1,
            ImportAction::Unchanged => counts.unchanged += 1,
            ImportAction::Adopt => counts.adopt += 1,
            ImportAction::Error => counts.error += 1,
        }
    }
    Ok(ImportReport { counts, steps: run.steps, unmapped, equivalence, keys: run.keys })
}

fn unmapped_dto(u: &Unmapped) -> ImportUnmapped {
    ImportUnmapped {
        what: u.what.clone(),
        source_id: u.source_id.clone(),
        name: u.name.clone(),
        reason: u.reason.clone(),
    }
}

/// Compares each schedule the source rendered with Opsdeck's timeline of it, counting only the
/// users this run places (someone left out shows up as a difference).
fn check_equivalence(run: &Run<'_>, bundle: &Bundle, now: DateTime<Utc>) -> Vec<ImportEquivalence> {
    let placed = bundle.users.iter().filter(|u| run.ids.contains_key(&(ObjectKind::User, u.source_id.clone())));
    let ids = equivalence::stand_ins(placed.map(|u| u.source_id.as_str()));
    bundle
        .rendered
        .iter()
        .filter_map(|(sid, shifts)| {
            let item = bundle.schedules.iter().find(|s| s.source_id == *sid)?;
            let differences: Vec<ImportDifference> = equivalence::compare(item, &ids, shifts, now)
                .into_iter()
                .map(|d| ImportDifference { start: d.start, end: d.end, source: d.source, opsdeck: d.opsdeck })
                .collect();
            Some(ImportEquivalence {
                schedule: sid.clone(),
                name: item.name.clone(),
                same: differences.is_empty(),
                differences,
            })
        })
        .collect()
}

/// Plans an import and keeps it (with what was read) so it can be applied; returns the run.
pub async fn plan(
    state: &AppState,
    auth: &Auth,
    origin: &Origin,
    bundle: Bundle,
) -> Result<(Uuid, ImportReport), ApiError> {
    let report = walk(state, auth, origin, &bundle, false).await?;
    let json = serde_json::to_value(&report).map_err(|_| ApiError::internal())?;
    let id = state
        .db
        .create_import(&auth.actor(), state.now(), origin.source.as_str(), &origin.instance, &bundle, &json)
        .await?;
    Ok((id, report))
}

/// Applies a planned run once: the plan is made again against what exists now, then written.
/// The report kept leaves out the new keys (secrets, shown in this answer only).
pub async fn apply(state: &AppState, auth: &Auth, id: Uuid) -> Result<ImportReport, ApiError> {
    auth.require(Permission::Administer)?;
    let run = state.db.get_import(id).await?;
    let source = SourceKind::parse(&run.source).ok_or_else(ApiError::internal)?;
    let origin = Origin { source, instance: run.instance.clone() };
    let bundle = state.db.import_bundle(id).await?;
    if !state.db.claim_import(state.now(), id).await? {
        let age = state.now().signed_duration_since(run.created_at).num_milliseconds();
        if run.status == "planned" && age > opsdeck_store::import::PLAN_TTL_MS {
            return Err(ApiError::conflict("this plan expired after a week; plan a new one"));
        }
        return Err(ApiError::conflict(format!("this import is {} already; plan a new one", run.status)));
    }
    let result = walk(state, auth, &origin, &bundle, true).await;
    let (status, stored, summary) = match &result {
        Ok(r) => {
            let mut kept = r.clone();
            kept.keys.iter_mut().for_each(|k| {
                k.key = None;
                k.ingest_url = None;
            });
            let c = r.counts;
            let summary = format!(
                "Imported from {}: {} created, {} updated, {} unchanged, {} adopted, {} errors",
                source.label(),
                c.create,
                c.update,
                c.unchanged,
                c.adopt,
                c.error
            );
            ("applied", serde_json::to_value(kept).unwrap_or_default(), summary)
        }
        Err(e) => ("failed", serde_json::json!({"error": e.message}), format!("Import from {} failed", source.label())),
    };
    state.db.finish_import(&auth.actor(), state.now(), id, status, &stored, &summary).await?;
    result
}

/// A run as kept: its report (a plan, or what was applied).
pub async fn get(state: &AppState, auth: &Auth, id: Uuid) -> Result<ImportRun, ApiError> {
    auth.require(Permission::Administer)?;
    Ok(state.db.get_import(id).await?)
}

pub async fn list(state: &AppState, auth: &Auth) -> Result<Vec<ImportRun>, ApiError> {
    auth.require(Permission::Administer)?;
    Ok(state.db.list_imports().await?)
}

/// Plans and, unless `dry_run`, applies at once: the run's id, its report and its status.
pub async fn import(
    state: &AppState,
    auth: &Auth,
    origin: &Origin,
    bundle: Bundle,
    dry_run: bool,
) -> Result<(Uuid, ImportReport, &'static str), ApiError> {
    let (id, plan) = plan(state, auth, origin, bundle).await?;
    if dry_run {
        return Ok((id, plan, "planned"));
    }
    Ok((id, apply(state, auth, id).await?, "applied"))
}
