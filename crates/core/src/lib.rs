//! Opsdeck's domain: types and rules with no IO.
//!
//! Architecture invariant: nothing in this crate touches the network, the file system or a
//! database. Time arrives through [`clock::Clock`], randomness only through [`secret`].

pub mod agent;
pub mod alert;
pub mod anomaly;
pub mod audit;
pub mod catalogue;
pub mod change;
pub mod clock;
pub mod cmdb;
pub mod entity;
pub mod error;
pub mod escalation;
pub mod forecast;
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
