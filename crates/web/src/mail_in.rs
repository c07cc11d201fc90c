//! The desk's mailbox reader: one node at a time (it holds a lease) signs in to the `[imap]`
//! mailbox every `poll_seconds`, keeps each unseen message (`operations::mail_in`) and only
//! then marks it seen, so a crash between the two reads it again and the Message-ID check skips
//! it. A message the desk could not write (the database is down) stays unseen for the next pass.

use crate::AppState;
use crate::error::ApiError;
use crate::operations::mail_in::{self, Limits, Outcome};
use opsdeck_notify::imap::{ImapConfig, Mailbox};
use std::time::{Duration, Instant};

const LEASE: &str = "mail_in";
/// Messages read per pass, at most; the rest wait for the next.
const PER_PASS: usize = 200;
/// A pass takes no new message after this long.
const BUDGET: Duration = Duration::from_secs(50);

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pass {
    pub created: usize,
    pub replied: usize,
    pub noted: usize,
    pub refused: usize,
    pub known: usize,
}

impl Pass {
    pub fn total(&self) -> usize {
        self.created + self.replied + self.noted + self.refused + self.known
    }
}

/// Runs until `stop` turns true, as `node` in the lease.
pub async fn run(state: AppState, cfg: ImapConfig, node: String, stop: tokio::sync::watch::Receiver<bool>) {
    let every = cfg.interval();
    crate::leased::run_every(state, node, LEASE, every, "the desk's mailbox could not be read", stop, |state, node| {
        let cfg = cfg.clone();
        async move { poll(&state, &cfg, &node).await.map(|p| p.total()) }
    })
    .await;
}

/// Reads the mailbox once (nothing when another node holds the lease).
pub async fn poll(state: &AppState, cfg: &ImapConfig, node: &str) -> Result<Pass, ApiError> {
    let Some(mut lease) = crate::leased::Lease::take(state, LEASE, node).await? else { return Ok(Pass::default()) };
    let mut mailbox =
        Mailbox::open(cfg).await.map_err(|e| ApiError::new(crate::error::ErrorCode::Unavailable, e.to_string()))?;
    let result = read(state, cfg, &mut mailbox, &mut lease).await;
    mailbox.close().await;
    result
}

async fn read(
    state: &AppState,
    cfg: &ImapConfig,
    mailbox: &mut Mailbox,
    lease: &mut crate::leased::Lease<'_>,
) -> Result<Pass, ApiError> {
    let started = Instant::now();
    let limits = Limits { message_bytes: cfg.max_message_bytes, attachment_bytes: cfg.max_attachment_bytes };
    let uids = mailbox
        .unseen(PER_PASS)
        .await
        .map_err(|e| ApiError::new(crate::error::ErrorCode::Unavailable, e.to_string()))?;
    let mut pass = Pass::default();
    for uid in uids {
        if started.elapsed() > BUDGET || !lease.keep().await? {
            break;
        }
        let fetched = mailbox
            .fetch(uid, cfg.max_message_bytes)
            .await
            .map_err(|e| ApiError::new(crate::error::ErrorCode::Unavailable, e.to_string()))?;
        let Some(f) = fetched else { continue };
        match mail_in::receive(state, &f.raw, f.header_only, f.size, limits).await? {
            Outcome::Created => pass.created += 1,
            Outcome::Replied => pass.replied += 1,
            Outcome::Noted => pass.noted += 1,
            Outcome::Refused => pass.refused += 1,
            Outcome::Known => pass.known += 1,
        }
        mailbox.mark_seen(uid).await.map_err(|e| ApiError::new(crate::error::ErrorCode::Unavailable, e.to_string()))?;
    }
    Ok(pass)
}
