//! Crash-safe file replacement: temp file in the same directory, fsync, rename, fsync the directory.
//!
//! A reader sees the old file or the new one, never a torn one, and a process killed at any instant
//! leaves at worst a `.abathur-tmp-*` file, which git ignores and `abathur check` reports.

use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};

/// Prefix of temporary files, so readers can skip them.
pub const TEMP_PREFIX: &str = ".abathur-tmp-";

/// Writes `bytes` to `path` atomically and durably.
pub fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    write_with(path, bytes, true)
}

/// Writes `bytes` to `path` atomically; when `durable` is false it skips the fsyncs (derived caches).
pub fn write_with(path: &Path, bytes: &[u8], durable: bool) -> Result<()> {
    write_via(path, bytes, durable, None)
}

/// Writes `bytes` to `path` atomically, staging the temporary file in `staging` (same file system)
/// so that the target folder changes exactly once, at the rename.
pub fn write_via(path: &Path, bytes: &[u8], durable: bool, staging: Option<&Path>) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    // A record's folder (a memory namespace, a session's events) exists from its first write on.
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let staging = staging.filter(|s| std::fs::create_dir_all(s).is_ok()).unwrap_or(dir);
    // 0666 minus the umask, like any file git checks out (tempfile's default is 0600).
    let mut tmp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666))
        .tempfile_in(staging)
        .map_err(|e| Error::io(staging, e))?;
    tmp.write_all(bytes).map_err(|e| Error::io(tmp.path(), e))?;
    if durable {
        tmp.as_file().sync_all().map_err(|e| Error::io(tmp.path(), e))?;
    }
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    // The rename is only durable once the directory entry is; failure here is not fatal.
    if durable && let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Writes `bytes` durably only if they differ from what `path` holds; returns whether it wrote.
pub fn write_if_changed(path: &Path, bytes: &[u8], staging: Option<&Path>) -> Result<bool> {
    match std::fs::read(path) {
        Ok(existing) if existing == bytes => Ok(false),
        _ => write_via(path, bytes, true, staging).map(|()| true),
    }
}
