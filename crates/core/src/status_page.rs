//! Public status pages: what a page shows (components in up to two levels, each mapped to a
//! service and/or monitors) and the rules that turn monitor states, open incidents and a manual
//! override into a component status and a page indicator, in statuspage.io's vocabulary.

use crate::incident::Sev;
use crate::monitor::MonitorState;
pub use crate::status_incident::{Impact, IncidentStatus, UpdateSpec};
use crate::{Error, Problems, Result, validate};
use serde::Serialize;
use std::collections::HashSet;
use uuid::Uuid;

/// Components (groups included) on one page, at most.
pub const COMPONENTS_MAX: usize = 200;
/// Monitors one component follows, at most.
pub const COMPONENT_MONITORS_MAX: usize = 50;

/// A component's status, as statuspage.io names it. Ordered from best to worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ComponentStatus {
    Operational,
    UnderMaintenance,
    DegradedPerformance,
    PartialOutage,
    MajorOutage,
}

impl ComponentStatus {
    pub const ALL: [ComponentStatus; 5] = [
        ComponentStatus::Operational,
        ComponentStatus::UnderMaintenance,
        ComponentStatus::DegradedPerformance,
        ComponentStatus::PartialOutage,
        ComponentStatus::MajorOutage,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ComponentStatus::Operational => "operational",
            ComponentStatus::UnderMaintenance => "under_maintenance",
            ComponentStatus::DegradedPerformance => "degraded_performance",
            ComponentStatus::PartialOutage => "partial_outage",
            ComponentStatus::MajorOutage => "major_outage",
        }
    }

    pub fn parse(s: &str) -> Option<ComponentStatus> {
        ComponentStatus::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// As a visitor reads it.
    pub fn label(self) -> &'static str {
        match self {
            ComponentStatus::Operational => "Operational",
            ComponentStatus::UnderMaintenance => "Under maintenance",
            ComponentStatus::DegradedPerformance => "Degraded performance",
            ComponentStatus::PartialOutage => "Partial outage",
            ComponentStatus::MajorOutage => "Major outage",
        }
    }

    /// What an open incident of this severity does to its services' components: SEV1 is a major
    /// outage, SEV2 a partial one, SEV3 degraded performance; SEV4 (informational) changes nothing.
    pub fn from_severity(sev: Sev) -> ComponentStatus {
        match sev {
            Sev::Sev1 => ComponentStatus::MajorOutage,
            Sev::Sev2 => ComponentStatus::PartialOutage,
            Sev::Sev3 => ComponentStatus::DegradedPerformance,
            Sev::Sev4 => ComponentStatus::Operational,
        }
    }

    /// What the monitors of a component say: all of the checked ones down is a major outage,
    /// some down a partial one, any degraded is degraded performance, and any in maintenance
    /// (with no problem elsewhere) is under maintenance. Paused and not-yet-checked monitors do
    /// not count.
    pub fn from_monitors(states: &[MonitorState]) -> ComponentStatus {
        let counted = states.iter().filter(|s| !matches!(s, MonitorState::Paused | MonitorState::Pending));
        let (mut down, mut degraded, mut maintenance, mut total) = (0usize, 0usize, 0usize, 0usize);
        for s in counted {
            total += 1;
            match s {
                MonitorState::Down => down += 1,
                MonitorState::Degraded => degraded += 1,
                MonitorState::Maintenance => maintenance += 1,
                _ => {}
            }
        }
        if down > 0 && down == total {
            ComponentStatus::MajorOutage
        } else if down > 0 {
            ComponentStatus::PartialOutage
        } else if degraded > 0 {
            ComponentStatus::DegradedPerformance
        } else if maintenance > 0 {
            ComponentStatus::UnderMaintenance
        } else {
            ComponentStatus::Operational
        }
    }
}

