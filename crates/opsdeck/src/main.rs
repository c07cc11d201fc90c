//! `opsdeck`: the server and its command line.

mod agent;
mod apply;
mod apply_status;
mod changes;
mod cli;
mod client;
mod cmdb;
mod cmdb_attributes;
mod config;
mod contracts;
mod demo;
mod imports;
mod incidents;
mod knowledge;
mod mcp_bridge;
mod migrate_db;
mod openslo;
mod output;
mod report;
mod series;
mod slo_apply;
mod slo_import;
mod slos;
mod status_pages;
mod tickets;
mod vendors;

use anyhow::Result;
use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(mut cli: cli::Cli) -> Result<()> {
    // reqwest and sqlx share rustls; ring is the one crypto provider compiled in.
    let _ = rustls::crypto::ring::default_provider().install_default();
    imports::claim_flags(&mut cli);
    let cfg = config::Config::load(&cli.global)?;
    cli::dispatch(cli.command, cfg).await
}
