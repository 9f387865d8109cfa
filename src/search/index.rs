//! The derived search index under `.abathur/cache/search/`: a tantivy index of chunks, a usearch index
//! of their vectors, and the state that says which file versions they hold.
//!
//! Layout: `CURRENT` names the live generation folder (`g-<ulid>/`), which holds `tantivy/`,
//! `vectors.usearch` and `state.bin`. Catching up changes the live generation in place under the
//! index lock: tantivy readers keep the last commit, and the vector file is replaced by rename, so a
//! search running meanwhile answers from the last complete index. A rebuild fills a new generation
//! and switches `CURRENT` at the end. Vectors are keyed by a hash of the embedded text, so an
//! unchanged chunk is never embedded twice — not even across a rebuild, which salvages the old
//! generation's vectors. Anything unreadable (a crash, another version's format) is rebuilt, never
//! trusted and never a crash.
//!
//! Damage is found before any library reads a file: `state.bin` carries the length and xxh3 hash of
//! every other file of its generation (the tantivy files and the vectors) and hashes of its own two
//! parts, and opening a generation checks them all. A truncated, overwritten or bit-flipped file is
//! therefore a generation that does not open, which the next search or `abathur index` rebuilds;
//! tantivy and usearch never see bytes abathur did not write (usearch aborts the process on some).
//!
//! fs: the index's own files under `cache/search/` (tantivy, vectors, state), derived and never committed.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions, Value,
};
use tantivy::{TantivyDocument, Term, doc};

use crate::error::{Error, ErrorKind, Result};
use crate::ledger::Ledger;
use crate::ledger::atomic;
use crate::ledger::lock::LedgerLock;
use crate::search::chunk::{self, Chunk};
use crate::search::source::{self, DocState, Kind, SourceDoc, Stamp};

/// Bumped whenever the layout or the chunking changes; an index of another format is rebuilt (its
/// vectors are salvaged only from this format, whose state proves them intact).
pub const FORMAT_VERSION: u32 = 5;
const CURRENT: &str = "CURRENT";
const STATE: &str = "state.bin";
/// `state.bin`'s header: format (u32), summary length (u32), summary hash (u64).
const STATE_HEAD: usize = 16;
const VECTORS: &str = "vectors.usearch";
/// Tantivy writer memory: enough for a rebuild of 100,000 chunks in one segment batch.
const WRITER_BYTES: usize = 64 * 1024 * 1024;

/// Makes vectors for chunk texts: the real model, or (benchmarks only) synthetic vectors.
pub trait VectorSource {
    /// Identity of the vectors; vectors of another identity are never mixed in.
    fn vector_id(&self) -> String;
    /// One unit vector per text.
    fn embed(&mut self, texts: &[&str]) -> Result<Vec<Vec<f32>>>;
}

impl VectorSource for crate::search::model::Embedder {
    fn vector_id(&self) -> String {
        self.installed().vector_id()
    }
    fn embed(&mut self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        crate::search::model::Embedder::embed(self, texts)
    }
}

/// The tantivy fields of a chunk.
#[derive(Clone, Copy, Debug)]
pub struct Fields {
    /// File path relative to `.abathur/`.
    pub path: Field,
    /// memory, decision, report or task.
    pub kind: Field,
    /// Chunk number within the file.
    pub chunk: Field,
    /// Hash of the embedded text: the vector key.
    pub hash: Field,
    /// Document title.
    pub title: Field,
    /// Heading path of the chunk.
    pub heading: Field,
    /// Chunk text.
    pub body: Field,
    /// Memory namespace, whole.
    pub namespace: Field,
    /// Every prefix of the namespace, for prefix filters.
    pub ns_prefix: Field,
    /// Milestone.
    pub milestone: Field,
    /// Memory type.
    pub memory_type: Field,
    /// Task id.
    pub task_id: Field,
    /// Expiry in milliseconds, 0 for never.
    pub expires: Field,
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let text = TextOptions::default()
        .set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer("en_stem")
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        )
        .set_stored();
    let fields = Fields {
        path: b.add_text_field("path", STRING | STORED),
        kind: b.add_text_field("kind", STRING | STORED),
        chunk: b.add_u64_field("chunk", STORED),
        hash: b.add_u64_field("hash", INDEXED | STORED | FAST),
        title: b.add_text_field("title", text.clone()),
        heading: b.add_text_field("heading", text.clone()),
        body: b.add_text_field("body", text),
        namespace: b.add_text_field("namespace", STRING | STORED),
        ns_prefix: b.add_text_field("ns_prefix", STRING),
        milestone: b.add_text_field("milestone", STRING | STORED),
        memory_type: b.add_text_field("memory_type", STRING | STORED),
        task_id: b.add_text_field("task_id", STRING | STORED),
        expires: b.add_i64_field("expires", STORED | FAST),
    };
    (b.build(), fields)
}

/// The generation's bookkeeping: which file versions are indexed, which vectors exist.
///
/// `state.bin` holds it in two parts: `format` (u32, little-endian), the summary's length (u32),
/// the [`Summary`] and then the [`Body`], each postcard. A search of an index that is up to date
/// needs only the summary; the body (a record per file and a key per vector: about 7 MB and 50 ms
/// of decoding at 100,000 chunks) is read when something changed. Format 3 wrote it whole, as one
/// postcard value; such a file is still read to salvage its vectors.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct State {
    format: u32,
    vector_id: Option<String>,
    docs: BTreeMap<String, DocState>,
    embedded: Vec<u64>,
    /// Modification times of the folders scanned, for [`source::scan`]'s shortcut.
    dirs: BTreeMap<String, i64>,
    /// Chunks in all, and chunks without a vector, as of the last save.
    chunks_total: usize,
    chunks_missing: usize,
}

