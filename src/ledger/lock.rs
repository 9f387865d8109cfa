//! The ledger's write lock: every read-modify-write happens while holding it; readers never take it.
//!
//! It is an advisory `flock` on `.abathur/ledger.lock`, so the kernel releases it when a holder dies,
//! even by SIGKILL: a crashed writer never leaves the ledger locked. Waiting is bounded: after
//! `ABATHUR_LOCK_TIMEOUT_MS` (default 30 s) the caller gets a `Busy` error it can retry.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::error::{Error, ErrorKind, Result};

/// Proof that this process holds the ledger's write lock; released on drop.
#[derive(Debug)]
pub struct LedgerLock {
    file: File,
}

impl LedgerLock {
    /// Waits for the lock, backing off briefly between attempts.
    pub fn acquire(path: &Path) -> Result<LedgerLock> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        let timeout = std::env::var("ABATHUR_LOCK_TIMEOUT_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .map(Duration::from_millis)
            .unwrap_or(Duration::from_secs(30));
        let start = Instant::now();
        let mut pause = Duration::from_micros(50);
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(LedgerLock { file }),
                Err(TryLockError::WouldBlock) => {}
                Err(TryLockError::Error(e)) => return Err(Error::io(path, e)),
            }
            if start.elapsed() >= timeout {
                return Err(Error::new(
                    ErrorKind::Busy,
                    format!("the ledger is locked by another abathur process ({} waited {:?})", path.display(), timeout),
                )
                .hint("retry shortly; if no abathur process is running, the lock is stale only if the file system does not support flock"));
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(2));
        }
    }
}

impl Drop for LedgerLock {
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}
