//! The CMDB: configuration items (CIs) of typed classes, typed directed relations between them,
//! and what a failure impacts ([`impact`]). Imports of Terraform, Ansible, CSV and JSON inventories
//! are parsed into an [`import::ImportSet`] here; the store upserts it.

pub mod impact;
pub mod import;
pub mod inventory;

use crate::{Error, Problems, Result, validate};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use uuid::Uuid;

/// Attributes one CI may carry.
pub const ATTRIBUTES_MAX: usize = 64;
/// An attribute name's length limit.
pub const ATTRIBUTE_KEY_MAX: usize = 64;
/// A text attribute's length limit, in characters.
pub const ATTRIBUTE_TEXT_MAX: usize = 1000;
/// An identity (natural key from an import, e.g. `aws_instance.web[0]`) length limit.
pub const IDENTITY_MAX: usize = 300;
/// A location or environment name's length limit.
pub const PLACE_MAX: usize = 80;
/// Impact walks go at most this deep; the default is [`DEPTH_DEFAULT`].
pub const DEPTH_MAX: u32 = 20;
pub const DEPTH_DEFAULT: u32 = 10;

pub mod attr_def;
pub mod contract;
pub mod reminder;

str_enum! {
    /// What kind of thing a CI is. `business_service` CIs stand for the catalogue's services.
    CiClass {
        Server = "server",
        Vm = "vm",
        Container = "container",
        NetworkDevice = "network_device",
        Database = "database",
        Application = "application",
        BusinessService = "business_service",
        CloudResource = "cloud_resource",
        SaasApp = "saas_app",
        Licence = "licence",
        Storage = "storage",
        Other = "other",
    }
}

impl CiClass {
    pub fn label(self) -> &'static str {
        match self {
            CiClass::Server => "Server",
            CiClass::Vm => "Virtual machine",
            CiClass::Container => "Container / cluster",
            CiClass::NetworkDevice => "Network device",
            CiClass::Database => "Database",
            CiClass::Application => "Application",
            CiClass::BusinessService => "Business service",
            CiClass::CloudResource => "Cloud resource",
            CiClass::SaasApp => "SaaS app",
            CiClass::Licence => "Licence",
            CiClass::Storage => "Storage",
            CiClass::Other => "Other",
        }
    }
}

str_enum! {
    /// Where a CI is in its life.
    CiStatus {
        Planned = "planned",
        InUse = "in_use",
        Maintenance = "maintenance",
        Retired = "retired",
    }
}

impl CiStatus {
    pub fn label(self) -> &'static str {
        match self {
            CiStatus::Planned => "Planned",
            CiStatus::InUse => "In use",
            CiStatus::Maintenance => "Maintenance",
            CiStatus::Retired => "Retired",
        }
    }
}

/// Which way a failure travels along a relation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// A failure of the target impacts the source ("web depends on db": db down, web impacted).
    ToSource,
    /// A failure of the source impacts the target ("rack contains server": rack down, server
    /// impacted; "node member of cluster": the node counts against the cluster's redundancy).
    ToTarget,
}

str_enum! {
    /// A relation's type, read "source <type> target".
    RelationType {
        DependsOn = "depends_on",
        RunsOn = "runs_on",
        HostedOn = "hosted_on",
        Contains = "contains",
        ConnectsTo = "connects_to",
        MemberOf = "member_of",
    }
}

impl RelationType {
    /// How the relation reads from its source ("Depends on") and from its target ("Used by").
    pub fn labels(self) -> (&'static str, &'static str) {
        match self {
            RelationType::DependsOn => ("Depends on", "Used by"),
            RelationType::RunsOn => ("Runs on", "Runs"),
            RelationType::HostedOn => ("Hosted on", "Hosts"),
            RelationType::Contains => ("Contains", "Contained by"),
            RelationType::ConnectsTo => ("Connects to", "Connected by"),
            RelationType::MemberOf => ("Member of", "Members"),
        }
    }