/// The part of the state an up-to-date search reads. `hand_written` repeats the decision and
/// report entries of `docs`: those files are checked one by one (see [`source::unchanged`]).
#[derive(Debug, Default, Serialize, Deserialize)]
struct Summary {
    vector_id: Option<String>,
    dirs: BTreeMap<String, i64>,
    chunks_total: usize,
    chunks_missing: usize,
    hand_written: BTreeMap<String, DocState>,
    /// Every other file of the generation, relative to it: length and xxh3 hash.
    files: Vec<(String, u64, u64)>,
    /// The xxh3 hash of the body that follows.
    body_hash: u64,
}

/// The rest of the state, written after the summary.
#[derive(Serialize)]
struct Body<'a> {
    docs: &'a BTreeMap<String, DocState>,
    embedded: &'a [u64],
}

/// [`Body`] as read back. A map is encoded as its length and its pairs in key order, exactly as a
/// sequence of pairs, so it is read as one and built in bulk, not key by key.
#[derive(Deserialize)]
struct OwnedBody {
    docs: Vec<(String, DocState)>,
    embedded: Vec<u64>,
}

/// Which paths are written by hand and so checked file by file.
fn is_hand_written(path: &str) -> bool {
    path.starts_with("decisions/") || path.starts_with("gates/")
}

impl State {
    /// The file: format, summary length, summary hash, summary, body.
    fn encode(&self, files: Vec<(String, u64, u64)>) -> Vec<u8> {
        let body =
            postcard::to_allocvec(&Body { docs: &self.docs, embedded: &self.embedded }).expect("state serialises");
        let summary = Summary {
            files,
            body_hash: xxhash_rust::xxh3::xxh3_64(&body),
            vector_id: self.vector_id.clone(),
            dirs: self.dirs.clone(),
            chunks_total: self.chunks_total,
            chunks_missing: self.chunks_missing,
            hand_written: self
                .docs
                .iter()
                .filter(|(path, _)| is_hand_written(path))
                .map(|(path, doc)| (path.clone(), doc.clone()))
                .collect(),
        };
        let summary = postcard::to_allocvec(&summary).expect("state serialises");
        let mut bytes = Vec::with_capacity(STATE_HEAD + summary.len() + body.len());
        bytes.extend_from_slice(&self.format.to_le_bytes());
        bytes.extend_from_slice(&(summary.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&xxhash_rust::xxh3::xxh3_64(&summary).to_le_bytes());
        bytes.extend_from_slice(&summary);
        bytes.extend_from_slice(&body);
        bytes
    }
}

/// An opened `state.bin`: the summary decoded, the body left in the file until it is needed. The
/// file stays open, so the body read later is the one written with this summary even when another
/// process has replaced the file since.
struct StateFile {
    path: PathBuf,
    summary: Summary,
    file: std::fs::File,
    body_at: u64,
}

impl StateFile {
    fn open(path: &Path) -> Result<StateFile> {
        use std::io::Read;
        let corrupt = |what: &str| Error::new(ErrorKind::Internal, format!("search state {}: {what}", path.display()));
        let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        let mut head = [0u8; STATE_HEAD];
        file.read_exact(&mut head).map_err(|_| corrupt("too short"))?;
        let format = u32::from_le_bytes(head[..4].try_into().expect("four bytes"));
        if format != FORMAT_VERSION {
            return Err(corrupt(&format!("format {format} is not {FORMAT_VERSION}")));
        }
        let summary_len = u32::from_le_bytes(head[4..8].try_into().expect("four bytes")) as u64;
        let summary_hash = u64::from_le_bytes(head[8..].try_into().expect("eight bytes"));
        let file_len = file.metadata().map_err(|e| Error::io(path, e))?.len();
        let body_at = STATE_HEAD as u64 + summary_len;
        if body_at > file_len {
            return Err(corrupt("the summary runs past the end"));
        }
        let mut bytes = vec![0u8; summary_len as usize];
        file.read_exact(&mut bytes).map_err(|e| Error::io(path, e))?;
        if xxhash_rust::xxh3::xxh3_64(&bytes) != summary_hash {
            return Err(corrupt("the summary is damaged"));
        }
        let summary = postcard::from_bytes(&bytes).map_err(|e| corrupt(&e.to_string()))?;
        Ok(StateFile { path: path.to_path_buf(), summary, file, body_at })
    }

