//! The agent's upload queue: gzip-compressed batches of results waiting to be sent, oldest
//! first, in a directory (they survive a restart of the agent) or in memory. Bounded: when a
//! new batch would pass the limit, the oldest are dropped and their results counted.

use anyhow::{Context, Result};
use std::collections::VecDeque;
use std::path::PathBuf;

/// One compressed upload.
pub struct Batch {
    /// Its place in the queue, to remove exactly this batch once sent.
    pub seq: u64,
    pub body: Vec<u8>,
    /// Results in it.
    pub count: u64,
    /// Its file, when the buffer is on disk.
    file: Option<PathBuf>,
}

pub struct Buffer {
    dir: Option<PathBuf>,
    max_bytes: u64,
    bytes: u64,
    queue: VecDeque<Batch>,
    next_seq: u64,
    /// Results dropped (buffer full) and not reported to the server yet.
    pub dropped: u64,
}

impl Buffer {
    /// A buffer in `dir` (batches a previous run left there are sent first) or in memory.
    pub fn open(dir: Option<PathBuf>, max_bytes: u64) -> Result<Buffer> {
        let mut b = Buffer { dir, max_bytes, bytes: 0, queue: VecDeque::new(), next_seq: 0, dropped: 0 };
        let Some(dir) = b.dir.clone() else { return Ok(b) };
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create the buffer directory {}", dir.display()))?;
        let mut found: Vec<(u64, u64, PathBuf)> = Vec::new();
        for entry in std::fs::read_dir(&dir).with_context(|| format!("cannot read {}", dir.display()))? {
            let path = entry?.path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else { continue };
            if name.ends_with(".tmp") {
                // A batch a crash left half written: it was never queued.
                let _ = std::fs::remove_file(&path);
                continue;
            }
            // `{seq}-{count}.json.gz`, written by `push`.
            let Some((seq, count)) = name.strip_suffix(".json.gz").and_then(|s| s.split_once('-')) else { continue };
            if let (Ok(seq), Ok(count)) = (seq.parse::<u64>(), count.parse::<u64>()) {
                found.push((seq, count, path));
            }
        }
        found.sort();
        for (seq, count, path) in found {
            let body = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
            b.bytes += body.len() as u64;
            b.next_seq = b.next_seq.max(seq + 1);
            b.queue.push_back(Batch { seq, body, count, file: Some(path) });
        }
        b.trim();
        Ok(b)
    }

    /// Results waiting.
    pub fn results(&self) -> u64 {
        self.queue.iter().map(|b| b.count).sum()
    }

    /// Queues a batch (written to disk first, when the buffer is on disk), dropping the oldest
    /// batches while the total passes the limit.
    pub fn push(&mut self, body: Vec<u8>, count: u64) -> Result<()> {
        let seq = self.next_seq;
        self.next_seq += 1;
        let file = match &self.dir {
            Some(dir) => {
                let path = dir.join(format!("{seq:020}-{count}.json.gz"));
                let tmp = dir.join(format!("{seq:020}.tmp"));
                // Written whole, then renamed: a crash leaves no half batch to send.
                std::fs::write(&tmp, &body).with_context(|| format!("cannot write {}", tmp.display()))?;
                std::fs::rename(&tmp, &path).with_context(|| format!("cannot write {}", path.display()))?;
                Some(path)
            }
            None => None,
        };
        self.bytes += body.len() as u64;
        self.queue.push_back(Batch { seq, body, count, file });
        self.trim();
        Ok(())
    }

    fn trim(&mut self) {
        while self.bytes > self.max_bytes && self.queue.len() > 1 {
            if let Some(old) = self.queue.pop_front() {
                self.bytes -= old.body.len() as u64;
                self.dropped += old.count;
                tracing::warn!(results = old.count, "the upload buffer is full: dropped its oldest batch");
                if let Some(f) = old.file {
                    let _ = std::fs::remove_file(f);
                }
            }
        }
    }

    /// The oldest batch, to send.
    pub fn front(&self) -> Option<&Batch> {
        self.queue.front()
    }

    /// Removes batch `seq` if it is still the oldest (a full buffer may have dropped it
    /// meanwhile): it was delivered, or refused for good (`refused`: its results count as
    /// dropped).
    pub fn remove(&mut self, seq: u64, refused: bool) {
        if self.queue.front().is_none_or(|b| b.seq != seq) {
            return;
        }
        if let Some(b) = self.queue.pop_front() {
            self.bytes -= b.body.len() as u64;
            if refused {
                self.dropped += b.count;
            }
            if let Some(f) = b.file {
                let _ = std::fs::remove_file(f);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_and_bounds_and_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let mut b = Buffer::open(Some(dir.path().to_owned()), 25).unwrap();
        b.push(vec![1; 10], 3).unwrap();
        b.push(vec![2; 10], 4).unwrap();
        assert_eq!(b.results(), 7);
        b.push(vec![3; 10], 5).unwrap();
        assert_eq!(b.dropped, 3, "the oldest batch went first");
        assert_eq!(b.front().map(|f| f.body[0]), Some(2));
        drop(b);
        let mut again = Buffer::open(Some(dir.path().to_owned()), 25).unwrap();
        assert_eq!(again.results(), 9, "what was on disk is sent after a restart");
        assert_eq!(again.front().map(|f| f.body[0]), Some(2));
        let first = again.front().map(|f| f.seq).unwrap();
        again.remove(first, false);
        again.remove(first, false);
        assert_eq!(again.results(), 5, "a batch already gone is not removed twice");
        let next = again.front().map(|f| f.seq).unwrap();
        again.push(vec![4; 5], 1).unwrap();
        again.remove(next, true);
        assert_eq!(again.dropped, 5);
        assert_eq!(again.front().map(|f| f.body[0]), Some(4));
        let mut mem = Buffer::open(None, 1_000).unwrap();
        mem.push(vec![0; 10], 2).unwrap();
        assert_eq!(mem.results(), 2);
    }
}