    pub fn flow(self) -> Flow {
        match self {
            RelationType::DependsOn | RelationType::RunsOn | RelationType::HostedOn | RelationType::ConnectsTo => {
                Flow::ToSource
            }
            RelationType::Contains | RelationType::MemberOf => Flow::ToTarget,
        }
    }

    /// The types whose failures travel toward the source (the store's walk queries use them).
    pub fn with_flow(flow: Flow) -> Vec<RelationType> {
        Self::ALL.iter().copied().filter(|t| t.flow() == flow).collect()
    }
}

/// A CI's attributes: names of `a-z 0-9 _ . -`, values text, number, boolean or null.
pub type Attributes = BTreeMap<String, Value>;

/// Checks a CI's attributes (names, kinds and sizes); null values are dropped.
/// An attribute name: 1 to [`ATTRIBUTE_KEY_MAX`] of `a-z 0-9 _ . -`.
pub fn attribute_key_ok(k: &str) -> bool {
    !k.is_empty()
        && k.len() <= ATTRIBUTE_KEY_MAX
        && k.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'.' | b'-'))
}

pub fn attributes(field: &'static str, input: &Attributes) -> Result<Attributes> {
    if input.len() > ATTRIBUTES_MAX {
        return Err(Error::invalid(field, format!("at most {ATTRIBUTES_MAX} attributes")));
    }
    let mut out = Attributes::new();
    for (k, v) in input {
        if !attribute_key_ok(k) {
            return Err(Error::invalid(
                field,
                format!("attribute name {k:?} must be 1 to {ATTRIBUTE_KEY_MAX} of a-z 0-9 _ . -"),
            ));
        }
        match v {
            Value::Null => continue,
            Value::Bool(_) | Value::Number(_) => {}
            Value::String(s) => {
                if s.chars().count() > ATTRIBUTE_TEXT_MAX {
                    return Err(Error::invalid(
                        field,
                        format!("attribute {k:?} must be at most {ATTRIBUTE_TEXT_MAX} characters"),
                    ));
                }
                if s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
                    return Err(Error::invalid(field, format!("attribute {k:?} must not contain control characters")));
                }
            }
            Value::Array(_) | Value::Object(_) => {
                return Err(Error::invalid(field, format!("attribute {k:?} must be text, a number or true/false")));
            }
        }
        out.insert(k.clone(), v.clone());
    }
    Ok(out)
}

/// A short free-text place (location, environment): trimmed, at most [`PLACE_MAX`] characters.
pub fn place(field: &'static str, value: Option<&str>) -> Result<Option<String>> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) if v.chars().count() > PLACE_MAX => {
            Err(Error::invalid(field, format!("must be at most {PLACE_MAX} characters")))
        }
        Some(v) if v.chars().any(char::is_control) => Err(Error::invalid(field, "must not contain control characters")),
        Some(v) => Ok(Some(v.to_owned())),
    }
}

/// A natural key from a source system: trimmed, 1 to [`IDENTITY_MAX`] characters, printable.
pub fn identity(field: &'static str, value: Option<&str>) -> Result<Option<String>> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) if v.chars().count() > IDENTITY_MAX => {
            Err(Error::invalid(field, format!("must be at most {IDENTITY_MAX} characters")))
        }
        Some(v) if v.chars().any(char::is_control) => Err(Error::invalid(field, "must not contain control characters")),
        Some(v) => Ok(Some(v.to_owned())),
    }
}

pub fn class(field: &'static str, value: &str) -> Result<CiClass> {
    CiClass::parse(value.trim()).ok_or_else(|| Error::invalid(field, format!("must be {}", CiClass::choices())))
}

pub fn status(field: &'static str, value: &str) -> Result<CiStatus> {
    CiStatus::parse(value.trim()).ok_or_else(|| Error::invalid(field, format!("must be {}", CiStatus::choices())))
}

