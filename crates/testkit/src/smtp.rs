//! A real SMTP server for e-mail tests: Python's aiosmtpd writing every message it accepts
//! into a Maildir.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

pub struct SmtpSink {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl SmtpSink {
    /// Picks a free port; the server is not running until [`SmtpSink::start`].
    pub fn new() -> SmtpSink {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free loopback port");
        SmtpSink { port, dir: tempfile::tempdir().expect("a temp dir"), child: None }
    }

    /// Plain SMTP on loopback, from `Opsdeck <opsdeck@example.com>`.
    pub fn config(&self) -> opsdeck_notify::SmtpConfig {
        opsdeck_notify::SmtpConfig {
            host: "127.0.0.1".into(),
            port: self.port,
            tls: opsdeck_notify::SmtpTls::None,
            username: None,
            password: None,
            from: "Opsdeck <opsdeck@example.com>".into(),
            reply_to: Some("Service desk <desk@example.com>".into()),
        }
    }

    fn maildir(&self) -> PathBuf {
        self.dir.path().join("mail")
    }

    /// Starts aiosmtpd and waits until it accepts connections.
    pub async fn start(&mut self) {
        let child = Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{}", self.port), "-c"])
            .arg("aiosmtpd.handlers.Mailbox")
            .arg(self.maildir())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start aiosmtpd (pip install aiosmtpd)");
        self.child = Some(child);
        for _ in 0..400 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await.is_ok() {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        panic!("aiosmtpd did not start on port {}", self.port);
    }

    /// Every message received so far, raw, with quoted-printable soft breaks and `=3D` undone.
    pub fn messages(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.maildir().join("new")) else { return Vec::new() };
        // In the order they arrived (Maildir names are unique, not ordered).
        let mut paths: Vec<(std::time::SystemTime, PathBuf)> = entries
            .filter_map(|e| e.ok())
            .map(|e| (e.metadata().and_then(|m| m.modified()).unwrap_or(std::time::UNIX_EPOCH), e.path()))
            .collect();
        paths.sort();
        paths
            .iter()
            .filter_map(|(_, p)| std::fs::read_to_string(p).ok())
            .map(|raw| raw.replace("=\r\n", "").replace("=\n", "").replace("=3D", "="))
            .collect()
    }

    /// The messages sent to `address`.
    pub fn to(&self, address: &str) -> Vec<String> {
        let line = format!("To: {address}");
        self.messages().into_iter().filter(|m| m.lines().any(|l| l.trim_end() == line)).collect()
    }
}

impl Default for SmtpSink {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
