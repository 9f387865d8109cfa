//! Reading and writing task files, with a disposable cache that makes reading 10,000 of them cheap.
//!
//! The files are the truth; the cache under `.abathur/cache/` only saves parsing them. It has two parts:
//! a snapshot (`tasks.idx`: every file's stat fingerprint and parsed head) and a journal
//! (`tasks.log`) to which every abathur writer, while holding the ledger lock, appends the file it
//! just replaced. Each snapshot and journal record carries the tasks folder's modification time as it
//! was right after. A reader trusts the cache only when the folder's current stamp is one the cache
//! reached: any file created, renamed or removed by anything else (`git checkout`, `git merge`,
//! `sed -i`, most editors) changes it, and the reader then re-verifies every file by its fingerprint
//! and re-parses the changed ones. A missing, corrupt or foreign cache is simply rebuilt. One case a
//! folder stamp cannot show is a tool rewriting a file in place; `abathur task list --verify` and
//! `abathur check` stat every file. See docs/storage.md.
//!
//! The snapshot is one postcard file ([`snapshot`]); heads hold no strings of their own (agent
//! types and milestones are interned in a small symbol table).
//!
//! fs: the stat fingerprints of task files and the cache's own files; task files are read through `ledger::codec`.

use std::collections::HashMap;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

mod snapshot;

use crate::error::{Error, Result};
use crate::id::{Id, IdPrefix};
use crate::ledger::Ledger;
use crate::ledger::atomic;
use crate::ledger::codec::read_text as read_limited;
use crate::ledger::lock::LedgerLock;
use crate::queue::task::{Source, State, TaskRecord};
use crate::time::Timestamp;

/// A file changed this recently (ns) may change again within the same timestamp tick: re-read it.
const RACY_WINDOW_NS: i64 = 50_000_000;

/// Journal records kept before they are folded into a new snapshot.
const JOURNAL_LIMIT: usize = 512;

/// An interned string (agent type or milestone) of one load; see [`Symbols`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Sym(u32);

impl Sym {
    /// Its position in the table that interned it.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// The strings many tasks share, stored once.
#[derive(Clone, Debug, Default)]
pub struct Symbols {
    names: Vec<String>,
    index: HashMap<String, Sym>,
}

impl Symbols {
    /// A table holding `names`, in order.
    pub(super) fn from_names(names: Vec<String>) -> Symbols {
        Symbols { names, index: HashMap::new() }
    }

    /// The symbol for `name`, adding it if new.
    pub fn intern(&mut self, name: &str) -> Sym {
        if self.index.len() != self.names.len() {
            self.reindex();
        }
        if let Some(sym) = self.index.get(name) {
            return *sym;
        }
        let sym = Sym(self.names.len() as u32);
        self.names.push(name.to_string());
        self.index.insert(name.to_string(), sym);
        sym
    }

    /// The symbol for `name`, if any task uses it.
    pub fn find(&self, name: &str) -> Option<Sym> {
        self.names.iter().position(|n| n == name).map(|i| Sym(i as u32))
    }

    /// The interned strings, in symbol order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// How many distinct strings are interned.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether no string is interned.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The string behind `sym`.
    pub fn name(&self, sym: Sym) -> &str {
        &self.names[sym.0 as usize]
    }

