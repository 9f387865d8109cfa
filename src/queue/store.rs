//! Reading and writing task files, with a disposable cache that makes reading 10,000 of them cheap.
//!
//! The files are the truth; the cache under `.abathur/cache/` only saves parsing them. It has two parts:
//! a snapshot (`tasks.idx`: every file's stat fingerprint and parsed head) and a journal
//! (`tasks.log`) to which every abathur writer, while holding the ledger lock, appends the file it
//! just replaced. Each snapshot and journal record carries the tasks folder's modification time as it
//! was right after. A reader trusts the cache only when that time still matches the folder: any file
//! created, renamed or removed by anything else (`git checkout`, `git merge`, `sed -i`, most editors)
//! changes it, and the reader then re-verifies every file by its fingerprint and re-parses the changed
//! ones. A missing, corrupt or foreign cache is simply rebuilt. One case a folder time cannot show is a
//! tool rewriting a file in place; `abathur task list --verify` (and `abathur check`) stat every file.

use std::collections::HashMap;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::id::{Id, IdPrefix};
use crate::ledger::Ledger;
use crate::ledger::atomic;
use crate::ledger::lock::LedgerLock;
use crate::queue::task::{MAX_FILE_BYTES, Source, State, TaskRecord};
use crate::time::Timestamp;

/// Bumped whenever the cache layout or [`TaskHead`] changes; a mismatched cache is rebuilt.
const CACHE_MAGIC: u32 = 0xABA7_0003;

/// A file changed this recently (ns) may change again within the same timestamp tick: re-read it.
const RACY_WINDOW_NS: i64 = 50_000_000;

/// Journal records kept before they are folded into a new snapshot.
const JOURNAL_LIMIT: usize = 512;

/// The fields of a task the queue computes with: everything but the large free-text and data fields.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskHead {
    /// Full id.
    pub id: Id,
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
    /// When the current claim lapses, while running.
    pub lease_expires_at: Option<Timestamp>,
}

impl From<&TaskRecord> for TaskHead {
    fn from(r: &TaskRecord) -> TaskHead {
        TaskHead {
            id: r.id,
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
            lease_expires_at: r.lease.as_ref().map(|l| l.expires_at),
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

    fn is_racy(&self) -> bool {
        let now_ns = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as i64)
            .unwrap_or(0);
        now_ns - self.mtime_ns < RACY_WINDOW_NS
    }
}

/// The tasks folder's identity and modification time: changes whenever an entry is added, renamed
/// or removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct FolderStamp {
    ino: u64,
    mtime_ns: i64,
}

/// What a cache entry is about: a task file (by id), or some other file in the tasks folder.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
enum Key {
    Task(Id),
    Other(String),
}