/// What decides a component's status right now.
#[derive(Debug, Clone, Default)]
pub struct Signals {
    /// States of the component's monitors (its own and those of its service).
    pub monitors: Vec<MonitorState>,
    /// The worst severity among open incidents of its service.
    pub incident: Option<Sev>,
    /// A manual override still in force.
    pub manual: Option<ComponentStatus>,
    /// The worst status unresolved public incidents give it.
    pub public: Option<ComponentStatus>,
    /// What the vendor it follows says (a third-party component); `None` while the vendor is
    /// unknown (unreachable, or not read yet): no signal rather than a guess.
    pub vendor: Option<ComponentStatus>,
}

impl Signals {
    /// The override wins; otherwise the worst of monitors, open incidents and public incidents.
    pub fn status(&self) -> ComponentStatus {
        if let Some(m) = self.manual {
            return m;
        }
        let from_incident = self.incident.map_or(ComponentStatus::Operational, ComponentStatus::from_severity);
        let public = self.public.unwrap_or(ComponentStatus::Operational);
        let vendor = self.vendor.unwrap_or(ComponentStatus::Operational);
        ComponentStatus::from_monitors(&self.monitors).max(from_incident).max(public).max(vendor)
    }
}

/// The page-wide indicator of statuspage.io's `status` object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Indicator {
    None,
    Maintenance,
    Minor,
    Major,
    Critical,
}

impl Indicator {
    pub fn as_str(self) -> &'static str {
        match self {
            Indicator::None => "none",
            Indicator::Maintenance => "maintenance",
            Indicator::Minor => "minor",
            Indicator::Major => "major",
            Indicator::Critical => "critical",
        }
    }

    /// statuspage.io's wording.
    pub fn description(self) -> &'static str {
        match self {
            Indicator::None => "All Systems Operational",
            Indicator::Maintenance => "Service Under Maintenance",
            Indicator::Minor => "Partially Degraded Service",
            Indicator::Major => "Partial System Outage",
            Indicator::Critical => "Major System Outage",
        }
    }

    /// The worst component decides.
    pub fn from_components(statuses: impl IntoIterator<Item = ComponentStatus>) -> Indicator {
        match statuses.into_iter().max() {
            None | Some(ComponentStatus::Operational) => Indicator::None,
            Some(ComponentStatus::UnderMaintenance) => Indicator::Maintenance,
            Some(ComponentStatus::DegradedPerformance) => Indicator::Minor,
            Some(ComponentStatus::PartialOutage) => Indicator::Major,
            Some(ComponentStatus::MajorOutage) => Indicator::Critical,
        }
    }
}

/// A validated component of a page.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComponentSpec {
    /// Set to keep an existing component (and what refers to it) when a page is saved again.
    pub id: Option<Uuid>,
    pub name: String,
    pub description: String,
    /// The group it appears in (a group is created for each distinct name).
    pub group: Option<String>,
    pub service_id: Option<Uuid>,
    pub monitor_ids: Vec<Uuid>,
    pub only_show_if_degraded: bool,
    /// A third-party component: it follows a vendor's status page.
    pub vendor: Option<VendorRef>,
}

/// What a third-party component follows: one component of a vendor (by name, as the vendor
/// lists it), or the whole vendor when `component` is empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VendorRef {
    pub vendor_id: Uuid,
    pub component: String,
}

/// Longest vendor component name a page refers to.
pub const VENDOR_COMPONENT_MAX: usize = 255;

/// Unvalidated component fields.
#[derive(Debug, Clone, Default)]
pub struct ComponentInput {
    pub id: Option<Uuid>,
    pub name: String,
    pub description: Option<String>,
    pub group: Option<String>,
    pub service_id: Option<Uuid>,
    pub monitor_ids: Vec<Uuid>,
    pub only_show_if_degraded: bool,
    pub vendor_id: Option<Uuid>,
    pub vendor_component: Option<String>,
}