    fn reindex(&mut self) {
        self.index = self.names.iter().enumerate().map(|(i, n)| (n.clone(), Sym(i as u32))).collect();
    }
}

/// The fields of a task the queue computes with: everything but the free text and data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskHead {
    /// Full id.
    pub id: Id,
    /// Who asked for it.
    pub source: Source,
    /// Agent definition to run it (see [`Symbols`]).
    pub agent_type: Sym,
    /// 0..=10.
    pub base_priority: u8,
    /// Tasks that must complete first.
    pub prerequisites: Vec<Id>,
    /// When it should be done.
    pub deadline: Option<Timestamp>,
    /// Expected effort.
    pub estimated_duration_seconds: Option<u64>,
    /// Governing milestone (see [`Symbols`]).
    pub milestone: Option<Sym>,
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

impl TaskHead {
    /// The head of `record`, interning its strings in `symbols`.
    pub fn of(record: &TaskRecord, symbols: &mut Symbols) -> TaskHead {
        TaskHead {
            id: record.id,
            source: record.source,
            agent_type: symbols.intern(&record.agent_type),
            base_priority: record.base_priority,
            prerequisites: record.prerequisites.clone(),
            deadline: record.deadline,
            estimated_duration_seconds: record.estimated_duration_seconds,
            milestone: record.milestone.as_deref().map(|m| symbols.intern(m)),
            max_retries: record.max_retries,
            submitted_at: record.submitted_at,
            state: record.state,
            retry_count: record.retry_count,
            not_before: record.not_before,
            lease_expires_at: record.lease.as_ref().map(|l| l.expires_at),
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
        let now_ns = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as i64).unwrap_or(0);
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

/// A file in the tasks folder that did not parse as a task, with the reason.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Problem {
    name: String,
    fingerprint: Fingerprint,
    message: String,
}

/// The parsed state of the tasks folder: heads sorted by id, their fingerprints beside them. Heads
/// and symbols are shared with the views built from them, and copied only when changed while shared.
#[derive(Clone, Debug, Default)]
struct Entries {
    symbols: Arc<Symbols>,
    heads: Arc<Vec<TaskHead>>,
    /// `(fingerprint, racy)` of `heads[i]`'s file; `None` when loaded without them (ordinary reads
    /// trust the folder stamp and never compare fingerprints).
    stamps: Option<Vec<(Fingerprint, bool)>>,
    problems: Vec<Problem>,
}

impl Entries {
    fn position(&self, id: &Id) -> std::result::Result<usize, usize> {
        self.heads.binary_search_by(|h| h.id.cmp(id))
    }

