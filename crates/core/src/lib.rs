//! Opsdeck's domain: types and rules with no IO.
//!
//! Architecture invariant: nothing in this crate touches the network, the file system or a
//! database. Time arrives through [`clock::Clock`], randomness only through [`secret`].

/// A string enum: `as_str`, `parse`, `ALL` and `choices` (for error messages), serde in
/// snake_case. Shared by the CMDB and change management.
macro_rules! str_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $s),+ }
            }

            pub fn parse(s: &str) -> Option<Self> {
                match s { $($s => Some($name::$variant),)+ _ => None }
            }

            /// Every accepted value, for error messages: `"a", "b" or "c"`.
            pub fn choices() -> String {
                let all: Vec<String> = Self::ALL.iter().map(|v| format!("{:?}", v.as_str())).collect();
                match all.split_last() {
                    Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
                    _ => all.join(""),
                }
            }
        }
    };
}

pub mod agent;
pub mod alert;
pub mod anomaly;
pub mod audit;
pub mod catalogue;
pub mod change;
pub mod clock;
pub mod cmdb;
pub mod desk;
pub mod entity;
pub mod error;
pub mod escalation;
pub mod forecast;
pub mod import;
pub mod incident;
pub mod kpi;
pub mod maintenance;
pub mod monitor;
pub mod oncall;
pub mod recurrence;
pub mod report_schedule;
pub mod role;
pub mod secret;
pub mod series;
pub mod series_alert;
pub mod settings;
pub mod slo;
pub mod status_incident;
pub mod status_maintenance;
pub mod status_page;
pub mod status_subscriber;
pub mod status_template;
pub mod telemetry;
pub mod time;
pub mod user;
pub mod validate;
pub mod vendor;

pub use entity::Entity;
pub use error::{Error, FieldProblem, Problems, Result};
