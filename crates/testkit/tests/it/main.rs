//! API tests against a real server, each run on SQLite and on PostgreSQL.

mod architecture;
mod auth;
mod catalogue;
mod errors;
mod incidents;
mod monitors;
mod oncall;
mod ops;
mod roles;
mod senders;