pub fn relation_type(field: &'static str, value: &str) -> Result<RelationType> {
    RelationType::parse(value.trim())
        .ok_or_else(|| Error::invalid(field, format!("must be {}", RelationType::choices())))
}

/// The raw input of a CI, as the API, a form or an import row gives it.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct CiInput {
    pub name: String,
    pub class: String,
    pub status: Option<String>,
    pub attributes: Attributes,
    pub owner_team_id: Option<Uuid>,
    pub location: Option<String>,
    pub environment: Option<String>,
    pub tags: Vec<String>,
    pub identity: Option<String>,
    pub service_id: Option<Uuid>,
    pub min_up: Option<i64>,
    pub description: Option<String>,
    /// Asset lifecycle dates, `YYYY-MM-DD`.
    pub purchase_date: Option<String>,
    pub warranty_end: Option<String>,
    pub end_of_support: Option<String>,
    pub end_of_life: Option<String>,
    /// What it cost, in the instance's currency (at most two decimals).
    pub cost: Option<f64>,
}

/// The largest cost accepted (ten billion), in currency units.
pub const COST_MAX: f64 = 10_000_000_000.0;

/// A cost in currency units as cents, into `p` when it is out of range.
pub(crate) fn cost_cents(field: &'static str, cost: Option<f64>, p: &mut Problems) -> Option<Option<i64>> {
    match cost {
        None => Some(None),
        Some(c) if c.is_finite() && (0.0..=COST_MAX).contains(&c) => Some(Some((c * 100.0).round() as i64)),
        Some(_) => {
            p.push(field, "must be a number from 0 to 10,000,000,000");
            None
        }
    }
}

/// An asset's lifecycle: when it was bought, for how much, and when its warranty, vendor support
/// and life end. The lifecycle report lists CIs whose next date is near.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Lifecycle {
    pub purchase_date: Option<NaiveDate>,
    pub cost_cents: Option<i64>,
    pub warranty_end: Option<NaiveDate>,
    pub end_of_support: Option<NaiveDate>,
    pub end_of_life: Option<NaiveDate>,
}

/// One lifecycle date of a CI, as the report lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LifecycleEvent {
    WarrantyEnd,
    EndOfSupport,
    EndOfLife,
}

impl LifecycleEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            LifecycleEvent::WarrantyEnd => "warranty_end",
            LifecycleEvent::EndOfSupport => "end_of_support",
            LifecycleEvent::EndOfLife => "end_of_life",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            LifecycleEvent::WarrantyEnd => "Warranty ends",
            LifecycleEvent::EndOfSupport => "Vendor support ends",
            LifecycleEvent::EndOfLife => "End of life",
        }
    }
}

impl Lifecycle {
    /// Validates the input's lifecycle fields into `p`.
    fn new(input: &CiInput, p: &mut Problems) -> Option<Lifecycle> {
        let mut date = |field: &'static str, v: &Option<String>| match v.as_deref() {
            None => Some(None),
            Some(s) => p.check(crate::time::parse_date(field, s)).map(Some),
        };
        let purchase_date = date("purchase_date", &input.purchase_date);
        let warranty_end = date("warranty_end", &input.warranty_end);
        let end_of_support = date("end_of_support", &input.end_of_support);
        let end_of_life = date("end_of_life", &input.end_of_life);
        let cost_cents = cost_cents("cost", input.cost, p);
        Some(Lifecycle {
            purchase_date: purchase_date?,
            cost_cents: cost_cents?,
            warranty_end: warranty_end?,
            end_of_support: end_of_support?,
            end_of_life: end_of_life?,
        })
    }

    /// The lifecycle dates that are set, earliest first.
    pub fn events(&self) -> Vec<(LifecycleEvent, NaiveDate)> {
        let mut out: Vec<(LifecycleEvent, NaiveDate)> = [
            (LifecycleEvent::WarrantyEnd, self.warranty_end),
            (LifecycleEvent::EndOfSupport, self.end_of_support),
            (LifecycleEvent::EndOfLife, self.end_of_life),
        ]
        .into_iter()
        .filter_map(|(e, d)| d.map(|d| (e, d)))
        .collect();
        out.sort_by_key(|(_, d)| *d);
        out
    }

    /// When the asset is due for refresh: the first of its warranty, support or life ending.
    pub fn refresh_due(&self) -> Option<NaiveDate> {
        self.events().first().map(|(_, d)| *d)
    }
}

