//! Reading and writing task files, with a disposable cache that makes reading 10,000 of them cheap.
//!
//! The files are the truth. The cache (`.abathur/cache/tasks.idx`) holds, per file, its stat
//! fingerprint (size, inode, mtime, ctime) and the parsed fields the queue needs ([`TaskHead`]). Every
//! load lists the folder and stats every file; an entry is reused only when its fingerprint matches
//! and the file is not "racily" recent (changed within the file system's timestamp granularity), so
//! an edit by any tool, a `git checkout`, or a deleted cache never changes an answer.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::id::{Id, IdPrefix};
use crate::ledger::Ledger;
use crate::ledger::atomic;
use crate::queue::task::{Lease, MAX_FILE_BYTES, Source, State, TaskRecord};
use crate::time::Timestamp;

/// Bumped whenever [`TaskHead`] changes shape; a mismatched cache is ignored and rebuilt.
const CACHE_VERSION: u32 = 1;

/// A file changed this recently (ns) may change again within the same timestamp tick: re-read it.
const RACY_WINDOW_NS: i64 = 50_000_000;

/// Rewrite the cache once this many entries had to be re-parsed (otherwise re-parse them each time).
const REWRITE_THRESHOLD: usize = 32;

/// The fields of a task the queue computes with: everything but the large free-text and data fields.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskHead {
    /// Full id.
    pub id: Id,
    /// One-line label.
    pub summary: String,
    /// Who asked for it.
    pub source: Source,
    /// Agent definition to run it.
    pub agent_type: String,
    /// 0..=10.
    pub base_priority: u8,
    /// Tasks that must complete first.
    pub prerequisites: Vec<Id>,
    /// When it should be done.
    pub deadline: Option<Timestamp>,
    /// Expected effort.
    pub estimated_duration_seconds: Option<u64>,
    /// Governing milestone.
    pub milestone: Option<String>,
    /// Retries allowed.
    pub max_retries: u32,
    /// When it was enqueued.
    pub submitted_at: Timestamp,
    /// Stored lifecycle state.
    pub state: State,
    /// Retries used.
    pub retry_count: u32,
    /// Backoff: not claimable before.
    pub not_before: Option<Timestamp>,
    /// Current claim.
    pub lease: Option<Lease>,
}

impl From<&TaskRecord> for TaskHead {
    fn from(r: &TaskRecord) -> TaskHead {
        TaskHead {
            id: r.id.clone(),
            summary: r.summary.clone(),
            source: r.source,
            agent_type: r.agent_type.clone(),
            base_priority: r.base_priority,
            prerequisites: r.prerequisites.clone(),
            deadline: r.deadline,
            estimated_duration_seconds: r.estimated_duration_seconds,
            milestone: r.milestone.clone(),
            max_retries: r.max_retries,
            submitted_at: r.submitted_at,
            state: r.state,
            retry_count: r.retry_count,
            not_before: r.not_before,
            lease: r.lease.clone(),
        }
    }
}

/// What identifies one version of a file without reading it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Fingerprint {
    len: u64,
    ino: u64,
    mtime_ns: i64,
    ctime_ns: i64,
}

