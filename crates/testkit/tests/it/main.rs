//! API tests against a real server, each run on SQLite and on PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly on purpose

mod agents;
mod anomalies;
mod architecture;
mod auth;
mod bounds;
mod catalogue;
mod change_mail;
mod changes;
mod cmdb;
mod cmdb_attributes;
mod contracts;
mod desk_settings;
mod errors;
mod incidents;
mod knowledge;
mod kpi;
mod mail_in;
mod mcp;
mod monitors;
mod oncall;
mod ops;
mod paging;
mod prometheus_series;
mod report_schedules;
mod requests;
mod roles;
mod routing;
mod secrets;
mod senders;
mod series;
mod series_alerts;
mod sla_agreements;
mod slos;
mod status_access;
mod status_incidents;
mod status_maintenance;
mod status_pages;
mod status_subscribers;
mod status_templates;
mod ticket_links;
mod ticket_sla;
mod tickets;
mod uploads;
mod vendors;
