//! Inventory imports: a file of one format becomes an [`ImportSet`] (CIs keyed by identity and
//! relations between identities), which [`ImportSet::validate`] checks whole before anything is
//! written. The store applies a valid set in one transaction (upsert by identity, references
//! resolved by identity, a policy for CIs of the same source missing from the file).

pub mod ansible;
pub mod csv;
pub mod json;
pub mod terraform;

use super::{CiClass, CiInput, CiSpec, RelationType};
use serde::Serialize;
use std::collections::HashMap;

/// The largest import file accepted, in bytes.
pub const FILE_MAX: usize = 64 * 1024 * 1024;
/// The most CIs one import may hold.
pub const ITEMS_MAX: usize = 250_000;
/// The most relations one import may hold.
pub const RELATIONS_MAX: usize = 1_000_000;
/// Row errors reported at most (the rest are counted).
pub const ERRORS_MAX: usize = 100;

/// The formats `opsdeck cmdb import --format` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// `terraform show -json` output (format_version 1.x), or a raw state file (version 4).
    Terraform,
    /// `ansible-inventory --list` output (a dynamic inventory's `--list` JSON).
    Ansible,
    /// CSV with a header row: `identity,name,class,…` (see [`csv`]).
    Csv,
    /// `{"items": [...], "relations": [...]}` (see [`json`]).
    Json,
}

impl Format {
    pub fn parse(s: &str) -> Option<Format> {
        match s {
            "terraform" => Some(Format::Terraform),
            "ansible" => Some(Format::Ansible),
            "csv" => Some(Format::Csv),
            "json" => Some(Format::Json),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Terraform => "terraform",
            Format::Ansible => "ansible",
            Format::Csv => "csv",
            Format::Json => "json",
        }
    }
}

/// What to do with CIs an earlier import of the same source made that this file no longer has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MissingPolicy {
    /// Leave them as they are.
    #[default]
    Ignore,
    /// Keep them but mark them stale (their last-seen time stays where it was).
    Stale,
    /// Set their status to retired.
    Retire,
}

impl MissingPolicy {
    pub fn parse(s: &str) -> Option<MissingPolicy> {
        match s {
            "ignore" => Some(MissingPolicy::Ignore),
            "stale" => Some(MissingPolicy::Stale),
            "retire" => Some(MissingPolicy::Retire),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            MissingPolicy::Ignore => "ignore",
            MissingPolicy::Stale => "stale",
            MissingPolicy::Retire => "retire",
        }
    }
}

/// One CI of an import; `input.identity` is its key (set by every parser).
#[derive(Debug, Clone, PartialEq)]
pub struct ImportItem {
    /// Where it came from, for errors: a 1-based line or record number.
    pub row: usize,
    pub input: CiInput,
    /// The owning team's slug (the store resolves it).
    pub owner_team: Option<String>,
    /// For a `business_service` CI: the catalogue service's slug it stands for.
    pub service: Option<String>,
}

/// A relation between two identities; either may name a CI already in the CMDB.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportRelation {
    pub row: usize,
    pub source: String,
    pub target: String,
    pub kind: RelationType,
}

/// What a file holds, before validation.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ImportSet {
    pub items: Vec<ImportItem>,
    pub relations: Vec<ImportRelation>,
}

/// A problem with one row (or, with `row` 0, with the whole file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowError {
    pub row: usize,
    pub identity: Option<String>,
    pub message: String,
}

impl RowError {
    pub fn file(message: impl Into<String>) -> RowError {
        RowError { row: 0, identity: None, message: message.into() }
    }

    pub fn at(row: usize, identity: Option<&str>, message: impl Into<String>) -> RowError {
        RowError { row, identity: identity.map(str::to_owned), message: message.into() }
    }
}

/// Errors of a parse or a validation: the first [`ERRORS_MAX`] and how many there were.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct RowErrors {
    pub errors: Vec<RowError>,
    pub total: usize,
}

impl RowErrors {
    pub fn push(&mut self, e: RowError) {
        self.total += 1;
        if self.errors.len() < ERRORS_MAX {
            self.errors.push(e);
        }
    }

    pub fn one(e: RowError) -> RowErrors {
        let mut out = RowErrors::default();
        out.push(e);
        out
    }

    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// One line per error, for a CLI or a log: `row 3 (web-01): class: must be …`.
    pub fn summary(&self) -> String {
        let mut lines: Vec<String> = self
            .errors
            .iter()
            .map(|e| match (e.row, &e.identity) {
                (0, _) => e.message.clone(),
                (r, Some(id)) => format!("row {r} ({id}): {}", e.message),
                (r, None) => format!("row {r}: {}", e.message),
            })
            .collect();
        if self.total > self.errors.len() {
            lines.push(format!("… and {} more", self.total - self.errors.len()));
        }
        lines.join("\n")
    }
}