/// A validated page.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PageSpec {
    pub slug: String,
    pub title: String,
    pub description: String,
    /// IANA time zone the page shows times in.
    pub time_zone: String,
    /// `#rrggbb`, or the default accent.
    pub accent_color: Option<String>,
    /// Another host name the page is served at, from its root (`Host` header).
    pub custom_domain: Option<String>,
    /// An image shown in the page's header instead of its title text (http or https).
    pub logo_url: Option<String>,
    /// Links in the page's footer (your site, support, terms), in order.
    pub footer_links: Vec<FooterLink>,
    pub components: Vec<ComponentSpec>,
}

/// A link in a page's footer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct FooterLink {
    pub label: String,
    pub url: String,
}

/// Footer links a page takes, at most.
pub const FOOTER_LINKS_MAX: usize = 10;

/// Unvalidated page fields; `None` keeps the current value.
#[derive(Debug, Clone, Default)]
pub struct PageInput {
    pub slug: Option<String>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub time_zone: Option<String>,
    pub accent_color: Option<Option<String>>,
    /// `Some(None)` or an empty name removes it.
    pub custom_domain: Option<Option<String>>,
    /// `Some(None)` or an empty URL removes it.
    pub logo_url: Option<Option<String>>,
    /// Replaces the footer links: (label, URL) each.
    pub footer_links: Option<Vec<(String, String)>>,
    pub components: Option<Vec<ComponentInput>>,
}

/// A host name a page is also served at (`status.example.com`): lower case, at least two labels
/// of letters, digits and hyphens, no port, not an IP address.
pub fn custom_domain(v: &str) -> Result<String> {
    let host = v.trim().trim_end_matches('.').to_ascii_lowercase();
    let bad = |why: &str| Err(Error::invalid("custom_domain", format!("{why}; e.g. status.example.com")));
    if host.is_empty() || host.len() > 253 {
        return bad("must be a host name of 1 to 253 characters");
    }
    let labels: Vec<&str> = host.split('.').collect();
    let label_ok = |l: &&str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    if labels.len() < 2 || !labels.iter().all(label_ok) {
        return bad("must be a host name with a dot, of letters, digits and hyphens, without a port");
    }
    if labels.iter().all(|l| l.bytes().all(|b| b.is_ascii_digit())) {
        return bad("must be a name, not an IP address");
    }
    Ok(host)
}

fn accent(v: &str) -> Result<String> {
    let v = v.trim();
    let ok = v.len() == 7 && v.starts_with('#') && v[1..].bytes().all(|b| b.is_ascii_hexdigit());
    if ok { Ok(v.to_ascii_lowercase()) } else { Err(Error::invalid("accent_color", "must be #rrggbb, e.g. #2563eb")) }
}

fn component(i: usize, c: ComponentInput) -> Result<ComponentSpec> {
    let at = |e: Error| Error::invalid("components", format!("component {}: {}", i + 1, e));
    let name = validate::name("name", &c.name).map_err(at)?;
    let description = validate::description("description", c.description.as_deref().unwrap_or("")).map_err(at)?;
    let group = match c.group.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(g) => Some(validate::name("group", g).map_err(at)?),
    };
    if c.monitor_ids.len() > COMPONENT_MONITORS_MAX {
        return Err(at(Error::invalid("monitor_ids", format!("at most {COMPONENT_MONITORS_MAX} monitors"))));
    }
    let mut monitor_ids = c.monitor_ids;
    let mut seen = HashSet::new();
    monitor_ids.retain(|id| seen.insert(*id));
    let component = c.vendor_component.as_deref().map(str::trim).unwrap_or("");
    if component.chars().count() > VENDOR_COMPONENT_MAX {
        return Err(at(Error::invalid("vendor_component", format!("at most {VENDOR_COMPONENT_MAX} characters"))));
    }
    let vendor = match c.vendor_id {
        Some(vendor_id) => Some(VendorRef { vendor_id, component: component.to_owned() }),
        None if component.is_empty() => None,
        None => return Err(at(Error::invalid("vendor_component", "needs vendor_id (the vendor it belongs to)"))),
    };
    Ok(ComponentSpec {
        id: c.id,
        name,
        description,
        group,
        service_id: c.service_id,
        monitor_ids,
        only_show_if_degraded: c.only_show_if_degraded,
        vendor,
    })
}

