//! The ledger's write lock: every read-modify-write happens while holding it; readers never take it.
//!
//! It is an advisory `flock` on `.abathur/ledger.lock`, so the kernel releases it when a holder dies,
//! even by SIGKILL: a crashed writer never leaves the ledger locked. Waiting is bounded: after
//! `ABATHUR_LOCK_TIMEOUT_MS` (default 30 s) the caller gets a `Busy` error it can retry.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use crate::error::{Error, ErrorKind, Result};

/// Proof that this process holds the ledger's write lock; released on drop.
#[derive(Debug)]
pub struct LedgerLock {
    file: File,
}

impl LedgerLock {
    /// Waits for the lock. The kernel hands a released lock straight to a waiter, so a queue of
    /// writers runs back to back; the wait happens on a helper thread so it can time out.
    pub fn acquire(path: &Path) -> Result<LedgerLock> {
        if let Some(lock) = LedgerLock::try_acquire(path)? {
            return Ok(lock);
        }
        let file = open_lock_file(path)?;
        let timeout = std::env::var("ABATHUR_LOCK_TIMEOUT_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .map(Duration::from_millis)
            .unwrap_or(Duration::from_secs(30));
        let (sender, receiver) = mpsc::sync_channel(1);
        let abandoned = Arc::new(AtomicBool::new(false));
        let gave_up = Arc::clone(&abandoned);
        std::thread::spawn(move || {
            let locked = file.lock();
            // If the caller gave up, dropping the file here releases the lock at once.
            if !gave_up.load(Ordering::SeqCst) {
                let _ = sender.send((file, locked));
            }
        });
        let received = receiver.recv_timeout(timeout);
        abandoned.store(true, Ordering::SeqCst);
        match received.or_else(|_| receiver.try_recv().map_err(|_| ())) {
            Ok((file, Ok(()))) => Ok(LedgerLock { file }),
            Ok((_, Err(e))) => Err(Error::io(path, e)),
            Err(()) => Err(Error::new(
                ErrorKind::Busy,
                format!("the ledger is locked by another abathur process ({} waited {timeout:?})", path.display()),
            )
            .hint("retry shortly; a lock is released as soon as its holder exits, even if it crashed")),
        }
    }
}

impl LedgerLock {
    /// Takes the lock only if it is free right now; `None` when another process holds it.
    pub fn try_acquire(path: &Path) -> Result<Option<LedgerLock>> {
        let file = open_lock_file(path)?;
        match file.try_lock() {
            Ok(()) => Ok(Some(LedgerLock { file })),
            Err(TryLockError::WouldBlock) => Ok(None),
            Err(TryLockError::Error(e)) => Err(Error::io(path, e)),
        }
    }
}

impl Drop for LedgerLock {
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}

fn open_lock_file(path: &Path) -> Result<File> {
    OpenOptions::new().create(true).truncate(false).write(true).open(path).map_err(|e| Error::io(path, e))
}
