//! The service desk's mailbox, read over IMAP (`[imap]` in the configuration): unseen messages are
//! fetched without marking them (`BODY.PEEK`), and marked seen only once the desk has kept them,
//! so a crash between the two reads them again (the desk skips what it already has by
//! Message-ID). A message over the size limit is fetched as its header only.

use futures_util::TryStreamExt;
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// How the connection is protected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImapTls {
    /// TLS from the first byte (IMAPS, port 993).
    #[default]
    Implicit,
    /// Plain text: only for a server on the same machine (tests, a local relay).
    None,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImapConfig {
    pub host: String,
    #[serde(default = "default_port")]
    pub port: u16,
    #[serde(default)]
    pub tls: ImapTls,
    pub username: String,
    pub password: String,
    /// The folder new mail arrives in.
    #[serde(default = "default_folder")]
    pub folder: String,
    /// How often the mailbox is read (10 s to 1 h).
    #[serde(default = "default_poll")]
    pub poll_seconds: u64,
    /// A message larger than this is kept as its headers only, with a note.
    #[serde(default = "default_message_max")]
    pub max_message_bytes: usize,
    /// An attachment larger than this is left out, with a note.
    #[serde(default = "default_attachment_max")]
    pub max_attachment_bytes: usize,
}

fn default_port() -> u16 {
    993
}
fn default_folder() -> String {
    "INBOX".into()
}
fn default_poll() -> u64 {
    60
}
fn default_message_max() -> usize {
    25_000_000
}
fn default_attachment_max() -> usize {
    10_000_000
}

/// Written by hand so that logging a configuration never prints the password.
impl std::fmt::Debug for ImapConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImapConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("username", &self.username)
            .field("password", &opsdeck_core::secret::MASK)
            .field("folder", &self.folder)
            .finish_non_exhaustive()
    }
}

impl ImapConfig {
    /// The poll interval within its bounds.
    pub fn interval(&self) -> Duration {
        Duration::from_secs(self.poll_seconds.clamp(10, 3600))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ImapError {
    #[error("cannot reach {0}: {1}")]
    Connect(String, String),
    #[error("the IMAP server refused the login for {0} (check [imap] username and password)")]
    Login(String),
    #[error("IMAP: {0}")]
    Protocol(String),
}

impl From<async_imap::error::Error> for ImapError {
    fn from(e: async_imap::error::Error) -> Self {
        ImapError::Protocol(e.to_string())
    }
}

/// A stream the IMAP client can run over: TLS or plain TCP.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send + std::fmt::Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + std::fmt::Debug> Io for T {}

/// One message of the mailbox: its UID, size, and its bytes (only the header when it is larger
/// than the limit).
#[derive(Debug, Clone)]
pub struct Fetched {
    pub uid: u32,
    pub size: usize,
    pub raw: Vec<u8>,
    /// Only the header was fetched: the message is over `max_message_bytes`.
    pub header_only: bool,
}

/// A signed-in session on the desk's folder.
pub struct Mailbox {
    session: async_imap::Session<Box<dyn Io>>,
}

const TIMEOUT: Duration = Duration::from_secs(30);

async fn timed<T>(what: &str, f: impl Future<Output = Result<T, ImapError>>) -> Result<T, ImapError> {
    tokio::time::timeout(TIMEOUT, f).await.map_err(|_| ImapError::Protocol(format!("{what} timed out after 30 s")))?
}

async fn connect(cfg: &ImapConfig) -> Result<Box<dyn Io>, ImapError> {
    let addr = format!("{}:{}", cfg.host, cfg.port);
    let tcp = TcpStream::connect(&addr).await.map_err(|e| ImapError::Connect(addr.clone(), e.to_string()))?;
    match cfg.tls {
        ImapTls::None => Ok(Box::new(tcp)),
        ImapTls::Implicit => {
            let roots = rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| ImapError::Connect(addr.clone(), e.to_string()))?
                .with_root_certificates(roots)
                .with_no_client_auth();
            let name = rustls::pki_types::ServerName::try_from(cfg.host.clone())
                .map_err(|e| ImapError::Connect(addr.clone(), e.to_string()))?;
            let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
                .connect(name, tcp)
                .await
                .map_err(|e| ImapError::Connect(addr, e.to_string()))?;
            Ok(Box::new(tls))
        }
    }
}

impl Mailbox {
    /// Connects, signs in and selects the folder.
    pub async fn open(cfg: &ImapConfig) -> Result<Mailbox, ImapError> {
        timed("signing in", async {
            let mut client = async_imap::Client::new(connect(cfg).await?);
            client
                .read_response()
                .await
                .map_err(|e| ImapError::Protocol(e.to_string()))?
                .ok_or_else(|| ImapError::Protocol("the server closed the connection before greeting".into()))?;
            let mut session =
                client.login(&cfg.username, &cfg.password).await.map_err(|_| ImapError::Login(cfg.username.clone()))?;
            session.select(&cfg.folder).await?;
            Ok(Mailbox { session })
        })
        .await
    }

    /// The UIDs of unseen messages, oldest first, at most `limit`.
    pub async fn unseen(&mut self, limit: usize) -> Result<Vec<u32>, ImapError> {
        let s = &mut self.session;
        let mut uids: Vec<u32> =
            timed("searching", async { Ok(s.uid_search("UNSEEN").await?) }).await?.into_iter().collect();
        uids.sort_unstable();
        uids.truncate(limit);
        Ok(uids)
    }

    /// Fetches message `uid` without marking it seen; over `max_bytes`, its header only.
    pub async fn fetch(&mut self, uid: u32, max_bytes: usize) -> Result<Option<Fetched>, ImapError> {
        let s = &mut self.session;
        timed("fetching", async {
            let sizes: Vec<_> = s.uid_fetch(uid.to_string(), "(UID RFC822.SIZE)").await?.try_collect().await?;
            let Some(size) = sizes.iter().find(|f| f.uid == Some(uid)).and_then(|f| f.size) else {
                return Ok(None);
            };
            let size = usize::try_from(size).unwrap_or(usize::MAX);
            let header_only = size > max_bytes;
            let query = if header_only { "(UID BODY.PEEK[HEADER])" } else { "(UID BODY.PEEK[])" };
            let got: Vec<_> = s.uid_fetch(uid.to_string(), query).await?.try_collect().await?;
            let raw = got
                .iter()
                .find(|f| f.uid == Some(uid))
                .and_then(|f| if header_only { f.header() } else { f.body() })
                .map(<[u8]>::to_vec);
            Ok(raw.map(|raw| Fetched { uid, size, raw, header_only }))
        })
        .await
    }

    /// Marks message `uid` seen: the desk has kept it.
    pub async fn mark_seen(&mut self, uid: u32) -> Result<(), ImapError> {
        let s = &mut self.session;
        timed("marking seen", async {
            let _: Vec<_> = s.uid_store(uid.to_string(), "+FLAGS.SILENT (\\Seen)").await?.try_collect().await?;
            Ok(())
        })
        .await
    }

    pub async fn close(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(5), self.session.logout()).await;
    }
}