impl PageSpec {
    /// A new page: `title` is required; the slug defaults to the title's.
    pub fn create(input: PageInput) -> Result<Self> {
        if input.title.is_none() {
            return Err(Error::invalid("title", "is required"));
        }
        let base = PageSpec {
            slug: String::new(),
            title: String::new(),
            description: String::new(),
            time_zone: "UTC".into(),
            accent_color: None,
            custom_domain: None,
            logo_url: None,
            footer_links: Vec::new(),
            components: Vec::new(),
        };
        base.apply(input.or_slug_of_title())
    }

    /// The page with the fields `input` names changed; every field is checked.
    pub fn apply(mut self, input: PageInput) -> Result<Self> {
        let mut p = Problems::default();
        if let Some(s) = input.slug {
            p.set(&mut self.slug, validate::slug("slug", &s));
        }
        if let Some(t) = input.title {
            p.set(&mut self.title, validate::name("title", &t));
        }
        if let Some(d) = input.description {
            p.set(&mut self.description, validate::description("description", &d));
        }
        if let Some(tz) = input.time_zone {
            let tz = tz.trim().to_owned();
            match tz.parse::<chrono_tz::Tz>() {
                Ok(_) => self.time_zone = tz,
                Err(_) => p.push("time_zone", format!("unknown time zone {tz:?}; use e.g. Europe/Berlin")),
            }
        }
        if let Some(a) = input.accent_color {
            match a.as_deref().map(str::trim) {
                None | Some("") => self.accent_color = None,
                Some(v) => p.set(&mut self.accent_color, accent(v).map(Some)),
            }
        }
        if let Some(d) = input.custom_domain {
            match d.as_deref().map(str::trim) {
                None | Some("") => self.custom_domain = None,
                Some(v) => p.set(&mut self.custom_domain, custom_domain(v).map(Some)),
            }
        }
        if let Some(l) = input.logo_url {
            match l.as_deref().map(str::trim) {
                None | Some("") => self.logo_url = None,
                Some(v) => p.set(&mut self.logo_url, validate::url("logo_url", v).map(Some)),
            }
        }
        if let Some(links) = input.footer_links {
            if links.len() > FOOTER_LINKS_MAX {
                p.push("footer_links", format!("at most {FOOTER_LINKS_MAX} links"));
            } else {
                let checked: Result<Vec<FooterLink>> = links
                    .iter()
                    .enumerate()
                    .map(|(i, (label, url))| {
                        let at = |e: Error| Error::invalid("footer_links", format!("link {}: {e}", i + 1));
                        Ok(FooterLink {
                            label: validate::name("label", label).map_err(at)?,
                            url: validate::url("url", url).map_err(at)?,
                        })
                    })
                    .collect();
                p.set(&mut self.footer_links, checked);
            }
        }
        if let Some(cs) = input.components {
            if cs.len() > COMPONENTS_MAX {
                p.push("components", format!("at most {COMPONENTS_MAX} components"));
            } else {
                let checked: Result<Vec<ComponentSpec>> =
                    cs.into_iter().enumerate().map(|(i, c)| component(i, c)).collect();
                if let Some(cs) = p.check(checked) {
                    let ids: Vec<Uuid> = cs.iter().filter_map(|c| c.id).collect();
                    if ids.iter().collect::<HashSet<_>>().len() != ids.len() {
                        p.push("components", "a component id appears twice");
                    }
                    let groups = cs.iter().filter_map(|c| c.group.as_ref()).collect::<HashSet<_>>().len();
                    if cs.len() + groups > COMPONENTS_MAX {
                        p.push("components", format!("at most {COMPONENTS_MAX} components, groups included"));
                    }
                    self.components = cs;
                }
            }
        }
        p.finish()?;
        Ok(self)
    }