    /// The whole state: the summary and the body.
    fn read_all(self) -> Result<State> {
        use std::os::unix::fs::FileExt;
        let path = &self.path;
        let file_len = self.file.metadata().map_err(|e| Error::io(path, e))?.len();
        let mut bytes = vec![0u8; file_len.saturating_sub(self.body_at) as usize];
        self.file.read_exact_at(&mut bytes, self.body_at).map_err(|e| Error::io(path, e))?;
        if xxhash_rust::xxh3::xxh3_64(&bytes) != self.summary.body_hash {
            return Err(Error::new(
                ErrorKind::Internal,
                format!("search state {}: the body is damaged", path.display()),
            ));
        }
        let body: OwnedBody = postcard::from_bytes(&bytes)
            .map_err(|e| Error::new(ErrorKind::Internal, format!("search state {}: {e}", path.display())))?;
        let Summary { vector_id, dirs, chunks_total, chunks_missing, .. } = self.summary;
        Ok(State {
            format: FORMAT_VERSION,
            vector_id,
            docs: body.docs.into_iter().collect(),
            embedded: body.embedded,
            dirs,
            chunks_total,
            chunks_missing,
        })
    }
}

/// The vector identity and keys recorded in the generation `dir`, when its state and its vector
/// file are intact.
fn recorded_vectors(dir: &Path) -> Option<(Option<String>, Vec<u64>)> {
    let file = StateFile::open(&dir.join(STATE)).ok()?;
    let vectors: Vec<_> = file.summary.files.iter().filter(|(rel, ..)| rel == VECTORS).cloned().collect();
    if vectors.is_empty() || verify_files(dir, &vectors).is_err() {
        return None;
    }
    let state = file.read_all().ok()?;
    Some((state.vector_id, state.embedded))
}

/// One generation of the index, opened.
pub struct Generation {
    dir: PathBuf,
    index: tantivy::Index,
    /// Its fields.
    pub fields: Fields,
    /// The state; until [`Generation::load_all`], only the summary's part of it (`docs` and
    /// `embedded` empty, the decisions' and reports' entries in `unread_body`'s summary).
    state: State,
    /// The state file with its body not read yet.
    unread_body: Option<StateFile>,
}

/// What a catch-up did.
#[derive(Clone, Debug, Default, Serialize, schemars::JsonSchema)]
pub struct CatchUpReport {
    /// Files (re)indexed.
    pub files_indexed: usize,
    /// Files dropped from the index.
    pub files_removed: usize,
    /// Chunks written to the text index.
    pub chunks_indexed: usize,
    /// Chunks embedded by the model.
    pub chunks_embedded: usize,
    /// Chunks still without a vector (no model, or over the search-time budget).
    pub chunks_without_vectors: usize,
    /// Total chunks in the index.
    pub chunks_total: usize,
    /// Seconds spent embedding (the model's own time).
    pub embed_seconds: f64,
    /// Seconds spent in all.
    pub total_seconds: f64,
    /// Files that could not be read, with the reason (they are retried next time).
    pub problems: Vec<String>,
    /// Whether the index was rebuilt from scratch.
    pub rebuilt: bool,
}

/// The index folder and its lock.
#[derive(Clone, Debug)]
pub struct IndexDir {
    root: PathBuf,
}

impl IndexDir {
    /// The search index of `ledger`.
    pub fn of(ledger: &Ledger) -> IndexDir {
        IndexDir { root: ledger.cache_dir().join("search") }
    }