impl Key {
    fn of_name(name: &str) -> Key {
        match name
            .strip_suffix(".toml")
            .and_then(|stem| Id::parse(stem).ok())
        {
            Some(id) if id.to_string() == name[..name.len() - 5] => Key::Task(id),
            _ => Key::Other(name.to_string()),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct CacheEntry {
    fingerprint: Fingerprint,
    racy: bool,
    parsed: std::result::Result<Box<TaskHead>, String>,
}

#[derive(Serialize, Deserialize)]
struct Snapshot {
    magic: u32,
    generation: u64,
    folder: FolderStamp,
    entries: Vec<(Key, CacheEntry)>,
}

#[derive(Serialize, Deserialize)]
struct JournalRecord {
    generation: u64,
    /// 1 for the first record after a snapshot.
    sequence: u64,
    key: Key,
    entry: Option<CacheEntry>,
    folder_after: FolderStamp,
}

/// The cache as read back: entries and the folder stamp they are valid for.
struct Cached {
    generation: u64,
    /// Sorted by key.
    entries: Vec<(Key, CacheEntry)>,
    snapshot_folder: FolderStamp,
    valid_for: Option<FolderStamp>,
    journal_len: usize,
    journal_offset: usize,
    /// Every folder stamp the snapshot and journal records were taken at.
    stamps: Vec<FolderStamp>,
}

impl Cached {
    /// Whether the folder, as stamped, is a state this cache went through (and is now at or past).
    fn reached(&self, folder: FolderStamp) -> bool {
        self.valid_for.is_some() && self.stamps.contains(&folder)
    }

    /// Applies the journal records past those already applied; a torn tail leaves the cache invalid.
    fn apply_journal(&mut self, journal_path: &Path) {
        let journal = std::fs::read(journal_path).unwrap_or_default();
        if journal.len() < self.journal_offset {
            self.valid_for = None; // compacted under us: the snapshot changed too
            return;
        }
        let mut rest = &journal[self.journal_offset..];
        while let Some((record, tail)) = next_record(rest) {
            self.journal_offset += rest.len() - tail.len();
            rest = tail;
            if record.generation != self.generation {
                continue;
            }
            self.journal_len += 1;
            upsert(&mut self.entries, record.key, record.entry);
            self.valid_for = Some(record.folder_after);
            self.stamps.push(record.folder_after);
        }
        if !rest.is_empty() {
            self.valid_for = None; // torn tail: a writer died mid-append, or is appending now
        } else if self.journal_len == 0 {
            self.valid_for = Some(self.snapshot_folder);
        }
    }
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
    snapshot_path: PathBuf,
    journal_path: PathBuf,
    lock_path: PathBuf,
    staging_dir: PathBuf,
}

impl TaskStore {
    /// The task store of `ledger`.
    pub fn new(ledger: &Ledger) -> TaskStore {
        let cache = ledger.cache_dir();
        TaskStore {
            dir: ledger.tasks_dir(),
            snapshot_path: cache.join("tasks.idx"),
            journal_path: cache.join("tasks.log"),
            lock_path: ledger.root().join("ledger.lock"),
            staging_dir: cache.join("tmp"),
        }
    }

    /// The file of task `id`.
    pub fn path(&self, id: &Id) -> PathBuf {
        self.dir.join(format!("{id}.toml"))
    }

    /// Reads one task file, validated.
    pub fn read(&self, id: &Id) -> Result<TaskRecord> {
        let path = self.path(id);
        let text = match read_limited(&path) {
            Err(_) if !path.exists() => return Err(Error::not_found("task", &id.to_string())),
            other => other?,
        };
        TaskRecord::from_toml(&text, &path)
    }

    /// Writes one task file atomically in canonical form (a no-op when nothing changed), and journals
    /// it in the cache. The caller must hold the ledger lock.
    pub fn write(&self, record: &TaskRecord) -> Result<bool> {
        record
            .validate()
            .map_err(|e| e.hint("this is a bug in abathur: the record was about to be written"))?;
        let before = self.folder_stamp().ok();
        let path = self.path(&record.id);
        let changed =
            atomic::write_if_changed(&path, record.to_toml().as_bytes(), Some(&self.staging_dir))?;
        if changed {
            self.journal(before, &path, record);
        }
        Ok(changed)
    }

    /// Loads every task's head: from the cache when it provably matches the folder, else by
    /// re-verifying every file's fingerprint and re-parsing the changed ones.
    pub fn load(&self) -> Result<Heads> {
        self.load_with(false)
    }

    /// Like [`TaskStore::load`], but always checks every file's fingerprint (catches in-place edits).
    pub fn load_verified(&self) -> Result<Heads> {
        self.load_with(true)
    }

    fn load_with(&self, verify_all: bool) -> Result<Heads> {
        // The folder is stamped before the cache is read: if the stamp is one the snapshot or a
        // journal record reached, every change since is a journaled abathur write, so the cache is
        // the folder's state or newer. A writer renames its file a few microseconds before it
        // journals it; while the lock is busy, re-read the journal rather than re-verify every file.
        let folder = self.folder_stamp()?;
        let mut cached = self.read_cache();
        for _ in 0..8 {
            if verify_all || cached.reached(folder) {
                break;
            }
            let busy = matches!(LedgerLock::try_acquire(&self.lock_path), Ok(None));
            cached.apply_journal(&self.journal_path);
            if cached.reached(folder) || !busy {
                break; // caught up, or nobody is writing and the folder really changed under the cache
            }
            std::thread::sleep(std::time::Duration::from_micros(200));
        }
        // Racy entries matter only when fingerprints are compared; a reached stamp proves the cache.
        if !verify_all && cached.reached(folder) {
            return Ok(into_heads(cached.entries));
        }
        if std::env::var_os("ABATHUR_DEBUG_CACHE").is_some() {
            eprintln!(
                "cache: re-verifying (folder {folder:?}, valid_for {:?}, {} stamps, journal {})",
                cached.valid_for,
                cached.stamps.len(),
                cached.journal_len
            );
        }
        let entries = self.verify(cached.entries)?;
        if self.folder_stamp().ok() == Some(folder) {
            // Nothing moved while we listed: save a snapshot, unless a writer is busy (it journals).
            if let Ok(Some(_lock)) = LedgerLock::try_acquire(&self.lock_path) {
                self.save_snapshot(folder, &entries);
            }
        }
        Ok(into_heads(entries))
    }

    /// Lists the folder, reusing cached entries whose fingerprint matches and parsing the rest.
    fn verify(&self, cached: Vec<(Key, CacheEntry)>) -> Result<Vec<(Key, CacheEntry)>> {
        let mut cached: HashMap<Key, CacheEntry> = cached.into_iter().collect();
        let listing = std::fs::read_dir(&self.dir).map_err(|e| Error::io(&self.dir, e))?;
        let mut entries = Vec::with_capacity(cached.len() + 16);
        for dirent in listing {
            let dirent = dirent.map_err(|e| Error::io(&self.dir, e))?;
            let raw_name = dirent.file_name();
            let Some(name) = raw_name.to_str() else {
                let shown = raw_name.to_string_lossy().to_string();
                let message = format!(
                    "{}: file name is not UTF-8",
                    self.dir.join(&shown).display()
                );
                let fingerprint = Fingerprint {
                    len: 0,
                    ino: 0,
                    mtime_ns: 0,
                    ctime_ns: 0,
                };
                entries.push((
                    Key::Other(shown),
                    CacheEntry {
                        fingerprint,
                        racy: true,
                        parsed: Err(message),
                    },
                ));
                continue;
            };
            if name.starts_with('.') {
                continue; // .gitkeep and temporary files of writers in flight
            }
            let Ok(meta) = dirent.metadata() else {
                continue;
            }; // removed while listing
            let fingerprint = Fingerprint::of(&meta);
            let key = Key::of_name(name);
            if let Some(old) = cached.remove(&key)
                && old.fingerprint == fingerprint
                && !old.racy
            {
                entries.push((key, old));
                continue;
            }
            let parsed = self
                .parse_entry(name, &meta)
                .map(Box::new)
                .map_err(|e| e.message);
            entries.push((
                key,
                CacheEntry {
                    fingerprint,
                    racy: fingerprint.is_racy(),
                    parsed,
                },
            ));
        }
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(entries)
    }

    fn parse_entry(&self, name: &str, meta: &std::fs::Metadata) -> Result<TaskHead> {
        let path = self.dir.join(name);
        let Some(stem) = name.strip_suffix(".toml") else {
            return Err(Error::malformed(
                &path,
                "unexpected file in the tasks folder: task files are named <id>.toml",
            ));
        };
        if Id::parse(stem).is_err() {
            return Err(Error::malformed(
                &path,
                "unexpected file in the tasks folder: the name is not a task id",
            ));
        }
        if !meta.is_file() {
            return Err(Error::malformed(&path, "not a regular file"));
        }
        let text = read_limited(&path)?;
        TaskRecord::from_toml(&text, &path).map(|r| TaskHead::from(&r))
    }

    fn folder_stamp(&self) -> Result<FolderStamp> {
        let meta = std::fs::metadata(&self.dir).map_err(|e| Error::io(&self.dir, e))?;
        Ok(FolderStamp {
            ino: meta.ino(),
            mtime_ns: meta.mtime() * 1_000_000_000 + meta.mtime_nsec(),
        })
    }

    /// Snapshot plus the journal records of the same generation, up to the first torn one.
    fn read_cache(&self) -> Cached {
        let folder = FolderStamp {
            ino: 0,
            mtime_ns: 0,
        };
        let empty = Cached {
            generation: 0,
            entries: Vec::new(),
            snapshot_folder: folder,
            valid_for: None,
            journal_len: 0,
            journal_offset: 0,
            stamps: Vec::new(),
        };
        let Ok(bytes) = std::fs::read(&self.snapshot_path) else {
            return empty;
        };
        let Ok(snapshot) = postcard::from_bytes::<Snapshot>(&bytes) else {
            return empty;
        };
        if snapshot.magic != CACHE_MAGIC {
            return empty;
        }
        let mut cached = Cached {
            generation: snapshot.generation,
            entries: snapshot.entries,
            snapshot_folder: snapshot.folder,
            valid_for: Some(snapshot.folder),
            journal_len: 0,
            journal_offset: 0,
            stamps: vec![snapshot.folder],
        };
        cached.apply_journal(&self.journal_path);
        cached
    }

    /// The snapshot's generation and the folder stamp the cache is valid for, without decoding
    /// the snapshot's entries; plus the journal length. For writers, which only append.
    fn cache_stamp(&self) -> Option<(u64, FolderStamp, usize)> {
        #[derive(Deserialize)]
        struct Header {
            magic: u32,
            generation: u64,
            folder: FolderStamp,
        }
        use std::io::{Read, Seek, SeekFrom};
        let mut head = [0u8; 64];
        let n = std::fs::File::open(&self.snapshot_path)
            .ok()?
            .read(&mut head)
            .ok()?;
        let (header, _) = postcard::take_from_bytes::<Header>(&head[..n]).ok()?;
        if header.magic != CACHE_MAGIC {
            return None;
        }
        // Only the last journal record matters; frames end with their length so it can be found.
        let mut journal = match std::fs::File::open(&self.journal_path) {
            Ok(file) => file,
            Err(_) => return Some((header.generation, header.folder, 0)),
        };
        let size = journal.metadata().ok()?.len();
        if size == 0 {
            return Some((header.generation, header.folder, 0));
        }
        let mut trailer = [0u8; 4];
        journal.seek(SeekFrom::Start(size.checked_sub(4)?)).ok()?;
        journal.read_exact(&mut trailer).ok()?;
        let frame_len = FRAME_OVERHEAD + u32::from_le_bytes(trailer) as u64;
        let mut frame = vec![0u8; usize::try_from(frame_len).ok()?];
        journal
            .seek(SeekFrom::Start(size.checked_sub(frame_len)?))
            .ok()?;
        journal.read_exact(&mut frame).ok()?;
        let (record, rest) = next_record(&frame)?;
        (rest.is_empty() && record.generation == header.generation).then_some((
            header.generation,
            record.folder_after,
            record.sequence as usize,
        ))
    }

    /// Records a write this process just made (under the lock), if the cache was valid before it.
    fn journal(&self, before: Option<FolderStamp>, path: &Path, record: &TaskRecord) {
        let (Some(before), Some((generation, valid_for, journal_len))) =
            (before, self.cache_stamp())
        else {
            return;
        };
        if before != valid_for {
            return; // someone else changed the folder: the next reader re-verifies anyway
        }
        let (Ok(meta), Ok(after)) = (std::fs::metadata(path), self.folder_stamp()) else {
            return;
        };
        let key = Key::Task(record.id);
        let fingerprint = Fingerprint::of(&meta);
        // Not racy: this process wrote exactly these bytes, and any later rename is journaled or moves the folder time.
        let entry = CacheEntry {
            fingerprint,
            racy: false,
            parsed: Ok(Box::new(TaskHead::from(record))),
        };
        if journal_len >= JOURNAL_LIMIT {
            let cached = self.read_cache();
            if cached.generation == generation && cached.valid_for == Some(before) {
                let mut entries = cached.entries;
                upsert(&mut entries, key, Some(entry));
                self.save_snapshot(after, &entries);
                return;
            }
        }
        let sequence = journal_len as u64 + 1;
        let record = JournalRecord {
            generation,
            sequence,
            key,
            entry: Some(entry),
            folder_after: after,
        };
        let Ok(body) = postcard::to_stdvec(&record) else {
            return;
        };
        let mut frame = Vec::with_capacity(body.len() + FRAME_OVERHEAD as usize);
        frame.extend_from_slice(&(body.len() as u32).to_le_bytes());
        frame.extend_from_slice(&fnv1a(&body).to_le_bytes());
        frame.extend_from_slice(&body);
        frame.extend_from_slice(&(body.len() as u32).to_le_bytes());
        let appended = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&self.journal_path)
            .and_then(|mut f| f.write_all(&frame));
        if appended.is_err() {
            let _ = std::fs::remove_file(&self.snapshot_path); // never leave a cache that looks valid but is not
        }
    }

    /// Replaces the snapshot and empties the journal. The caller holds the ledger lock.
    fn save_snapshot(&self, folder: FolderStamp, entries: &[(Key, CacheEntry)]) {
        #[derive(Serialize)]
        struct SnapshotRef<'a> {
            magic: u32,
            generation: u64,
            folder: FolderStamp,
            entries: &'a [(Key, CacheEntry)],
        }
        let generation = ulid::Ulid::new().random() as u64;
        let snapshot = SnapshotRef {
            magic: CACHE_MAGIC,
            generation,
            folder,
            entries,
        };
        let Ok(bytes) = postcard::to_stdvec(&snapshot) else {
            return;
        };
        let Some(dir) = self.snapshot_path.parent() else {
            return;
        };
        if std::fs::create_dir_all(dir).is_err() {
            return; // a read-only checkout still works, just without the speed-up
        }
        if atomic::write_with(&self.snapshot_path, &bytes, false).is_ok() {
            let _ = std::fs::write(&self.journal_path, b"");
        }
    }
}

/// Inserts, replaces (`Some`) or removes (`None`) the entry for `key` in a sorted vector. New tasks
/// have the newest ids, so inserts land at the end.
fn upsert(entries: &mut Vec<(Key, CacheEntry)>, key: Key, entry: Option<CacheEntry>) {
    match (entries.binary_search_by(|(k, _)| k.cmp(&key)), entry) {
        (Ok(i), Some(entry)) => entries[i].1 = entry,
        (Ok(i), None) => {
            entries.remove(i);
        }
        (Err(i), Some(entry)) => entries.insert(i, (key, entry)),
        (Err(_), None) => {}
    }
}

fn into_heads(entries: Vec<(Key, CacheEntry)>) -> Heads {
    let mut heads = Heads {
        tasks: Vec::with_capacity(entries.len()),
        problems: Vec::new(),
    };
    for (_, entry) in entries {
        match entry.parsed {
            Ok(head) => heads.tasks.push(*head),
            Err(message) => heads.problems.push(
                Error::new(crate::error::ErrorKind::Validation, message)
                    .hint("fix or restore the file (`git diff`, `git checkout -- <file>`), then run `abathur check`"),
            ),
        }
    }
    heads
}

/// Bytes a journal frame adds around its body: length, checksum, trailing length.
const FRAME_OVERHEAD: u64 = 16;

/// One framed journal record (`len`, FNV-1a checksum, postcard body, `len`) and the rest of the buffer.
fn next_record(buf: &[u8]) -> Option<(JournalRecord, &[u8])> {
    let len = u32::from_le_bytes(buf.get(..4)?.try_into().ok()?) as usize;
    let sum = u64::from_le_bytes(buf.get(4..12)?.try_into().ok()?);
    let body = buf.get(12..12 + len)?;
    let trailer = u32::from_le_bytes(buf.get(12 + len..16 + len)?.try_into().ok()?) as usize;
    if fnv1a(body) != sum || trailer != len {
        return None;
    }
    let record = postcard::from_bytes(body).ok()?;
    Some((record, &buf[16 + len..]))
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Reads a ledger file, refusing files too large to be a task.
pub fn read_limited(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(Error::malformed(
            path,
            format!(
                "file is {} bytes; a task file is at most {MAX_FILE_BYTES}",
                bytes.len()
            ),
        ));
    }
    String::from_utf8(bytes).map_err(|_| Error::malformed(path, "file is not UTF-8 text"))
}

/// Resolves a user-typed id or unique prefix against the known ids.
pub fn resolve<'a>(text: &str, ids: impl Iterator<Item = &'a Id>) -> Result<Id> {
    let prefix = IdPrefix::parse(text)?;
    let matches: Vec<&Id> = ids.filter(|id| prefix.matches(id)).take(6).collect();
    match matches.as_slice() {
        [one] => Ok(**one),
        [] => {
            Err(Error::not_found("task", prefix.as_str())
                .hint("`abathur task list` shows task ids"))
        }
        many => {
            let shown: Vec<String> = many.iter().take(5).map(|id| id.to_string()).collect();
            Err(Error::invalid(
                "task_id",
                format!(
                    "`{}` is ambiguous: it matches {}",
                    prefix.as_str(),
                    shown.join(", ")
                ),
            )
            .hint("type more characters of the id"))
        }
    }
}
