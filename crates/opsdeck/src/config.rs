//! Configuration: a TOML file, then `OPSDECK_…` environment variables, then flags (clap reads
//! the last two, flags winning); the file only fills what neither of them set.

use crate::cli::Global;
use anyhow::{Context, Result};
use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    listen: Option<String>,
    secure_cookies: Option<bool>,
    session_ttl_hours: Option<i64>,
    session_idle_hours: Option<i64>,
    log: Option<String>,
    db_max_connections: Option<u32>,
    server: Option<String>,
    token: Option<String>,
    retention: Option<opsdeck_store::monitor::Retention>,
    ingest_queue: Option<usize>,
    public_url: Option<String>,
    smtp: Option<opsdeck_notify::SmtpConfig>,
    imap: Option<opsdeck_notify::imap::ImapConfig>,
    /// Reverse proxies (IP addresses) whose `X-Forwarded-For` header names the client.
    trusted_proxies: Option<Vec<std::net::IpAddr>>,
    egress: Option<opsdeck_notify::egress::EgressConfig>,
}

#[derive(Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub database_url: String,
    pub listen: String,
    pub secure_cookies: bool,
    pub session_ttl_hours: i64,
    /// A session unused this long ends.
    pub session_idle_hours: i64,
    pub log: String,
    pub db_max_connections: u32,
    pub server: String,
    pub token: Option<String>,
    /// Monitoring history kept (`[retention]` table in the file).
    pub retention: opsdeck_store::monitor::Retention,
    /// Alert events waiting to be written, at most; beyond it ingest answers 429.
    pub ingest_queue: usize,
    /// Where people reach this server; links in notifications start with it.
    pub public_url: String,
    /// Outgoing e-mail (`[smtp]` table in the file).
    pub smtp: Option<opsdeck_notify::SmtpConfig>,
    /// The service desk's mailbox (`[imap]` table): mail to it becomes tickets and replies.
    pub imap: Option<opsdeck_notify::imap::ImapConfig>,
    /// `trusted_proxies = ["10.0.0.5"]`: reverse proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Where outbound requests may go (`[egress]` table: `allow`, `deny` networks).
    pub egress: opsdeck_notify::egress::EgressConfig,
}

/// Written by hand so that logging the configuration never prints a secret: the database URL
/// (its password) and the API token.
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("data_dir", &self.data_dir)
            .field("database", &crate::cli::describe(self))
            .field("listen", &self.listen)
            .field("public_url", &self.public_url)
            .field("token", &self.token.as_ref().map(|_| opsdeck_core::secret::MASK))
            .field("smtp", &self.smtp)
            .field("imap", &self.imap)
            .finish_non_exhaustive()
    }
}

impl Config {
    pub fn load(g: &Global) -> Result<Config> {
        let file = match &g.config {
            Some(path) => read_file(path)?,
            None if Path::new("opsdeck.toml").exists() => read_file(Path::new("opsdeck.toml"))?,
            None => FileConfig::default(),
        };
        let data_dir = g.data_dir.clone().or(file.data_dir).unwrap_or_else(|| PathBuf::from("./opsdeck-data"));
        let database_url = g
            .database_url
            .clone()
            .or(file.database_url)
            .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("opsdeck.db").display()));
        let listen = g.listen.clone().or(file.listen).unwrap_or_else(|| "127.0.0.1:8080".into());
        Ok(Config {
            database_url,
            data_dir,
            public_url: g.public_url.clone().or(file.public_url).unwrap_or_else(|| format!("http://{listen}")),
            listen,
            secure_cookies: g.secure_cookies || file.secure_cookies.unwrap_or(false),
            session_ttl_hours: file.session_ttl_hours.unwrap_or(24 * 14).clamp(1, 24 * 365),
            session_idle_hours: file.session_idle_hours.unwrap_or(12).clamp(1, 24 * 365),
            log: g.log.clone().or(file.log).unwrap_or_else(|| "info".into()),
            db_max_connections: g.db_max_connections.or(file.db_max_connections).unwrap_or(8).clamp(2, 500),
            server: g.server.clone().or(file.server).unwrap_or_else(|| "http://127.0.0.1:8080".into()),
            token: g.token.clone().or(file.token),
            retention: match file.retention {
                Some(r) => {
                    r.check().map_err(|e| anyhow::anyhow!("invalid configuration file: {e}"))?;
                    r
                }
                None => opsdeck_store::monitor::Retention::default(),
            },
            ingest_queue: g.ingest_queue.or(file.ingest_queue).unwrap_or(20_000).clamp(100, 1_000_000),
            smtp: file.smtp,
            imap: file.imap,
            trusted_proxies: file.trusted_proxies.unwrap_or_default(),
            egress: file.egress.unwrap_or_default(),
        })
    }

    pub fn is_sqlite(&self) -> bool {
        self.database_url.starts_with("sqlite:")
    }

    /// The database file of a `sqlite:` URL (without its `?options`).
    pub fn sqlite_path(&self) -> Option<std::path::PathBuf> {
        let rest = self.database_url.strip_prefix("sqlite:")?;
        let rest = rest.strip_prefix("//").unwrap_or(rest);
        let path = rest.split('?').next().unwrap_or(rest);
        (!path.is_empty() && path != ":memory:").then(|| path.into())
    }
}

fn read_file(path: &Path) -> Result<FileConfig> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read configuration file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("invalid configuration file {}", path.display()))
}