    /// Group names in the order they first appear.
    pub fn groups(&self) -> Vec<&str> {
        let mut seen = HashSet::new();
        self.components.iter().filter_map(|c| c.group.as_deref()).filter(|g| seen.insert(*g)).collect()
    }
}

impl PageInput {
    /// An empty slug stands for "derive it from the title".
    fn or_slug_of_title(mut self) -> Self {
        if self.slug.as_deref().is_none_or(|s| s.trim().is_empty()) {
            self.slug = self.title.as_deref().map(validate::slugify);
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use MonitorState::*;

    fn input(title: &str) -> PageInput {
        PageInput { title: Some(title.into()), ..PageInput::default() }
    }

    #[test]
    fn logo_and_footer_links_are_checked() {
        let links = vec![("Support".to_owned(), "https://example.com/help".to_owned())];
        let p = PageSpec::create(PageInput {
            logo_url: Some(Some(" https://example.com/logo.svg ".into())),
            footer_links: Some(links),
            ..input("Acme")
        })
        .unwrap();
        assert_eq!(p.logo_url.as_deref(), Some("https://example.com/logo.svg"));
        assert_eq!(p.footer_links[0].label, "Support");
        let bad = |i: PageInput| PageSpec::create(i).unwrap_err().problems()[0].field;
        assert_eq!(bad(PageInput { logo_url: Some(Some("javascript:alert(1)".into())), ..input("x") }), "logo_url");
        let js = vec![("x".to_owned(), "javascript:alert(1)".to_owned())];
        assert_eq!(bad(PageInput { footer_links: Some(js), ..input("x") }), "footer_links");
        let many = vec![("x".to_owned(), "https://e.com".to_owned()); FOOTER_LINKS_MAX + 1];
        assert_eq!(bad(PageInput { footer_links: Some(many), ..input("x") }), "footer_links");
        let cleared = p.apply(PageInput { logo_url: Some(None), footer_links: Some(vec![]), ..PageInput::default() });
        assert_eq!(cleared.map(|p| (p.logo_url, p.footer_links.len())).unwrap(), (None, 0));
    }

    #[test]
    fn monitors_decide_by_share_down() {
        assert_eq!(ComponentStatus::from_monitors(&[]), ComponentStatus::Operational);
        assert_eq!(ComponentStatus::from_monitors(&[Up, Up]), ComponentStatus::Operational);
        assert_eq!(ComponentStatus::from_monitors(&[Up, Down]), ComponentStatus::PartialOutage);
        assert_eq!(ComponentStatus::from_monitors(&[Down, Down, Paused]), ComponentStatus::MajorOutage);
        assert_eq!(ComponentStatus::from_monitors(&[Up, Degraded]), ComponentStatus::DegradedPerformance);
        assert_eq!(ComponentStatus::from_monitors(&[Up, Maintenance]), ComponentStatus::UnderMaintenance);
        assert_eq!(ComponentStatus::from_monitors(&[Pending, Paused]), ComponentStatus::Operational);
    }

    #[test]
    fn override_wins_else_the_worse_signal() {
        let s = Signals { monitors: vec![Up], incident: Some(Sev::Sev2), ..Signals::default() };
        assert_eq!(s.status(), ComponentStatus::PartialOutage);
        let s = Signals { monitors: vec![Down], incident: Some(Sev::Sev4), ..Signals::default() };
        assert_eq!(s.status(), ComponentStatus::MajorOutage);
        let s = Signals { monitors: vec![Down], manual: Some(ComponentStatus::Operational), ..Signals::default() };
        assert_eq!(s.status(), ComponentStatus::Operational);
        let s = Signals { public: Some(ComponentStatus::PartialOutage), ..Signals::default() };
        assert_eq!(s.status(), ComponentStatus::PartialOutage);
        let s = Signals { monitors: vec![Down], manual: Some(ComponentStatus::Operational), ..Signals::default() };
        assert_eq!(s.status(), ComponentStatus::Operational);
    }

    #[test]
    fn indicator_follows_the_worst_component() {
        use ComponentStatus::*;
        assert_eq!(Indicator::from_components([]), Indicator::None);
        assert_eq!(Indicator::from_components([Operational, UnderMaintenance]), Indicator::Maintenance);
        assert_eq!(Indicator::from_components([UnderMaintenance, DegradedPerformance]), Indicator::Minor);
        assert_eq!(Indicator::from_components([PartialOutage]), Indicator::Major);
        assert_eq!(Indicator::from_components([MajorOutage, Operational]), Indicator::Critical);
        assert_eq!(Indicator::Critical.description(), "Major System Outage");
        for c in ComponentStatus::ALL {
            assert_eq!(ComponentStatus::parse(c.as_str()), Some(c));
        }
    }

    #[test]
    fn pages_are_checked_field_by_field() {
        let p = PageSpec::create(input("Acme Status")).unwrap();
        assert_eq!((p.slug.as_str(), p.time_zone.as_str()), ("acme-status", "UTC"));
        let bad = PageInput {
            slug: Some("Bad Slug".into()),
            time_zone: Some("Mars/Olympus".into()),
            accent_color: Some(Some("blue".into())),
            ..input("x")
        };
        let e = PageSpec::create(bad).unwrap_err();
        let fields: Vec<&str> = e.problems().iter().map(|p| p.field).collect();
        assert_eq!(fields, ["slug", "time_zone", "accent_color"]);
        for ok in ["status.example.com", " Status.Example.COM. ", "a-b.c9.io"] {
            assert!(custom_domain(ok).is_ok(), "{ok}");
        }
        for bad in ["", "localhost", "example.com:8080", "10.0.0.1", "-a.com", "a_b.com", "a..com", "http://x.com"] {
            assert!(custom_domain(bad).is_err(), "{bad}");
        }
        assert_eq!(custom_domain("Status.Example.com.").ok().as_deref(), Some("status.example.com"));
        assert!(PageSpec::create(PageInput::default()).is_err());
    }

    #[test]
    fn components_name_their_position_and_groups_keep_order() {
        let c = |name: &str, group: Option<&str>| ComponentInput {
            name: name.into(),
            group: group.map(Into::into),
            ..ComponentInput::default()
        };
        let p = PageSpec::create(PageInput {
            components: Some(vec![
                c("API", Some("Core")),
                c("Web", None),
                c("DB", Some("Core")),
                c("CDN", Some("Edge")),
            ]),
            ..input("x")
        })
        .unwrap();
        assert_eq!(p.groups(), ["Core", "Edge"]);
        let e = PageSpec::create(PageInput { components: Some(vec![c("ok", None), c(" ", None)]), ..input("x") })
            .unwrap_err();
        assert_eq!(e.to_string(), "components: component 2: name: must not be empty");
        let many = (0..=COMPONENTS_MAX).map(|i| c(&format!("c{i}"), None)).collect();
        assert!(PageSpec::create(PageInput { components: Some(many), ..input("x") }).is_err());
        let id = Some(Uuid::nil());
        let twice = vec![ComponentInput { id, ..c("a", None) }, ComponentInput { id, ..c("b", None) }];
        assert!(PageSpec::create(PageInput { components: Some(twice), ..input("x") }).is_err());
        let orphan = ComponentInput { vendor_component: Some("Git".into()), ..c("git", None) };
        let e = PageSpec::create(PageInput { components: Some(vec![orphan]), ..input("x") }).unwrap_err();
        assert!(e.to_string().contains("vendor_component: needs vendor_id"), "{e}");
        let third = ComponentInput { vendor_id: id, vendor_component: Some(" Git ".into()), ..c("git", None) };
        let p = PageSpec::create(PageInput { components: Some(vec![third]), ..input("x") }).unwrap();
        assert_eq!(p.components[0].vendor, Some(VendorRef { vendor_id: Uuid::nil(), component: "Git".into() }));
    }
}