/// A valid CI of an import.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidItem {
    pub row: usize,
    pub identity: String,
    pub spec: CiSpec,
    /// Slugs the store resolves into the spec's `owner_team_id` and `service_id`.
    pub owner_team: Option<String>,
    pub service: Option<String>,
    pub given: Given,
}

/// The optional fields a row gave. An existing CI keeps its own value of the others, so a
/// Terraform re-import does not clear an owner team, a service or a redundancy set by hand
/// (name, class, attributes and tags always come from the file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Given {
    pub status: bool,
    pub owner_team: bool,
    pub service: bool,
    pub location: bool,
    pub environment: bool,
    pub min_up: bool,
    pub description: bool,
    /// Any lifecycle date or the cost (a file that carries one carries the lifecycle).
    pub lifecycle: bool,
}

impl Given {
    fn of(item: &ImportItem) -> Given {
        let text = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.trim().is_empty());
        let i = &item.input;
        Given {
            status: text(&i.status),
            owner_team: text(&item.owner_team),
            service: text(&item.service),
            location: text(&i.location),
            environment: text(&i.environment),
            min_up: i.min_up.is_some(),
            description: text(&i.description),
            lifecycle: [&i.purchase_date, &i.warranty_end, &i.end_of_support, &i.end_of_life].into_iter().any(text)
                || i.cost.is_some(),
        }
    }
}

/// A validated import: every CI valid, identities unique, relation ends named.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ValidSet {
    pub items: Vec<ValidItem>,
    pub relations: Vec<ImportRelation>,
}

/// Parses `bytes` as `format`.
pub fn parse(format: Format, bytes: &[u8]) -> Result<ImportSet, RowErrors> {
    if bytes.len() > FILE_MAX {
        return Err(RowErrors::one(RowError::file(format!(
            "the file is {} bytes; at most {FILE_MAX} are accepted",
            bytes.len()
        ))));
    }
    let set = match format {
        Format::Terraform => terraform::parse(bytes)?,
        Format::Ansible => ansible::parse(bytes)?,
        Format::Csv => csv::parse(bytes)?,
        Format::Json => json::parse(bytes)?,
    };
    if set.items.len() > ITEMS_MAX {
        return Err(RowErrors::one(RowError::file(format!("at most {ITEMS_MAX} CIs per import"))));
    }
    if set.relations.len() > RELATIONS_MAX {
        return Err(RowErrors::one(RowError::file(format!("at most {RELATIONS_MAX} relations per import"))));
    }
    Ok(set)
}

impl ImportSet {
    /// Checks every CI and relation; identities must be unique within the file. Relations may
    /// name identities outside it (the store resolves those against the CMDB).
    pub fn validate(self) -> Result<ValidSet, RowErrors> {
        let mut errors = RowErrors::default();
        let mut seen: HashMap<String, usize> = HashMap::with_capacity(self.items.len());
        let mut items = Vec::with_capacity(self.items.len());
        for mut item in self.items {
            // Identities compare as stored: trimmed.
            let identity = item.input.identity.as_deref().unwrap_or_default().trim().to_owned();
            let shown = (!identity.is_empty()).then_some(identity.as_str());
            if identity.is_empty() {
                errors.push(RowError::at(item.row, None, "identity: must not be empty"));
                continue;
            }
            if let Some(first) = seen.insert(identity.clone(), item.row) {
                errors.push(RowError::at(item.row, shown, format!("identity: also on row {first}")));
                continue;
            }
            if item.service.is_some() && item.input.class.trim() != CiClass::BusinessService.as_str() {
                errors.push(RowError::at(item.row, shown, "service: only a business_service CI stands for a service"));
                continue;
            }
            item.input.identity = Some(identity.clone());
            let given = Given::of(&item);
            match CiSpec::new(&item.input) {
                Ok(spec) => items.push(ValidItem {
                    row: item.row,
                    identity,
                    spec,
                    owner_team: item.owner_team,
                    service: item.service,
                    given,
                }),
                Err(e) => {
                    for p in e.problems() {
                        errors.push(RowError::at(item.row, shown, format!("{}: {}", p.field, p.message)));
                    }
                }
            }
        }
        let mut relations = self.relations;
        for r in &mut relations {
            r.source = r.source.trim().to_owned();
            r.target = r.target.trim().to_owned();
            if r.source.is_empty() || r.target.is_empty() {
                errors.push(RowError::at(r.row, None, "relation: both ends must name an identity"));
            } else if r.source == r.target {
                errors.push(RowError::at(r.row, Some(&r.source), "relation: a CI cannot relate to itself"));
            }
        }
        if errors.is_empty() { Ok(ValidSet { items, relations }) } else { Err(errors) }
    }
}