/// A configuration item, validated.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CiSpec {
    pub name: String,
    pub class: CiClass,
    pub status: CiStatus,
    pub attributes: Attributes,
    pub owner_team_id: Option<Uuid>,
    pub location: Option<String>,
    pub environment: Option<String>,
    pub tags: Vec<String>,
    /// The natural key that imports match on (unique when set).
    pub identity: Option<String>,
    /// The catalogue service a `business_service` CI stands for.
    pub service_id: Option<Uuid>,
    /// Redundancy: the CI is impacted only when fewer than this many of the CIs it relies on are
    /// still up (k of n, iTop-style). `None`: any one failure impacts it.
    pub min_up: Option<i32>,
    pub description: String,
    pub lifecycle: Lifecycle,
}

impl CiSpec {
    /// Validates every field and reports all problems at once.
    pub fn new(input: &CiInput) -> Result<Self> {
        let mut p = Problems::default();
        let name = p.check(validate::name("name", &input.name));
        let class = p.check(class("class", &input.class));
        let status = match input.status.as_deref() {
            None | Some("") => Some(CiStatus::InUse),
            Some(s) => p.check(status("status", s)),
        };
        let attributes = p.check(attributes("attributes", &input.attributes));
        let location = p.check(place("location", input.location.as_deref()));
        let environment = p.check(place("environment", input.environment.as_deref()));
        let tags = p.check(validate::tags("tags", &input.tags));
        let identity = p.check(identity("identity", input.identity.as_deref()));
        let description = p.check(validate::description("description", input.description.as_deref().unwrap_or("")));
        let min_up = match input.min_up {
            None => Some(None),
            Some(k) if (1..=10_000).contains(&k) => Some(Some(k as i32)),
            Some(_) => {
                p.push("min_up", "must be 1 to 10000 (how many of the CIs it relies on must stay up)");
                None
            }
        };
        if input.service_id.is_some() && class.is_some_and(|c| c != CiClass::BusinessService) {
            p.push("service_id", "only a business_service CI stands for a service");
        }
        let lifecycle = Lifecycle::new(input, &mut p);
        p.finish()?;
        let lifecycle = lifecycle.unwrap_or_default();
        match (name, class, status, attributes, location, environment, tags, identity, description, min_up) {
            (
                Some(name),
                Some(class),
                Some(status),
                Some(attributes),
                Some(location),
                Some(environment),
                Some(tags),
                Some(identity),
                Some(description),
                Some(min_up),
            ) => Ok(CiSpec {
                name,
                class,
                status,
                attributes,
                owner_team_id: input.owner_team_id,
                location,
                environment,
                tags,
                identity,
                service_id: input.service_id,
                min_up,
                description,
                lifecycle,
            }),
            _ => Err(Error::invalid("name", "is invalid")),
        }
    }
}

/// A relation between two CIs, validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RelationSpec {
    pub source_id: Uuid,
    pub target_id: Uuid,
    pub kind: RelationType,
}

impl RelationSpec {
    pub fn new(source_id: Uuid, target_id: Uuid, kind: &str) -> Result<Self> {
        let kind = relation_type("type", kind)?;
        if source_id == target_id {
            return Err(Error::invalid("target_id", "must be another CI than source_id"));
        }
        Ok(RelationSpec { source_id, target_id, kind })
    }
}