    /// Inserts or replaces a task. New tasks have the newest ids, so inserts land at the end.
    fn upsert(&mut self, head: TaskHead, stamp: (Fingerprint, bool)) {
        self.problems.retain(|p| p.name.strip_suffix(".toml") != Some(&head.id.to_string()));
        let position = self.position(&head.id);
        let heads = Arc::make_mut(&mut self.heads);
        match position {
            Ok(i) => {
                heads[i] = head;
                if let Some(stamps) = &mut self.stamps {
                    stamps[i] = stamp;
                }
            }
            Err(i) => {
                heads.insert(i, head);
                if let Some(stamps) = &mut self.stamps {
                    stamps.insert(i, stamp);
                }
            }
        }
    }
}

/// A journal record: one task file as an abathur writer just wrote it.
#[derive(Serialize, Deserialize)]
struct JournalRecord {
    generation: u64,
    /// 1 for the first record after a snapshot.
    sequence: u64,
    fingerprint: Fingerprint,
    /// The head, with its strings spelled out (journal records carry no symbol table).
    head: TaskHead,
    agent_type: String,
    milestone: Option<String>,
    folder_after: FolderStamp,
}

/// The cache as read back: entries and the folder stamps they are valid for.
#[derive(Clone, Debug)]
struct Cached {
    generation: u64,
    entries: Entries,
    snapshot_folder: FolderStamp,
    valid_for: Option<FolderStamp>,
    journal_len: usize,
    journal_offset: usize,
    /// Every folder stamp the snapshot and journal records were taken at.
    stamps: Vec<FolderStamp>,
}

impl Cached {
    fn empty() -> Cached {
        let folder = FolderStamp { ino: 0, mtime_ns: 0 };
        Cached {
            generation: 0,
            entries: Entries::default(),
            snapshot_folder: folder,
            valid_for: None,
            journal_len: 0,
            journal_offset: 0,
            stamps: Vec::new(),
        }
    }

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
            let mut head = record.head;
            let symbols = Arc::make_mut(&mut self.entries.symbols);
            head.agent_type = symbols.intern(&record.agent_type);
            head.milestone = record.milestone.as_deref().map(|m| symbols.intern(m));
            self.entries.upsert(head, (record.fingerprint, false));
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

/// Where in the journal a load stopped, so a writer can later learn what changed since.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalMark {
    generation: u64,
    offset: usize,
}

/// Every task's head, plus the files that could not be read.
#[derive(Debug, Default)]
pub struct Heads {
    /// The journal position these heads reflect, when they came from the cache.
    pub journal_mark: Option<JournalMark>,
    /// Parsed tasks, sorted by id (shared with the store's in-process cache).
    pub tasks: Arc<Vec<TaskHead>>,
    /// The agent types and milestones the heads refer to.
    pub symbols: Arc<Symbols>,
    /// One error per malformed or unexpected file; the rest still load.
    pub problems: Vec<Error>,
}

impl Heads {
    /// Puts `record`, just read from its file, in place of what the cache knew of it. Usually the
    /// cache already holds exactly this head, and nothing is copied.
    pub fn refresh(&mut self, record: &TaskRecord) {
        let position = self.tasks.binary_search_by(|h| h.id.cmp(&record.id));
        let known = |h: &TaskHead| {
            let mut probe = self.symbols.as_ref().clone();
            TaskHead::of(record, &mut probe) == *h && probe.len() == self.symbols.len()
        };
        if position.is_ok_and(|i| known(&self.tasks[i])) {
            return;
        }
        let head = TaskHead::of(record, Arc::make_mut(&mut self.symbols));
        let tasks = Arc::make_mut(&mut self.tasks);
        match position {
            Ok(i) => tasks[i] = head,
            Err(i) => tasks.insert(i, head),
        }
    }
}

impl Heads {
    /// The heads `task get` of `id` needs: the task, everything upstream of it (its status and
    /// dependency depth) and everything downstream (its dependents, downstream depth and blocking
    /// count). A view built from these gives exactly the figures a view of every task gives for
    /// `id`, at the cost of its neighbourhood rather than of the whole queue.
    pub fn around(&self, id: &Id) -> Heads {
        let find = |id: &Id| self.tasks.binary_search_by(|h| h.id.cmp(id)).ok();
        // (prerequisite, dependent) edges, sorted, to walk downstream.
        let mut edges: Vec<(Id, usize)> = Vec::new();
        for (i, head) in self.tasks.iter().enumerate() {
            edges.extend(head.prerequisites.iter().map(|p| (*p, i)));
        }
        edges.sort_unstable();
        let dependents = |id: Id| {
            let start = edges.partition_point(|(p, _)| *p < id);
            edges[start..].iter().take_while(move |(p, _)| *p == id).map(|&(_, i)| i)
        };
        let mut keep = vec![false; self.tasks.len()];
        // Downstream: the task and everything that waits on it.
        let mut stack: Vec<usize> = find(id).into_iter().chain(dependents(*id)).collect();
        while let Some(i) = stack.pop() {
            if !std::mem::replace(&mut keep[i], true) {
                stack.extend(dependents(self.tasks[i].id));
            }
        }
        // Upstream: everything the task waits on.
        let mut seen = vec![false; self.tasks.len()];
        let mut stack: Vec<usize> = find(id).into_iter().collect();
        while let Some(i) = stack.pop() {
            if !std::mem::replace(&mut seen[i], true) {
                keep[i] = true;
                stack.extend(self.tasks[i].prerequisites.iter().filter_map(find));
            }
        }
        let tasks = self.tasks.iter().zip(&keep).filter(|(_, k)| **k).map(|(h, _)| h.clone()).collect();
        Heads {
            journal_mark: self.journal_mark,
            tasks: Arc::new(tasks),
            symbols: Arc::clone(&self.symbols),
            problems: Vec::new(),
        }
    }
}

/// Task files of one ledger.
#[derive(Clone, Debug)]
pub struct TaskStore {
    ledger: Ledger,
    dir: PathBuf,
    snapshot_path: PathBuf,
    journal_path: PathBuf,
    lock_path: PathBuf,
    staging_dir: PathBuf,
    /// The last cache this process loaded, kept so a long-lived process (the MCP server) only reads
    /// what was journaled since.
    memo: Arc<Mutex<Option<Cached>>>,
}

impl TaskStore {
    /// The task store of `ledger`.
    pub fn new(ledger: &Ledger) -> TaskStore {
        let cache = ledger.cache_dir();
        TaskStore {
            ledger: ledger.clone(),
            dir: ledger.tasks_dir(),
            snapshot_path: cache.join("tasks.idx"),
            journal_path: cache.join("tasks.log"),
            lock_path: ledger.root().join("ledger.lock"),
            staging_dir: cache.join("tmp"),
            memo: Arc::new(Mutex::new(None)),
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
    ///
    /// A running task's file changes with every claim and heartbeat: those writes are volatile (not
    /// committed on their own; the task's next durable change or `abathur sync` records them). Every
    /// other change is committed when the lock is released.
    pub fn write(&self, record: &TaskRecord) -> Result<bool> {
        record.validate().map_err(|e| e.hint("this is a bug in abathur: the record was about to be written"))?;
        let before = self.folder_stamp().ok();
        let path = self.path(&record.id);
        let bytes = record.to_toml();
        let staging = Some(self.staging_dir.as_path());
        let changed = if record.state == State::Running {
            self.ledger.write_volatile(&path, bytes.as_bytes(), staging)?
        } else {
            self.ledger.write_staged(&path, bytes.as_bytes(), staging)?
        };
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
        let remembered = self.memo.lock().ok().and_then(|mut memo| memo.take());
        let mut cached = match remembered {
            Some(mut cached) => {
                cached.apply_journal(&self.journal_path);
                if cached.reached(folder) { cached } else { self.read_cache(verify_all) }
            }
            None => self.read_cache(verify_all),
        };
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
            let mark = JournalMark { generation: cached.generation, offset: cached.journal_offset };
            let mut heads = into_heads(&cached.entries);
            heads.journal_mark = Some(mark);
            if let Ok(mut memo) = self.memo.lock() {
                *memo = Some(cached);
            }
            return Ok(heads);
        }
        debug_note(|| {
            format!(
                "re-verifying {} (folder {folder:?}, cache valid for {:?}, {} journal records)",
                self.dir.display(),
                cached.valid_for,
                cached.journal_len
            )
        });
        if cached.entries.stamps.is_none() {
            cached = self.read_cache(true); // re-verification compares fingerprints
        }
        let entries = self.verify(cached.entries)?;
        if self.folder_stamp().ok() == Some(folder) {
            // Nothing moved while we listed: save a snapshot, unless a writer is busy (it journals).
            if let Ok(Some(_lock)) = LedgerLock::try_acquire(&self.lock_path) {
                self.save_snapshot(folder, &entries);
            }
        }
        Ok(into_heads(&entries))
    }

    /// Lists the folder, reusing cached entries whose fingerprint matches and parsing the rest.
    fn verify(&self, cached: Entries) -> Result<Entries> {
        let Entries { symbols: old_symbols, heads, stamps, problems } = cached;
        let heads = Arc::try_unwrap(heads).unwrap_or_else(|shared| (*shared).clone());
        // Without fingerprints nothing can be trusted: every file is parsed again.
        let mut known: HashMap<Id, (TaskHead, (Fingerprint, bool))> =
            heads.into_iter().zip(stamps.unwrap_or_default()).map(|(h, s)| (h.id, (h, s))).collect();
        let mut symbols = Symbols::default();
        let mut known_problems: HashMap<String, Problem> = problems.into_iter().map(|p| (p.name.clone(), p)).collect();
        let mut fresh = Entries::default();
        let mut found: Vec<(TaskHead, (Fingerprint, bool))> = Vec::with_capacity(known.len() + 16);
        let listing = std::fs::read_dir(&self.dir).map_err(|e| Error::io(&self.dir, e))?;
        for dirent in listing {
            let dirent = dirent.map_err(|e| Error::io(&self.dir, e))?;
            let raw_name = dirent.file_name();
            let Some(name) = raw_name.to_str() else {
                let shown = raw_name.to_string_lossy().to_string();
                let message = format!("{}: file name is not UTF-8", self.dir.join(&shown).display());
                let fingerprint = Fingerprint { len: 0, ino: 0, mtime_ns: 0, ctime_ns: 0 };
                fresh.problems.push(Problem { name: shown, fingerprint, message });
                continue;
            };
            if name.starts_with('.') {
                continue; // .gitkeep
            }
            let Ok(meta) = dirent.metadata() else { continue }; // removed while listing
            let fingerprint = Fingerprint::of(&meta);
            let id = name.strip_suffix(".toml").and_then(Id::from_file_stem);
            if let Some(id) = id
                && let Some((mut head, (old, racy))) = known.remove(&id)
                && old == fingerprint
                && !racy
            {
                // Re-intern into the fresh table so it holds only strings still in use.
                head.agent_type = symbols.intern(old_symbols.name(head.agent_type));
                head.milestone = head.milestone.map(|m| symbols.intern(old_symbols.name(m)));
                found.push((head, (fingerprint, false)));
                continue;
            }
            if let Some(p) = known_problems.remove(name)
                && p.fingerprint == fingerprint
                && !fingerprint.is_racy()
            {
                fresh.problems.push(p);
                continue;
            }
            match self.parse_entry(name, &meta) {
                Ok(record) => {
                    let head = TaskHead::of(&record, &mut symbols);
                    found.push((head, (fingerprint, fingerprint.is_racy())));
                }
                Err(e) => fresh.problems.push(Problem { name: name.to_string(), fingerprint, message: e.message }),
            }
        }
        found.sort_by_key(|(head, _)| head.id);
        let (heads, stamps): (Vec<TaskHead>, _) = found.into_iter().unzip();
        fresh.heads = Arc::new(heads);
        fresh.stamps = Some(stamps);
        fresh.symbols = Arc::new(symbols);
        fresh.problems.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(fresh)
    }

    fn parse_entry(&self, name: &str, meta: &std::fs::Metadata) -> Result<TaskRecord> {
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
        TaskRecord::from_toml(&text, &path)
    }

    fn folder_stamp(&self) -> Result<FolderStamp> {
        let meta = std::fs::metadata(&self.dir).map_err(|e| Error::io(&self.dir, e))?;
        Ok(FolderStamp { ino: meta.ino(), mtime_ns: meta.mtime() * 1_000_000_000 + meta.mtime_nsec() })
    }

    /// Snapshot (with the fingerprints if `with_stamps`) plus the journal records of the same
    /// generation, up to the first torn one.
    fn read_cache(&self, with_stamps: bool) -> Cached {
        let Some((header, entries)) = snapshot::decode(&self.snapshot_path, with_stamps) else {
            return Cached::empty();
        };
        let mut cached = Cached {
            generation: header.generation,
            entries,
            snapshot_folder: header.folder,
            valid_for: Some(header.folder),
            journal_len: 0,
            journal_offset: 0,
            stamps: vec![header.folder],
        };
        cached.apply_journal(&self.journal_path);
        cached
    }

    /// The tasks abathur writers changed after `mark`, with their new heads' states. Complete only
    /// while the caller holds the ledger lock; `None` when the journal was compacted since.
    pub fn changed_since(&self, mark: JournalMark) -> Option<HashMap<Id, State>> {
        Some(self.heads_since(mark)?.into_iter().map(|(id, head)| (id, head.state)).collect())
    }

    /// The heads journaled since `mark`, the latest of each task; `None` if the journal moved to
    /// another generation or ends torn.
    fn heads_since(&self, mark: JournalMark) -> Option<HashMap<Id, TaskHead>> {
        use std::io::{Read, Seek, SeekFrom};
        let mut journal = std::fs::File::open(&self.journal_path).ok()?;
        journal.seek(SeekFrom::Start(mark.offset as u64)).ok()?;
        let mut tail = Vec::new();
        journal.read_to_end(&mut tail).ok()?;
        let mut changed = HashMap::new();
        let mut rest = tail.as_slice();
        while let Some((record, next)) = next_record(rest) {
            if record.generation != mark.generation {
                return None;
            }
            changed.insert(record.head.id, record.head);
            rest = next;
        }
        rest.is_empty().then_some(changed)
    }

    /// The snapshot's generation and the folder stamp the cache is valid for, without decoding
    /// the snapshot's entries; plus the journal length. For writers, which only append.
    fn cache_stamp(&self) -> Option<(u64, FolderStamp, usize)> {
        use std::io::{Read, Seek, SeekFrom};
        let header = snapshot::read_header(&self.snapshot_path)?;
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
        journal.seek(SeekFrom::Start(size.checked_sub(frame_len)?)).ok()?;
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
        let (Some(before), Some((generation, valid_for, journal_len))) = (before, self.cache_stamp()) else { return };
        if before != valid_for {
            return; // someone else changed the folder: the next reader re-verifies anyway
        }
        let (Ok(meta), Ok(after)) = (std::fs::metadata(path), self.folder_stamp()) else { return };
        // Not racy: this process wrote exactly these bytes, and any later rename is journaled or
        // moves the folder stamp.
        let fingerprint = Fingerprint::of(&meta);
        if journal_len >= JOURNAL_LIMIT {
            let cached = self.read_cache(true);
            if cached.generation == generation && cached.valid_for == Some(before) {
                let mut entries = cached.entries;
                let head = TaskHead::of(record, Arc::make_mut(&mut entries.symbols));
                entries.upsert(head, (fingerprint, false));
                self.save_snapshot(after, &entries);
                return;
            }
        }
        let mut scratch = Symbols::default();
        let journal_record = JournalRecord {
            generation,
            sequence: journal_len as u64 + 1,
            fingerprint,
            head: TaskHead::of(record, &mut scratch),
            agent_type: record.agent_type.clone(),
            milestone: record.milestone.clone(),
            folder_after: after,
        };
        let Ok(body) = postcard::to_stdvec(&journal_record) else { return };
        let mut frame = Vec::with_capacity(body.len() + FRAME_OVERHEAD as usize);
        frame.extend_from_slice(&(body.len() as u32).to_le_bytes());
        frame.extend_from_slice(&u64::from(crc32fast::hash(&body)).to_le_bytes());
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
    fn save_snapshot(&self, folder: FolderStamp, entries: &Entries) {
        let generation = ulid::Ulid::new().random() as u64;
        let Some(bytes) = snapshot::encode(snapshot::Header { generation, folder }, entries) else { return };
        let Some(dir) = self.snapshot_path.parent() else { return };
        if std::fs::create_dir_all(dir).is_err() {
            return; // a read-only checkout still works, just without the speed-up
        }
        if atomic::write_with(&self.snapshot_path, &bytes, false).is_ok() {
            let _ = std::fs::write(&self.journal_path, b"");
        }
    }
}

/// With `ABATHUR_DEBUG_CACHE` set, says on stderr how the cache served a command.
pub fn debug_note(message: impl FnOnce() -> String) {
    if std::env::var_os("ABATHUR_DEBUG_CACHE").is_some() {
        eprintln!("abathur: cache: {}", message());
    }
}

fn into_heads(entries: &Entries) -> Heads {
    let problems = entries
        .problems
        .iter()
        .map(|p| {
            Error::new(crate::error::ErrorKind::Validation, p.message.clone())
                .hint("fix or restore the file (`git diff`, `git checkout -- <file>`), then run `abathur check`")
        })
        .collect();
    Heads { journal_mark: None, tasks: Arc::clone(&entries.heads), symbols: Arc::clone(&entries.symbols), problems }
}

/// Bytes a journal frame adds around its body: length, checksum, trailing length.
const FRAME_OVERHEAD: u64 = 16;

/// One framed journal record (`len`, CRC-32 checksum, postcard body, `len`) and the rest of the buffer.
fn next_record(buf: &[u8]) -> Option<(JournalRecord, &[u8])> {
    let len = u32::from_le_bytes(buf.get(..4)?.try_into().ok()?) as usize;
    let sum = u64::from_le_bytes(buf.get(4..12)?.try_into().ok()?);
    let body = buf.get(12..12 + len)?;
    let trailer = u32::from_le_bytes(buf.get(12 + len..16 + len)?.try_into().ok()?) as usize;
    if u64::from(crc32fast::hash(body)) != sum || trailer != len {
        return None;
    }
    let record = postcard::from_bytes(body).ok()?;
    Some((record, &buf[16 + len..]))
}

/// Resolves a user-typed id or unique prefix against the known ids.
pub fn resolve<'a>(text: &str, ids: impl Iterator<Item = &'a Id>) -> Result<Id> {
    let prefix = IdPrefix::parse(text)?;
    let matches: Vec<&Id> = ids.filter(|id| prefix.matches(id)).take(6).collect();
    match matches.as_slice() {
        [one] => Ok(**one),
        [] => Err(Error::not_found("task", prefix.as_str()).hint("`abathur task list` shows task ids")),
        many => {
            let shown: Vec<String> = many.iter().take(5).map(|id| id.to_string()).collect();
            Err(Error::invalid(
                "task_id",
                format!("`{}` is ambiguous: it matches {}", prefix.as_str(), shown.join(", ")),
            )
            .hint("type more characters of the id"))
        }
    }
}