impl Fingerprint {
    fn of(meta: &std::fs::Metadata) -> Fingerprint {
        Fingerprint {
            len: meta.len(),
            ino: meta.ino(),
            mtime_ns: meta.mtime() * 1_000_000_000 + meta.mtime_nsec(),
            ctime_ns: meta.ctime() * 1_000_000_000 + meta.ctime_nsec(),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct CacheEntry {
    name: String,
    fingerprint: Fingerprint,
    racy: bool,
    parsed: std::result::Result<TaskHead, String>,
}

#[derive(Serialize, Deserialize)]
struct CacheFile {
    version: u32,
    entries: Vec<CacheEntry>,
}

/// Every task's head, plus the files that could not be read.
#[derive(Debug, Default)]
pub struct Heads {
    /// Parsed tasks, sorted by id.
    pub tasks: Vec<TaskHead>,
    /// One error per malformed or unexpected file; the rest still load.
    pub problems: Vec<Error>,
}

/// Task files of one ledger.
#[derive(Clone, Debug)]
pub struct TaskStore {
    dir: PathBuf,
    cache_path: PathBuf,
}

impl TaskStore {
    /// The task store of `ledger`.
    pub fn new(ledger: &Ledger) -> TaskStore {
        TaskStore { dir: ledger.tasks_dir(), cache_path: ledger.cache_dir().join("tasks.idx") }
    }

    /// The file of task `id`.
    pub fn path(&self, id: &Id) -> PathBuf {
        self.dir.join(format!("{id}.toml"))
    }

    /// Reads one task file, validated.
    pub fn read(&self, id: &Id) -> Result<TaskRecord> {
        let path = self.path(id);
        let text = read_limited(&path).map_err(|e| match e.kind {
            crate::error::ErrorKind::Internal if !path.exists() => Error::not_found("task", id.as_str()),
            _ => e,
        })?;
        TaskRecord::from_toml(&text, &path)
    }

    /// Writes one task file atomically in canonical form; a no-op when nothing changed.
    pub fn write(&self, record: &TaskRecord) -> Result<bool> {
        record.validate().map_err(|e| e.hint("this is a bug in abathur: the record was about to be written"))?;
        atomic::write_if_changed(&self.path(&record.id), record.to_toml().as_bytes())
    }

    /// Loads every task's head, re-parsing only files whose fingerprint changed since the cache.
    pub fn load(&self) -> Result<Heads> {
        let mut cached: HashMap<String, CacheEntry> = self.read_cache();
        let now_ns = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as i64).unwrap_or(0);
        let listing = std::fs::read_dir(&self.dir).map_err(|e| Error::io(&self.dir, e))?;
        let mut entries = Vec::with_capacity(cached.len() + 16);
        let mut reparsed = 0usize;
        let mut removed = cached.len();
        for dirent in listing {
            let dirent = dirent.map_err(|e| Error::io(&self.dir, e))?;
            let name = dirent.file_name();
            let Some(name) = name.to_str() else {
                entries.push(problem_entry(&self.dir, &dirent.file_name().to_string_lossy(), "file name is not UTF-8"));
                continue;
            };
            if name.starts_with('.') {
                continue; // .gitkeep and temporary files of writers in flight
            }
            let Ok(meta) = dirent.metadata() else { continue }; // removed while listing
            let fingerprint = Fingerprint::of(&meta);
            if let Some(old) = cached.remove(name) {
                removed -= 1;
                if old.fingerprint == fingerprint && !old.racy {
                    entries.push(old);
                    continue;
                }
            }
            reparsed += 1;
            let racy = now_ns - fingerprint.mtime_ns < RACY_WINDOW_NS;
            let parsed = self.parse_entry(name, &meta).map_err(|e| e.message);
            entries.push(CacheEntry { name: name.to_string(), fingerprint, racy, parsed });
        }
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        let worth_rewriting = reparsed >= REWRITE_THRESHOLD || reparsed * 8 >= entries.len() || removed > 0;
        if (reparsed > 0 && worth_rewriting) || !self.cache_path.exists() {
            self.write_cache(&entries);
        }
        let mut heads = Heads::default();
        for entry in entries {
            match entry.parsed {
                Ok(head) => heads.tasks.push(head),
                Err(message) => heads.problems.push(
                    Error::new(crate::error::ErrorKind::Validation, message)
                        .hint("fix or restore the file (`git diff`, `git checkout -- <file>`), then run `abathur check`"),
                ),
            }
        }
        Ok(heads)
    }

    fn parse_entry(&self, name: &str, meta: &std::fs::Metadata) -> Result<TaskHead> {
        let path = self.dir.join(name);
        let Some(stem) = name.strip_suffix(".toml") else {
            return Err(Error::malformed(&path, "unexpected file in the tasks folder: task files are named <id>.toml"));
        };
        if Id::parse(stem).is_err() {
            return Err(Error::malformed(&path, "unexpected file in the tasks folder: the name is not a task id"));
        }
        if !meta.is_file() {
            return Err(Error::malformed(&path, "not a regular file"));
        }
        let text = read_limited(&path)?;
        TaskRecord::from_toml(&text, &path).map(|r| TaskHead::from(&r))
    }

    fn read_cache(&self) -> HashMap<String, CacheEntry> {
        let Ok(bytes) = std::fs::read(&self.cache_path) else { return HashMap::new() };
        match postcard::from_bytes::<CacheFile>(&bytes) {
            Ok(file) if file.version == CACHE_VERSION => file.entries.into_iter().map(|e| (e.name.clone(), e)).collect(),
            _ => HashMap::new(), // corrupt or from another version: rebuilt from the files
        }
    }

    fn write_cache(&self, entries: &[CacheEntry]) {
        #[derive(Serialize)]
        struct CacheRef<'a> {
            version: u32,
            entries: &'a [CacheEntry],
        }
        let Ok(bytes) = postcard::to_stdvec(&CacheRef { version: CACHE_VERSION, entries }) else { return };
        let Some(dir) = self.cache_path.parent() else { return };
        if std::fs::create_dir_all(dir).is_ok() {
            // Best effort: a read-only checkout still works, just without the speed-up.
            let _ = atomic::write_with(&self.cache_path, &bytes, false);
        }
    }
}

fn problem_entry(dir: &Path, name: &str, message: &str) -> CacheEntry {
    CacheEntry {
        name: name.to_string(),
        fingerprint: Fingerprint { len: 0, ino: 0, mtime_ns: 0, ctime_ns: 0 },
        racy: true,
        parsed: Err(format!("{}: {message}", dir.join(name).display())),
    }
}

/// Reads a ledger file, refusing files too large to be a task.
pub fn read_limited(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(Error::malformed(path, format!("file is {} bytes; a task file is at most {MAX_FILE_BYTES}", bytes.len())));
    }
    String::from_utf8(bytes).map_err(|_| Error::malformed(path, "file is not UTF-8 text"))
}

/// Resolves a user-typed id or unique prefix against the known ids.
pub fn resolve<'a>(text: &str, ids: impl Iterator<Item = &'a Id>) -> Result<Id> {
    let prefix = IdPrefix::parse(text)?;
    let matches: Vec<&Id> = ids.filter(|id| prefix.matches(id)).take(6).collect();
    match matches.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(Error::not_found("task", prefix.as_str()).hint("`abathur task list` shows task ids")),
        many => {
            let shown: Vec<String> = many.iter().take(5).map(|id| id.to_string()).collect();
            Err(Error::invalid("task_id", format!("`{}` is ambiguous: it matches {}", prefix.as_str(), shown.join(", ")))
                .hint("type more characters of the id"))
        }
    }
}