/// Search words for CI full-text search: letters and digits, lowercased, at most 8 words of
/// at most 40 characters; each matches as a prefix.
pub fn search_words(q: &str) -> Vec<String> {
    q.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| w.chars().take(40).collect::<String>().to_lowercase())
        .take(8)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn input(name: &str, class: &str) -> CiInput {
        CiInput { name: name.into(), class: class.into(), ..CiInput::default() }
    }

    #[test]
    fn a_ci_is_checked_field_by_field() {
        let ci = CiSpec::new(&input(" web-01 ", "server")).expect("valid");
        assert_eq!((ci.name.as_str(), ci.class, ci.status), ("web-01", CiClass::Server, CiStatus::InUse));

        let mut bad = input("", "toaster");
        bad.status = Some("broken".into());
        bad.min_up = Some(0);
        let problems = CiSpec::new(&bad).expect_err("invalid").problems();
        let fields: Vec<&str> = problems.iter().map(|p| p.field).collect();
        assert_eq!(fields, ["name", "class", "status", "min_up"]);
        assert!(problems[1].message.contains("\"server\""), "{:?}", problems[1]);

        let mut svc = input("api", "server");
        svc.service_id = Some(Uuid::nil());
        assert!(CiSpec::new(&svc).is_err(), "only business services stand for a service");
    }

    #[test]
    fn lifecycle_dates_and_cost_are_checked() {
        let mut i = input("srv", "server");
        i.warranty_end = Some("2027-03-01".into());
        i.end_of_life = Some("2026-12-31".into());
        i.cost = Some(1234.567);
        let ci = CiSpec::new(&i).expect("valid");
        assert_eq!(ci.lifecycle.cost_cents, Some(123_457));
        assert_eq!(ci.lifecycle.refresh_due(), NaiveDate::from_ymd_opt(2026, 12, 31));
        assert_eq!(ci.lifecycle.events()[0].0, LifecycleEvent::EndOfLife);
        i.purchase_date = Some("31/12/2026".into());
        i.cost = Some(-1.0);
        let fields: Vec<&str> = CiSpec::new(&i).expect_err("invalid").problems().iter().map(|p| p.field).collect();
        assert_eq!(fields, ["purchase_date", "cost"]);
    }

    #[test]
    fn attributes_are_scalars_with_plain_names() {
        let mut a = Attributes::new();
        a.insert("cpu_count".into(), json!(4));
        a.insert("os".into(), json!("debian 12"));
        a.insert("gone".into(), Value::Null);
        let ok = attributes("attributes", &a).expect("valid");
        assert_eq!(ok.len(), 2, "nulls are dropped");

        a.insert("Bad Key".into(), json!(1));
        assert!(attributes("attributes", &a).is_err());
        let mut nested = Attributes::new();
        nested.insert("tags".into(), json!(["a"]));
        assert!(attributes("attributes", &nested).is_err());
        let mut long = Attributes::new();
        long.insert("x".into(), json!("y".repeat(ATTRIBUTE_TEXT_MAX + 1)));
        assert!(attributes("attributes", &long).is_err());
    }

    #[test]
    fn relations_read_both_ways_and_carry_their_flow() {
        assert_eq!(RelationType::DependsOn.labels(), ("Depends on", "Used by"));
        assert_eq!(RelationType::MemberOf.flow(), Flow::ToTarget);
        assert!(RelationSpec::new(Uuid::nil(), Uuid::nil(), "depends_on").is_err(), "no self-relation");
        let e = RelationSpec::new(Uuid::nil(), Uuid::max(), "likes").expect_err("unknown type");
        assert!(e.to_string().contains("depends_on"), "{e}");
    }

    #[test]
    fn search_words_are_bounded() {
        assert_eq!(search_words("Web-01 prod"), ["web", "01", "prod"]);
        assert_eq!(search_words(&"a ".repeat(100)).len(), 8);
        assert!(search_words("--").is_empty());
    }
}