    /// The folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Takes the index lock, waiting at most `wait`; `None` when another process keeps it.
    pub fn lock(&self, wait: Duration) -> Result<Option<LedgerLock>> {
        std::fs::create_dir_all(&self.root).map_err(|e| Error::io(&self.root, e))?;
        let path = self.root.join("index.lock");
        let deadline = std::time::Instant::now() + wait;
        loop {
            if let Some(lock) = LedgerLock::try_acquire(&path)? {
                return Ok(Some(lock));
            }
            if std::time::Instant::now() >= deadline {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Identity of the live index version: generation name and state file size and time. Equal stamps
    /// mean an index opened earlier is still current.
    pub fn current_stamp(&self) -> Option<String> {
        let name = std::fs::read_to_string(self.root.join(CURRENT)).ok()?;
        let meta = std::fs::metadata(self.root.join(name.trim()).join(STATE)).ok()?;
        use std::os::unix::fs::MetadataExt;
        Some(format!("{} {} {} {}", name.trim(), meta.len(), meta.mtime_nsec(), meta.mtime()))
    }

    /// Opens the live generation; an error means it is missing or unreadable (rebuild it).
    pub fn open_current(&self) -> Result<Generation> {
        let name = std::fs::read_to_string(self.root.join(CURRENT))
            .map_err(|_| Error::new(ErrorKind::NotFound, "no search index yet"))?;
        let name = name.trim();
        if !name.starts_with("g-") || name.contains('/') {
            return Err(Error::new(ErrorKind::Internal, "the search index pointer is corrupt"));
        }
        Generation::open(&self.root.join(name))
    }

    /// Opens the live generation, rebuilding it when it is missing, corrupt or of another format.
    /// Call with the lock held.
    pub fn open_or_rebuild(&self, _lock: &LedgerLock) -> Result<(Generation, bool)> {
        match self.open_current().and_then(|mut g| g.load_all().map(|()| g)) {
            Ok(generation) => Ok((generation, false)),
            Err(_) => Ok((self.create_generation()?, true)),
        }
    }

    /// Creates an empty generation, salvaging the vectors of the previous one, and makes it live.
    /// Call with the lock held.
    pub fn create_generation(&self) -> Result<Generation> {
        let dir = self.root.join(format!("g-{}", crate::id::Id::generate()));
        std::fs::create_dir_all(dir.join("tantivy")).map_err(|e| Error::io(&dir, e))?;
        let (schema, fields) = schema();
        let index = tantivy::Index::create_in_dir(dir.join("tantivy"), schema).map_err(|e| tantivy_error(&dir, e))?;
        let mut state = State { format: FORMAT_VERSION, ..State::default() };
        if let Some((old_vectors, vector_id, keys)) = self.salvage_vectors() {
            std::fs::copy(&old_vectors, dir.join(VECTORS)).map_err(|e| Error::io(&old_vectors, e))?;
            let vectors = load_vectors(&dir.join(VECTORS), false)?;
            state.vector_id = Some(vector_id);
            state.embedded = keys_present(&vectors, keys);
        }
        let mut generation = Generation { dir, index, fields, state, unread_body: None };
        generation.save_state()?;
        let name = generation.dir.file_name().expect("generations have names").to_string_lossy().into_owned();
        atomic::write_with(&self.root.join(CURRENT), name.as_bytes(), false)?;
        self.remove_other_generations(&name);
        Ok(generation)
    }

    /// The previous generation's vector file, identity and recorded keys, if it is readable.
    fn salvage_vectors(&self) -> Option<(PathBuf, String, Vec<u64>)> {
        let name = std::fs::read_to_string(self.root.join(CURRENT)).ok()?;
        let dir = self.root.join(name.trim());
        let (vector_id, keys) = recorded_vectors(&dir)?;
        let path = dir.join(VECTORS);
        load_vectors(&path, true).is_ok().then_some((path, vector_id?, keys))
    }

    fn remove_other_generations(&self, keep: &str) {
        let Ok(listing) = std::fs::read_dir(&self.root) else { return };
        for item in listing.flatten() {
            let name = item.file_name().to_string_lossy().into_owned();
            if name.starts_with("g-") && name != keep {
                // Readers that still have files open keep reading them (they are unlinked, not gone).
                let _ = std::fs::remove_dir_all(item.path());
            }
        }
    }
}

/// Every file of the generation in `dir` but the state and lock files, with its length and hash.
fn manifest(dir: &Path) -> Result<Vec<(String, u64, u64)>> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        for entry in std::fs::read_dir(&folder).map_err(|e| Error::io(&folder, e))? {
            let entry = entry.map_err(|e| Error::io(&folder, e))?;
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.file_type().map_err(|e| Error::io(&path, e))?.is_dir() {
                stack.push(path);
            } else if name != STATE
                && name != VERIFIED
                && !name.ends_with(".lock")
                && !name.starts_with(atomic::TEMP_PREFIX)
            {
                let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
                let rel = path.strip_prefix(dir).expect("under the generation").to_string_lossy().into_owned();
                files.push((rel, bytes.len() as u64, xxhash_rust::xxh3::xxh3_64(&bytes)));
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Checks that every file `files` lists is in `dir` as written: same length, same hash.
///
/// Hashing a large index on every cold search would cost more than the search, so a file is hashed
/// only when its status (length, times, inode) differs from the one recorded in `verified` when it
/// last hashed right. Any write to a file changes its change time, which no tool can set back; as
/// git does for its index, a file changed less than a second before that record was made is hashed
/// anyway, since a write in the same clock tick would leave its times unchanged.
fn verify_files(dir: &Path, files: &[(String, u64, u64)]) -> Result<()> {
    let known = Verified::read(dir);
    let mut seen = Vec::with_capacity(files.len());
    let mut hashed = false;
    for (rel, len, hash) in files {
        let path = dir.join(rel);
        let damaged = || Error::new(ErrorKind::Internal, format!("search index {}: damaged", path.display()));
        let meta = std::fs::metadata(&path).map_err(|_| damaged())?;
        if meta.len() != *len {
            return Err(damaged());
        }
        let status = FileStatus::of(&meta);
        if !known.vouches(rel, *len, *hash, &status) {
            let bytes = std::fs::read(&path).map_err(|_| damaged())?;
            if xxhash_rust::xxh3::xxh3_64(&bytes) != *hash {
                return Err(damaged());
            }
            hashed = true;
        }
        seen.push(format!("{len} {hash} {} {} {} {} {rel}", status.mtime_ns, status.ctime_ns, status.ino, status.dev));
    }
    if hashed {
        // Only a cache of work done: failing to write it costs the next search a hash, nothing more.
        let _ = atomic::write_with(&dir.join(VERIFIED), (seen.join("\n") + "\n").as_bytes(), false);
    }
    Ok(())
}

/// Where [`verify_files`] records the status of the files it hashed right.
const VERIFIED: &str = "verified";

/// The status of a file that any write to it changes.
#[derive(PartialEq)]
struct FileStatus {
    mtime_ns: i128,
    ctime_ns: i128,
    ino: u64,
    dev: u64,
}

impl FileStatus {
    fn of(meta: &std::fs::Metadata) -> FileStatus {
        use std::os::unix::fs::MetadataExt;
        FileStatus {
            mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
            ctime_ns: i128::from(meta.ctime()) * 1_000_000_000 + i128::from(meta.ctime_nsec()),
            ino: meta.ino(),
            dev: meta.dev(),
        }
    }
}

/// The `verified` record of a generation: what was hashed right, with its status then, and when.
struct Verified {
    files: HashMap<String, (u64, u64, FileStatus)>,
    written_ns: i128,
}

impl Verified {
    /// The record, or an empty one when it is missing or unreadable (every file is then hashed).
    fn read(dir: &Path) -> Verified {
        let path = dir.join(VERIFIED);
        let empty = Verified { files: HashMap::new(), written_ns: 0 };
        let (Ok(text), Ok(meta)) = (std::fs::read_to_string(&path), std::fs::metadata(&path)) else { return empty };
        let mut files = HashMap::new();
        for line in text.lines() {
            let mut parts = line.splitn(7, ' ');
            let mut number = || parts.next().and_then(|p| p.parse::<i128>().ok());
            let (Some(len), Some(hash), Some(mtime_ns), Some(ctime_ns), Some(ino), Some(dev)) =
                (number(), number(), number(), number(), number(), number())
            else {
                return empty;
            };
            let Some(rel) = parts.next() else { return empty };
            let status = FileStatus { mtime_ns, ctime_ns, ino: ino as u64, dev: dev as u64 };
            files.insert(rel.to_string(), (len as u64, hash as u64, status));
        }
        Verified { files, written_ns: FileStatus::of(&meta).mtime_ns }
    }

    fn vouches(&self, rel: &str, len: u64, hash: u64, status: &FileStatus) -> bool {
        const RACY_NS: i128 = 1_000_000_000;
        self.files.get(rel).is_some_and(|(l, h, recorded)| {
            *l == len && *h == hash && recorded == status && status.ctime_ns + RACY_NS < self.written_ns
        })
    }
}

/// The recorded `keys` that `vectors` really holds, sorted.
fn keys_present(vectors: &usearch::Index, keys: Vec<u64>) -> Vec<u64> {
    let mut keys: Vec<u64> = keys.into_iter().filter(|k| vectors.contains(*k)).collect();
    keys.sort_unstable();
    keys
}

fn tantivy_error(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::Internal, format!("search index {}: {e}", path.display()))
        .hint("run `abathur index --rebuild` (the index is derived; nothing is lost)")
}

fn usearch_error(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::Internal, format!("vector index {}: {e}", path.display()))
        .hint("run `abathur index --rebuild` (the index is derived; nothing is lost)")
}

/// Opens a vector file: a read-only memory map for searching, or a full load for changing it.
pub fn load_vectors(path: &Path, view: bool) -> Result<usearch::Index> {
    let text = path.to_str().ok_or_else(|| usearch_error(path, "path is not UTF-8"))?;
    let index = if view { usearch::Index::restore_view(text) } else { usearch::Index::restore(text) };
    index.map_err(|e| usearch_error(path, e))
}

fn new_vectors(dimensions: usize) -> Result<usearch::Index> {
    let options = usearch::IndexOptions {
        dimensions,
        metric: usearch::MetricKind::Cos,
        quantization: usearch::ScalarKind::F32,
        connectivity: 0,
        expansion_add: 0,
        expansion_search: 0,
        multi: false,
    };
    usearch::Index::new(&options).map_err(|e| usearch_error(Path::new(VECTORS), e))
}

impl Generation {
    fn open(dir: &Path) -> Result<Generation> {
        let file = StateFile::open(&dir.join(STATE))?;
        let summary = &file.summary;
        verify_files(dir, &summary.files)?;
        let state = State {
            format: FORMAT_VERSION,
            vector_id: summary.vector_id.clone(),
            dirs: summary.dirs.clone(),
            chunks_total: summary.chunks_total,
            chunks_missing: summary.chunks_missing,
            ..State::default()
        };
        let index = tantivy::Index::open_in_dir(dir.join("tantivy")).map_err(|e| tantivy_error(dir, e))?;
        let (_, fields) = schema();
        if index.schema().get_field("expires").ok() != Some(fields.expires) {
            return Err(Error::new(ErrorKind::Internal, "search index schema differs"));
        }
        Ok(Generation { dir: dir.to_path_buf(), index, fields, state, unread_body: Some(file) })
    }

    /// Reads the rest of the state, which comparing with a scan and catching up need. An error
    /// means the file is damaged: rebuild.
    pub fn load_all(&mut self) -> Result<()> {
        if let Some(file) = self.unread_body.take() {
            self.state = file.read_all()?;
        }
        Ok(())
    }

    /// The tantivy index.
    pub fn tantivy(&self) -> &tantivy::Index {
        &self.index
    }

    /// The identity of the stored vectors, if any.
    pub fn vector_id(&self) -> Option<&str> {
        self.state.vector_id.as_deref()
    }

    /// Total chunks, and how many lack a vector.
    pub fn chunk_counts(&self) -> (usize, usize) {
        (self.state.chunks_total, self.state.chunks_missing)
    }

    /// What the index knows of the files, for [`source::scan`] to skip unchanged folders. Call
    /// [`Generation::load_all`] first: until then only the hand-written files' entries are known.
    pub fn known_files(&self) -> source::Known<'_> {
        match &self.unread_body {
            Some(file) => source::Known { dirs: &self.state.dirs, files: &file.summary.hand_written },
            None => source::Known { dirs: &self.state.dirs, files: &self.state.docs },
        }
    }

    /// The vector file opened read-only, when it exists.
    pub fn vectors_view(&self) -> Result<Option<usearch::Index>> {
        let path = self.dir.join(VECTORS);
        if self.state.vector_id.is_none() || !path.exists() {
            return Ok(None);
        }
        load_vectors(&path, true).map(Some)
    }

    /// Whether `scan` differs from what the index holds, or vectors are missing for `vector_id`.
    pub fn is_behind(&self, scan: &source::Scan, vector_id: Option<&str>) -> bool {
        if self.unread_body.is_some() {
            return true; // not comparable yet: see load_all
        }
        let files_differ = scan.files.len() != self.state.docs.len()
            || scan.dirs != self.state.dirs
            || scan.files.iter().any(|(path, (_, stamp))| self.state.docs.get(path).is_none_or(|d| d.stamp != *stamp));
        files_differ
            || vector_id.is_some_and(|id| self.state.vector_id.as_deref() != Some(id) || self.state.chunks_missing > 0)
    }

    fn save_state(&mut self) -> Result<()> {
        let embedded: HashSet<u64> = self.state.embedded.iter().copied().collect();
        let live = self.live_hashes();
        self.state.chunks_total = self.state.docs.values().map(|d| d.chunks.len()).sum();
        self.state.chunks_missing = live.iter().filter(|h| !embedded.contains(h)).count();
        let files = manifest(&self.dir)?;
        atomic::write_with(&self.dir.join(STATE), &self.state.encode(files), false)
    }

    fn live_hashes(&self) -> HashSet<u64> {
        self.state.docs.values().flat_map(|d| d.chunks.iter().copied()).collect()
    }

    /// Brings the index up to date with `scan`: re-chunks changed files, drops removed ones, and,
    /// when a model is given, embeds the missing chunks if there are at most `embed_limit` of them
    /// (a search embeds a few at once and leaves many to `abathur index` or the MCP server). Call
    /// with the lock held.
    pub fn catch_up(
        &mut self,
        ledger: &Ledger,
        scan: &source::Scan,
        vectors: Option<&mut dyn VectorSource>,
        embed_limit: usize,
        show_progress: bool,
    ) -> Result<CatchUpReport> {
        self.load_all()?;
        let started = std::time::Instant::now();
        let mut report = CatchUpReport::default();
        self.state.dirs = scan.dirs.clone();
        let removed: Vec<String> = self.state.docs.keys().filter(|p| !scan.files.contains_key(*p)).cloned().collect();
        let changed: Vec<(&String, Kind, Stamp)> = scan
            .files
            .iter()
            .filter(|(path, (_, stamp))| self.state.docs.get(*path).is_none_or(|d| d.stamp != *stamp))
            .map(|(path, (kind, stamp))| (path, *kind, *stamp))
            .collect();
        // Texts of chunks written now, so new vectors need no read-back.
        let mut fresh_texts: HashMap<u64, String> = HashMap::new();
        if !removed.is_empty() || !changed.is_empty() {
            let mut writer: tantivy::IndexWriter<TantivyDocument> =
                self.index.writer_with_num_threads(1, WRITER_BYTES).map_err(|e| tantivy_error(&self.dir, e))?;
            for path in &removed {
                writer.delete_term(Term::from_field_text(self.fields.path, path));
                self.state.docs.remove(path);
                report.files_removed += 1;
            }
            let mut bar = Progress::new(show_progress && changed.len() > 500, changed.len(), "indexing files");
            for (path, kind, stamp) in changed {
                bar.inc(1);
                writer.delete_term(Term::from_field_text(self.fields.path, path));
                let doc = match source::read(ledger, path, kind) {
                    Ok(doc) => doc,
                    Err(e) => {
                        report.problems.push(e.message);
                        self.state.docs.remove(path);
                        continue;
                    }
                };
                let mut hashes = Vec::new();
                if let Some(doc) = doc {
                    for (i, mut chunk) in chunk::chunk_markdown(&doc.body).into_iter().enumerate() {
                        chunk.heading = chunk::without_title(&chunk.heading, &doc.title);
                        let text = chunk.embed_text(&doc.title);
                        let hash = xxhash_rust::xxh3::xxh3_64(text.as_bytes());
                        writer
                            .add_document(self.document(path, kind, i, hash, &doc, &chunk))
                            .map_err(|e| tantivy_error(&self.dir, e))?;
                        fresh_texts.insert(hash, text);
                        hashes.push(hash);
                    }
                }
                report.chunks_indexed += hashes.len();
                report.files_indexed += 1;
                self.state.docs.insert(path.clone(), DocState { kind, stamp, chunks: hashes });
            }
            bar.finish();
            writer.commit().map_err(|e| tantivy_error(&self.dir, e))?;
            // Merges and the clean-up of old segment files finish here, so the files the state
            // lists are the ones that stay.
            writer.wait_merging_threads().map_err(|e| tantivy_error(&self.dir, e))?;
            // The state vouches for the new text index at once: a search that starts while the
            // vectors are being made opens it, rather than finding files its state does not list.
            self.save_state()?;
        }
        if let Some(source) = vectors {
            let embedded = self.update_vectors(source, &fresh_texts, embed_limit, show_progress)?;
            report.chunks_embedded = embedded.0;
            report.embed_seconds = embedded.1;
        }
        self.save_state()?;
        let (total, missing) = self.chunk_counts();
        report.chunks_total = total;
        report.chunks_without_vectors = missing;
        report.total_seconds = started.elapsed().as_secs_f64();
        Ok(report)
    }

    fn document(&self, path: &str, kind: Kind, i: usize, hash: u64, doc: &SourceDoc, chunk: &Chunk) -> TantivyDocument {
        let f = &self.fields;
        let mut d = doc!(
            f.path => path,
            f.kind => kind.as_str(),
            f.chunk => i as u64,
            f.hash => hash,
            f.title => doc.title.as_str(),
            f.heading => chunk.heading.as_str(),
            f.body => chunk.body.as_str(),
            f.expires => doc.expires_at.unwrap_or(0),
        );
        for milestone in &doc.milestones {
            d.add_text(f.milestone, milestone);
        }
        if let Some(ns) = &doc.namespace {
            d.add_text(f.namespace, ns);
            for (i, _) in ns.match_indices(':') {
                d.add_text(f.ns_prefix, &ns[..=i]);
            }
        }
        for (field, value) in [(f.memory_type, &doc.memory_type), (f.task_id, &doc.task_id)] {
            if let Some(v) = value {
                d.add_text(field, v);
            }
        }
        d
    }

    /// Embeds the missing chunks (none when more than `limit` are missing), drops vectors no chunk
    /// uses, saves by rename. Work is saved as it goes, each time the chunks embedded since the last
    /// save are as many as before it (256 at least), so a killed run loses at most half of what it
    /// did and the saves add up to about twice the final file. Returns how many were embedded and
    /// the seconds the model took.
    fn update_vectors(
        &mut self,
        source: &mut dyn VectorSource,
        fresh_texts: &HashMap<u64, String>,
        limit: usize,
        show_progress: bool,
    ) -> Result<(usize, f64)> {
        let id = source.vector_id();
        let path = self.dir.join(VECTORS);
        let same_model = self.state.vector_id.as_deref() == Some(id.as_str());
        let live = self.live_hashes();
        let mut embedded: HashSet<u64> =
            if same_model { self.state.embedded.iter().copied().collect() } else { HashSet::new() };
        let mut missing: Vec<u64> = live.iter().filter(|h| !embedded.contains(h)).copied().collect();
        let orphans: Vec<u64> = embedded.iter().filter(|h| !live.contains(h)).copied().collect();
        if missing.is_empty() && orphans.is_empty() && same_model {
            return Ok((0, 0.0));
        }
        if missing.len() > limit {
            return Ok((0, 0.0));
        }
        missing.sort_unstable();
        let texts = self.texts_of(&missing, fresh_texts)?;
        let mut index = if same_model && path.exists() { Some(load_vectors(&path, false)?) } else { None };
        let mut seconds = 0.0;
        let (mut saved, mut since_save) = (0, 0);
        let mut bar = Progress::new(show_progress && missing.len() > 64, missing.len(), "embedding chunks");
        for batch in missing.chunks(64) {
            let keys: Vec<u64> = batch.iter().filter(|h| texts.contains_key(h)).copied().collect();
            let batch_texts: Vec<&str> = keys.iter().map(|h| texts[h].as_str()).collect();
            let t = std::time::Instant::now();
            let vectors = source.embed(&batch_texts)?;
            seconds += t.elapsed().as_secs_f64();
            let index = match index.as_mut() {
                Some(index) => index,
                None => index.insert(new_vectors(vectors.first().map_or(0, Vec::len))?),
            };
            index.reserve(index.size() + keys.len()).map_err(|e| usearch_error(&path, e))?;
            for (key, vector) in keys.iter().zip(&vectors) {
                if !index.contains(*key) {
                    index.add(*key, vector).map_err(|e| usearch_error(&path, e))?;
                }
                embedded.insert(*key);
            }
            since_save += keys.len();
            if since_save >= saved.max(256) && since_save < missing.len() {
                self.save_vectors(index, &embedded, &id)?;
                self.save_state()?;
                (saved, since_save) = (saved + since_save, 0);
            }
            bar.inc(batch.len());
        }
        bar.finish();
        if let Some(index) = &index {
            for key in &orphans {
                let _ = index.remove(*key);
                embedded.remove(key);
            }
            self.save_vectors(index, &embedded, &id)?;
        } else {
            self.state.embedded.clear();
            self.state.vector_id = Some(id);
        }
        Ok((texts.len(), seconds))
    }

    /// Replaces the vector file by `index` and records which chunks it holds; the caller saves the
    /// state, which vouches for the new file.
    fn save_vectors(&mut self, index: &usearch::Index, embedded: &HashSet<u64>, id: &str) -> Result<()> {
        let path = self.dir.join(VECTORS);
        let tmp = self.dir.join(format!("{VECTORS}.tmp"));
        let text = tmp.to_str().ok_or_else(|| usearch_error(&tmp, "path is not UTF-8"))?;
        index.save(text).map_err(|e| usearch_error(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))?;
        let mut keys: Vec<u64> = embedded.iter().copied().collect();
        keys.sort_unstable();
        self.state.embedded = keys;
        self.state.vector_id = Some(id.to_string());
        Ok(())
    }

    /// The embedded texts of `hashes`: from this round's chunks, else rebuilt from stored fields.
    fn texts_of(&self, hashes: &[u64], fresh: &HashMap<u64, String>) -> Result<HashMap<u64, String>> {
        let mut out = HashMap::new();
        let mut searcher = None;
        for &hash in hashes {
            if let Some(text) = fresh.get(&hash) {
                out.insert(hash, text.clone());
                continue;
            }
            if searcher.is_none() {
                searcher = Some(self.index.reader().map_err(|e| tantivy_error(&self.dir, e))?.searcher());
            }
            let searcher = searcher.as_ref().expect("just opened");
            let query =
                tantivy::query::TermQuery::new(Term::from_field_u64(self.fields.hash, hash), IndexRecordOption::Basic);
            let top = searcher
                .search(&query, &tantivy::collector::TopDocs::with_limit(1).order_by_score())
                .map_err(|e| tantivy_error(&self.dir, e))?;
            if let Some((_, address)) = top.first() {
                let doc: TantivyDocument = searcher.doc(*address).map_err(|e| tantivy_error(&self.dir, e))?;
                let get = |f: Field| doc.get_first(f).and_then(|v| v.as_str()).unwrap_or("").to_string();
                out.insert(
                    hash,
                    chunk::embed_text(&get(self.fields.title), &get(self.fields.heading), &get(self.fields.body)),
                );
            }
        }
        Ok(out)
    }
}

/// Progress of a long step on stderr. On a terminal it is a bar; elsewhere (CI, an agent's
/// subprocess, where a bar draws nothing) it is a plain line at each tenth of the work and at least
/// every 30 s, so a log shows that indexing moves and how fast.
enum Progress {
    Hidden,
    Bar(indicatif::ProgressBar),
    Lines { what: &'static str, len: usize, done: usize, started: std::time::Instant, last: std::time::Instant },
}

impl Progress {
    fn new(show: bool, len: usize, what: &'static str) -> Progress {
        use std::io::IsTerminal;
        if !show {
            return Progress::Hidden;
        }
        if !std::io::stderr().is_terminal() {
            eprintln!("abathur index: {what}: 0/{len}");
            let now = std::time::Instant::now();
            return Progress::Lines { what, len, done: 0, started: now, last: now };
        }
        let bar = indicatif::ProgressBar::new(len as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} ({per_sec}, {eta} left)")
                .expect("template is valid")
                .progress_chars("=> "),
        );
        bar.set_message(what);
        Progress::Bar(bar)
    }

    fn inc(&mut self, n: usize) {
        match self {
            Progress::Hidden => {}
            Progress::Bar(bar) => bar.inc(n as u64),
            Progress::Lines { what, len, done, started, last } => {
                let tenth = (*len / 10).max(1);
                let crossed = (*done + n) / tenth > *done / tenth;
                *done += n;
                if *done < *len && (crossed || last.elapsed().as_secs() >= 30) {
                    let rate = *done as f64 / started.elapsed().as_secs_f64().max(1e-3);
                    eprintln!("abathur index: {what}: {done}/{len} ({} %, {rate:.0}/s)", *done * 100 / *len);
                    *last = std::time::Instant::now();
                }
            }
        }
    }

    fn finish(self) {
        match self {
            Progress::Hidden => {}
            Progress::Bar(bar) => bar.finish_and_clear(),
            Progress::Lines { what, done, started, .. } => {
                let seconds = started.elapsed().as_secs_f64();
                eprintln!(
                    "abathur index: {what}: {done} done in {seconds:.1} s ({:.0}/s)",
                    done as f64 / seconds.max(1e-3)
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_changed_after_it_was_verified_is_hashed_again_whatever_the_record_says() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("segment"), b"abcdefgh").unwrap();
        let files = manifest(dir.path()).unwrap();
        assert_eq!(files.len(), 1);
        verify_files(dir.path(), &files).unwrap();
        let record = std::fs::read_to_string(dir.path().join(VERIFIED)).unwrap();
        assert!(record.ends_with(" segment\n"), "{record}");
        assert_eq!(manifest(dir.path()).unwrap(), files, "the record is not part of the generation");
        // Even a record that looks old enough to trust cannot vouch for a file written since.
        let later = std::time::SystemTime::now() + Duration::from_secs(10);
        std::fs::File::options().write(true).open(dir.path().join(VERIFIED)).unwrap().set_modified(later).unwrap();
        std::fs::write(dir.path().join("segment"), b"abcdefgX").unwrap();
        assert!(verify_files(dir.path(), &files).is_err());
        // A garbled record is no record: everything is hashed.
        std::fs::write(dir.path().join("segment"), b"abcdefgh").unwrap();
        std::fs::write(dir.path().join(VERIFIED), "garbage").unwrap();
        verify_files(dir.path(), &files).unwrap();
    }

    fn doc(kind: Kind, chunks: &[u64]) -> DocState {
        DocState { kind, stamp: Stamp::default(), chunks: chunks.to_vec() }
    }

    fn sample() -> State {
        let docs = [
            ("decisions/01-use-postgres.md", doc(Kind::Decision, &[7])),
            ("gates/M1/report.md", doc(Kind::Report, &[8, 9])),
            ("memory/project/deploys.md", doc(Kind::Memory, &[1, 2])),
            ("tasks/01abc.toml", doc(Kind::Task, &[3])),
        ];
        State {
            format: FORMAT_VERSION,
            vector_id: Some("all-minilm-l6-v2 384".into()),
            docs: docs.into_iter().map(|(p, d)| (p.to_string(), d)).collect(),
            embedded: vec![1, 2, 3, 7],
            dirs: [("memory".to_string(), 11), ("tasks".to_string(), 12)].into_iter().collect(),
            chunks_total: 6,
            chunks_missing: 2,
        }
    }

    #[test]
    fn the_summary_reads_alone_and_the_whole_state_reads_back() {
        let state = sample();
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), state.encode(vec![("vectors.usearch".into(), 3, 9)])).unwrap();
        let opened = StateFile::open(file.path()).unwrap();
        assert_eq!(opened.summary.files, [("vectors.usearch".to_string(), 3, 9)]);
        assert_eq!(opened.summary.vector_id, state.vector_id);
        assert_eq!(opened.summary.dirs, state.dirs);
        assert_eq!((opened.summary.chunks_total, opened.summary.chunks_missing), (6, 2));
        let hand: Vec<&str> = opened.summary.hand_written.keys().map(String::as_str).collect();
        assert_eq!(hand, ["decisions/01-use-postgres.md", "gates/M1/report.md"]);
        let whole = opened.read_all().unwrap();
        assert_eq!(postcard::to_allocvec(&whole).unwrap(), postcard::to_allocvec(&state).unwrap());
    }

    #[test]
    fn a_damaged_state_is_an_error_not_a_panic() {
        let bytes = sample().encode(Vec::new());
        let file = tempfile::NamedTempFile::new().unwrap();
        for cut in [0, 3, 8, 12, 16, bytes.len() - 1] {
            std::fs::write(file.path(), &bytes[..cut]).unwrap();
            let whole = StateFile::open(file.path()).and_then(StateFile::read_all);
            assert!(whole.is_err(), "a state cut at {cut} of {} bytes was accepted", bytes.len());
        }
        let mut wrong_length = bytes.clone();
        wrong_length[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        std::fs::write(file.path(), &wrong_length).unwrap();
        assert!(StateFile::open(file.path()).is_err());
        // One flipped bit anywhere after the header is found by a hash.
        for at in [STATE_HEAD, STATE_HEAD + 5, bytes.len() / 2, bytes.len() - 1] {
            let mut flipped = bytes.clone();
            flipped[at] ^= 0x10;
            std::fs::write(file.path(), &flipped).unwrap();
            let whole = StateFile::open(file.path()).and_then(StateFile::read_all);
            assert!(whole.is_err(), "a bit flipped at {at} was accepted");
        }
    }

    #[test]
    fn vectors_are_salvaged_only_from_an_intact_generation() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(VECTORS), b"vectors").unwrap();
        let mut state = sample();
        state.embedded = vec![42];
        let files = manifest(dir.path()).unwrap();
        std::fs::write(dir.path().join(STATE), state.encode(files)).unwrap();
        assert_eq!(recorded_vectors(dir.path()).map(|(_, keys)| keys), Some(vec![42]));
        std::fs::write(dir.path().join(VECTORS), b"vectorz").unwrap();
        assert!(recorded_vectors(dir.path()).is_none(), "a changed vector file is not trusted");
        std::fs::write(dir.path().join(STATE), state.encode(Vec::new())).unwrap();
        assert!(recorded_vectors(dir.path()).is_none(), "a state that does not vouch for vectors");
    }
}
