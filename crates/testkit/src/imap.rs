//! A real IMAP server for the desk's mailbox tests: a private Dovecot (`scripts/imap-private.sh`)
//! on a free loopback port, with the users `desk` and `requester`. Delivery into a mailbox is an
//! IMAP APPEND, as a mail server's local delivery would leave it.

use std::path::PathBuf;
use std::process::Command;

pub struct ImapServer {
    pub port: u16,
    dir: PathBuf,
    script: PathBuf,
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/imap-private.sh")
}

impl ImapServer {
    /// Starts Dovecot (installed by `scripts/test.sh`: Debian's dovecot-imapd).
    pub fn start() -> ImapServer {
        // Short and reachable by the dovecot user: the socket paths live inside it.
        let base = tempfile::Builder::new().prefix("odi").tempdir_in("/tmp").expect("a temp dir").keep();
        let dir = base.join("d");
        let script = script();
        let out = Command::new(&script).arg("start").arg(&dir).output().expect("run scripts/imap-private.sh");
        assert!(out.status.success(), "dovecot did not start: {}", String::from_utf8_lossy(&out.stderr));
        let url = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        let port = url.rsplit(':').next().and_then(|p| p.parse().ok()).expect("a port in the URL");
        ImapServer { port, dir, script }
    }

    /// The desk's mailbox, read in plain text on loopback, polled every 10 s.
    pub fn desk_config(&self) -> opsdeck_notify::imap::ImapConfig {
        opsdeck_notify::imap::ImapConfig {
            host: "127.0.0.1".into(),
            port: self.port,
            tls: opsdeck_notify::imap::ImapTls::None,
            username: "desk".into(),
            password: "desk-secret".into(),
            folder: "INBOX".into(),
            poll_seconds: 10,
            max_message_bytes: 200_000,
            max_attachment_bytes: 50_000,
        }
    }

    /// Delivers `raw` to the desk's INBOX (unseen).
    pub async fn deliver(&self, raw: &[u8]) {
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await.expect("connect to dovecot");
        let mut client = async_imap::Client::new(tcp);
        client.read_response().await.expect("greeting").expect("greeting");
        let mut s = client.login("desk", "desk-secret").await.map_err(|e| e.0).expect("login");
        s.append("INBOX", None, None, raw).await.expect("append");
        s.logout().await.expect("logout");
    }

    /// How many of the desk's messages are still unseen.
    pub async fn unseen(&self) -> usize {
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await.expect("connect to dovecot");
        let mut client = async_imap::Client::new(tcp);
        client.read_response().await.expect("greeting").expect("greeting");
        let mut s = client.login("desk", "desk-secret").await.map_err(|e| e.0).expect("login");
        s.select("INBOX").await.expect("select");
        let n = s.uid_search("UNSEEN").await.expect("search").len();
        s.logout().await.expect("logout");
        n
    }
}

impl Drop for ImapServer {
    fn drop(&mut self) {
        let _ = Command::new(&self.script).arg("stop").arg(&self.dir).output();
        if let Some(parent) = self.dir.parent() {
            let _ = std::fs::remove_dir_all(parent);
        }
    }
}
