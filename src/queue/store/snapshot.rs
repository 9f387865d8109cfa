//! The snapshot file (`.abathur/cache/tasks.idx`) in a fixed-width binary layout.
//!
//! Every command that reads the queue starts by loading this file, so its layout is chosen for a
//! cheap cold start rather than for generality: fixed-width little-endian records decode with a few
//! loads each (no varints, no per-field dispatch), the file is streamed through one small buffer
//! instead of being read whole, and each kind of reader reads only the sections it needs:
//!
//! ```text
//! header    magic u32 | 0 u32 | generation u64 | folder ino u64 | folder mtime i64
//!           | lean length u64 | finished length u64
//!           | CRC-32 of the header so far and the lean section u64 | finished CRC-32 u64 | fingerprints CRC-32 u64
//! lean      symbols:  count u32, then (length u32, UTF-8 bytes) each
//!           open:     count u32, then per open task an 80-byte head followed by its prerequisites (16 bytes each)
//!           finished: count u32, then per finished task a 29-byte record (id, submitted, state,
//!                     prerequisite count) followed by its prerequisites
//!           problems: count u32, then (name, fingerprint, message) each
//! finished  the finished tasks' 80-byte heads with their prerequisites, in the same order
//! trailer   one 33-byte fingerprint per task, open tasks first, then finished ones
//! ```
//!
//! A lean read (`task get`, `task status`, `task claim`) stops after the lean section: finished tasks,
//! most of any mature ledger, cost it 29 bytes each ([`Finished`]). A full read adds the finished
//! heads; only re-verification reads the fingerprints.
//!
//! Anything unexpected (a wrong magic, a checksum, an out-of-range value, ids out of order) makes the
//! whole file unusable, and the store rebuilds it from the task files: the cache is disposable.
//!
//! fs: the snapshot is the task store's own cache file.

use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use crc32fast::Hasher;

use super::{Entries, Fingerprint, Finished, FinishedTask, FolderStamp, Problem, Sym, Symbols, TaskHead};
use crate::id::Id;
use crate::queue::task::{Source, State};
use crate::time::Timestamp;

/// Bumped whenever the layout or [`TaskHead`] changes; a file with another magic is rebuilt.
pub(super) const MAGIC: u32 = 0xABA7_0008;

/// A file's fingerprint and whether it was racy when taken (see the store).
type Stamp = (Fingerprint, bool);

/// What a decode builds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Decode {
    /// Open heads in full, finished tasks in compact form, no fingerprints.
    Lean,
    /// Every head in full, no fingerprints.
    Full,
    /// Every head in full, with fingerprints.
    WithFingerprints,
}

const HEADER_LEN: usize = 72;
/// The header bytes covered by the lean section's checksum: all but the three checksums.
const SUMMED_HEADER_LEN: usize = 48;
const HEAD_LEN: usize = 80;
const FINISHED_LEN: usize = 29;
const FINGERPRINT_LEN: usize = 33;
/// Bounds that no real ledger reaches; past them the file is treated as corrupt.
const MAX_COUNT: u32 = 50_000_000;
const MAX_STRING: u32 = 1 << 20;
const MAX_PREREQUISITES: u32 = 100_000;

const HAS_DEADLINE: u8 = 1;
const HAS_NOT_BEFORE: u8 = 2;
const HAS_LEASE: u8 = 4;
const HAS_ESTIMATE: u8 = 8;
const HAS_MILESTONE: u8 = 16;

/// The snapshot's identity, readable without decoding the rest.
#[derive(Clone, Copy, Debug)]
pub(super) struct Header {
    /// Changes with every snapshot written; journal records name the one they extend.
    pub generation: u64,
    /// The tasks folder's stamp the snapshot was taken at.
    pub folder: FolderStamp,
    lean_len: u64,
    finished_len: u64,
    lean_sum: u64,
    finished_sum: u64,
    fingerprints_sum: u64,
}

/// Encodes a snapshot of `entries`, which must be complete (not lean) and carry their fingerprints.
pub(super) fn encode(generation: u64, folder: FolderStamp, entries: &Entries) -> Option<Vec<u8>> {
    if entries.finished.is_some() {
        return None;
    }
    let stamps = entries.stamps.as_ref().filter(|s| s.len() == entries.heads.len())?;
    let (finished, open): (Vec<usize>, Vec<usize>) =
        (0..entries.heads.len()).partition(|&i| entries.heads[i].state.is_terminal());
    let put_prerequisites = |out: &mut Vec<u8>, head: &TaskHead| {
        for p in &head.prerequisites {
            out.extend_from_slice(&p.to_bits().to_le_bytes());
        }
    };

    let mut lean = Vec::with_capacity(open.len() * (HEAD_LEN + 8) + finished.len() * FINISHED_LEN + 256);
    put_u32(&mut lean, entries.symbols.names.len() as u32);
    for name in &entries.symbols.names {
        put_str(&mut lean, name);
    }
    put_u32(&mut lean, open.len() as u32);
    for &i in &open {
        lean.extend_from_slice(&head_record(&entries.heads[i]));
        put_prerequisites(&mut lean, &entries.heads[i]);
    }
    put_u32(&mut lean, finished.len() as u32);
    for &i in &finished {
        lean.extend_from_slice(&finished_record(&entries.heads[i]));
        put_prerequisites(&mut lean, &entries.heads[i]);
    }
    put_u32(&mut lean, entries.problems.len() as u32);
    for problem in &entries.problems {
        put_str(&mut lean, &problem.name);
        lean.extend_from_slice(&fingerprint_record(problem.fingerprint, false));
        put_str(&mut lean, &problem.message);
    }

    let mut full = Vec::with_capacity(finished.len() * (HEAD_LEN + 8));
    for &i in &finished {
        full.extend_from_slice(&head_record(&entries.heads[i]));
        put_prerequisites(&mut full, &entries.heads[i]);
    }

    let mut trailer = Vec::with_capacity(stamps.len() * FINGERPRINT_LEN);
    for &i in open.iter().chain(&finished) {
        let (fingerprint, racy) = stamps[i];
        trailer.extend_from_slice(&fingerprint_record(fingerprint, racy));
    }

    let mut file = Vec::with_capacity(HEADER_LEN + lean.len() + full.len() + trailer.len());
    put_u32(&mut file, MAGIC);
    put_u32(&mut file, 0);
    for field in [generation, folder.ino, folder.mtime_ns as u64, lean.len() as u64, full.len() as u64] {
        file.extend_from_slice(&field.to_le_bytes());
    }
    let mut lean_sum = Hasher::new();
    lean_sum.update(&file[..SUMMED_HEADER_LEN]);
    lean_sum.update(&lean);
    for sum in [lean_sum.finalize(), crc32fast::hash(&full), crc32fast::hash(&trailer)] {
        file.extend_from_slice(&u64::from(sum).to_le_bytes());
    }
    file.extend_from_slice(&lean);
    file.extend_from_slice(&full);
    file.extend_from_slice(&trailer);
    Some(file)
}

/// Reads just the header; `None` when the file is missing or of another layout.
pub(super) fn read_header(path: &Path) -> Option<Header> {
    let mut file = std::fs::File::open(path).ok()?;
    let mut bytes = [0u8; HEADER_LEN];
    file.read_exact(&mut bytes).ok()?;
    parse_header(&bytes)
}

/// Decodes the snapshot at `path` as `decode` asks; `None` when it is missing, torn, corrupt or of
/// another layout.
pub(super) fn decode(path: &Path, decode: Decode) -> Option<(Header, Entries)> {
    let mut input = Input::new(std::fs::File::open(path).ok()?);
    let header_bytes = input.bytes::<HEADER_LEN>()?;
    let header = parse_header(&header_bytes)?;
    input.section_sum();
    input.hash.update(&header_bytes[..SUMMED_HEADER_LEN]);

    let symbol_count = input.count()?;
    let mut names = Vec::with_capacity(symbol_count.min(1024) as usize);
    for _ in 0..symbol_count {
        names.push(input.string()?);
    }
    let symbols = Symbols::from_names(names);
    let open = read_heads(&mut input, symbols.len())?;
    let finished = read_finished(&mut input)?;
    let problem_count = input.count()?;
    let mut problems = Vec::new();
    for _ in 0..problem_count {
        let name = input.string()?;
        let (fingerprint, _) = parse_fingerprint(&input.bytes::<FINGERPRINT_LEN>()?);
        let message = input.string()?;
        problems.push(Problem { name, fingerprint, message });
    }
    if input.section_sum() != (header.lean_sum, header.lean_len) {
        return None;
    }
    let symbols = Arc::new(symbols);
    if decode == Decode::Lean {
        let finished = Some(Arc::new(Finished::from_sorted(finished)));
        return Some((header, Entries { symbols, heads: Arc::new(open), stamps: None, problems, finished }));
    }

    let mut finished_heads = Vec::with_capacity(finished.len());
    for compact in &finished {
        let head = read_head(&mut input, symbols.len())?;
        if head.id != compact.id || !head.state.is_terminal() {
            return None; // the two copies of the finished tasks disagree
        }
        finished_heads.push(head);
    }
    if input.section_sum() != (header.finished_sum, header.finished_len) {
        return None;
    }
    let fingerprints = if decode == Decode::WithFingerprints {
        let mut stamps = Vec::with_capacity(open.len() + finished_heads.len());
        for _ in 0..open.len() + finished_heads.len() {
            stamps.push(parse_fingerprint(&input.bytes::<FINGERPRINT_LEN>()?));
        }
        if input.section_sum().0 != header.fingerprints_sum {
            return None;
        }
        Some(stamps)
    } else {
        None
    };
    let (heads, stamps) = merge(open, finished_heads, fingerprints)?;
    Some((header, Entries { symbols, heads: Arc::new(heads), stamps, problems, finished: None }))
}

/// Reads the open section: heads sorted by id, each with its prerequisites.
fn read_heads(input: &mut Input, symbol_count: usize) -> Option<Vec<TaskHead>> {
    let count = input.count()?;
    let mut heads: Vec<TaskHead> = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let head = read_head(input, symbol_count)?;
        if heads.last().is_some_and(|last| last.id >= head.id) || head.state.is_terminal() {
            return None; // sorted by id, each task once, none finished
        }
        heads.push(head);
    }
    Some(heads)
}

/// One 80-byte head and its prerequisites.
fn read_head(input: &mut Input, symbol_count: usize) -> Option<TaskHead> {
    let (mut head, prerequisites) = parse_head(&input.bytes::<HEAD_LEN>()?, symbol_count)?;
    head.prerequisites = read_ids(input, prerequisites)?;
    Some(head)
}

/// Reads the compact finished records of the lean section, sorted by id.
fn read_finished(input: &mut Input) -> Option<Vec<FinishedTask>> {
    let count = input.count()?;
    let mut finished: Vec<FinishedTask> = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let bytes = input.bytes::<FINISHED_LEN>()?;
        let mut f = Fields(&bytes);
        let id = Id::from_bits(f.u128());
        let submitted_at = Timestamp::from_millis(f.i64());
        let state = state_of(f.take::<1>()[0]).filter(|s| s.is_terminal())?;
        let prerequisites = f.u32();
        if prerequisites > MAX_PREREQUISITES || finished.last().is_some_and(|last| last.id >= id) {
            return None;
        }
        let prerequisites = read_ids(input, prerequisites)?.into_boxed_slice();
        finished.push(FinishedTask { id, submitted_at, state, prerequisites });
    }
    Some(finished)
}

fn read_ids(input: &mut Input, count: u32) -> Option<Vec<Id>> {
    let mut ids = Vec::with_capacity(count as usize);
    for _ in 0..count {
        ids.push(Id::from_bits(u128::from_le_bytes(input.bytes::<16>()?)));
    }
    Some(ids)
}

/// Merges the open and finished sections (and their fingerprints, stored in the same order) into
/// one list sorted by id; `None` if a task appears in both.
fn merge(
    open: Vec<TaskHead>,
    finished: Vec<TaskHead>,
    fingerprints: Option<Vec<Stamp>>,
) -> Option<(Vec<TaskHead>, Option<Vec<Stamp>>)> {
    let split = open.len();
    let total = open.len() + finished.len();
    let mut heads = Vec::with_capacity(total);
    let mut order = Vec::with_capacity(if fingerprints.is_some() { total } else { 0 });
    let (mut open, mut finished) = (open.into_iter().peekable(), finished.into_iter().peekable());
    let (mut i, mut j) = (0, split);
    loop {
        let take_open = match (open.peek(), finished.peek()) {
            (Some(a), Some(b)) if a.id == b.id => return None,
            (Some(a), Some(b)) => a.id < b.id,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        let (head, position) = if take_open { (open.next(), &mut i) } else { (finished.next(), &mut j) };
        heads.push(head.expect("peeked"));
        if fingerprints.is_some() {
            order.push(*position);
        }
        *position += 1;
    }
    let stamps = fingerprints.map(|f| order.iter().map(|&k| f[k]).collect());
    Some((heads, stamps))
}

fn parse_header(bytes: &[u8; HEADER_LEN]) -> Option<Header> {
    let mut f = Fields(bytes);
    if f.u32() != MAGIC || f.u32() != 0 {
        return None;
    }
    Some(Header {
        generation: f.u64(),
        folder: FolderStamp { ino: f.u64(), mtime_ns: f.i64() },
        lean_len: f.u64(),
        finished_len: f.u64(),
        lean_sum: f.u64(),
        finished_sum: f.u64(),
        fingerprints_sum: f.u64(),
    })
}

fn head_record(h: &TaskHead) -> [u8; HEAD_LEN] {
    let flag = |set: bool, bit: u8| if set { bit } else { 0 };
    let flags = flag(h.deadline.is_some(), HAS_DEADLINE)
        | flag(h.not_before.is_some(), HAS_NOT_BEFORE)
        | flag(h.lease_expires_at.is_some(), HAS_LEASE)
        | flag(h.estimated_duration_seconds.is_some(), HAS_ESTIMATE)
        | flag(h.milestone.is_some(), HAS_MILESTONE);
    let millis = |t: Option<Timestamp>| t.map_or(0, Timestamp::millis);
    let mut out = [0u8; HEAD_LEN];
    let mut w = Out(&mut out);
    w.put(&h.id.to_bits().to_le_bytes());
    w.put(&h.submitted_at.millis().to_le_bytes());
    w.put(&millis(h.deadline).to_le_bytes());
    w.put(&millis(h.not_before).to_le_bytes());
    w.put(&millis(h.lease_expires_at).to_le_bytes());
    w.put(&h.estimated_duration_seconds.unwrap_or(0).to_le_bytes());
    w.put(&h.agent_type.0.to_le_bytes());
    w.put(&h.milestone.map_or(0, |m| m.0).to_le_bytes());
    w.put(&h.max_retries.to_le_bytes());
    w.put(&h.retry_count.to_le_bytes());
    w.put(&(h.prerequisites.len() as u32).to_le_bytes());
    w.put(&[source_code(h.source), h.base_priority, state_code(h.state), flags]);
    out
}

fn finished_record(h: &TaskHead) -> [u8; FINISHED_LEN] {
    let mut out = [0u8; FINISHED_LEN];
    let mut w = Out(&mut out);
    w.put(&h.id.to_bits().to_le_bytes());
    w.put(&h.submitted_at.millis().to_le_bytes());
    w.put(&[state_code(h.state)]);
    w.put(&(h.prerequisites.len() as u32).to_le_bytes());
    out
}

fn parse_head(bytes: &[u8; HEAD_LEN], symbol_count: usize) -> Option<(TaskHead, u32)> {
    let mut f = Fields(bytes);
    let id = Id::from_bits(f.u128());
    let submitted_at = Timestamp::from_millis(f.i64());
    let (deadline, not_before, lease_expires_at) = (f.i64(), f.i64(), f.i64());
    let estimate = f.u64();
    let (agent_type, milestone) = (f.u32(), f.u32());
    let (max_retries, retry_count, prerequisites) = (f.u32(), f.u32(), f.u32());
    let [source, base_priority, state, flags] = f.take::<4>();
    let symbol = |raw: u32| ((raw as usize) < symbol_count).then_some(Sym(raw));
    let when = |bit: u8, millis: i64| (flags & bit != 0).then(|| Timestamp::from_millis(millis));
    if prerequisites > MAX_PREREQUISITES || base_priority > 10 {
        return None;
    }
    let head = TaskHead {
        id,
        source: source_of(source)?,
        agent_type: symbol(agent_type)?,
        base_priority,
        prerequisites: Vec::new(),
        deadline: when(HAS_DEADLINE, deadline),
        estimated_duration_seconds: (flags & HAS_ESTIMATE != 0).then_some(estimate),
        milestone: if flags & HAS_MILESTONE != 0 { Some(symbol(milestone)?) } else { None },
        max_retries,
        submitted_at,
        state: state_of(state)?,
        retry_count,
        not_before: when(HAS_NOT_BEFORE, not_before),
        lease_expires_at: when(HAS_LEASE, lease_expires_at),
    };
    Some((head, prerequisites))
}

fn fingerprint_record(fp: Fingerprint, racy: bool) -> [u8; FINGERPRINT_LEN] {
    let mut out = [0u8; FINGERPRINT_LEN];
    let mut w = Out(&mut out);
    w.put(&fp.len.to_le_bytes());
    w.put(&fp.ino.to_le_bytes());
    w.put(&fp.mtime_ns.to_le_bytes());
    w.put(&fp.ctime_ns.to_le_bytes());
    w.put(&[u8::from(racy)]);
    out
}

fn parse_fingerprint(bytes: &[u8; FINGERPRINT_LEN]) -> (Fingerprint, bool) {
    let mut f = Fields(bytes);
    let fingerprint = Fingerprint { len: f.u64(), ino: f.u64(), mtime_ns: f.i64(), ctime_ns: f.i64() };
    (fingerprint, f.take::<1>()[0] != 0)
}

fn source_code(source: Source) -> u8 {
    match source {
        Source::Human => 0,
        Source::AgentRequirements => 1,
        Source::AgentPlanner => 2,
        Source::AgentImplementation => 3,
    }
}

fn source_of(code: u8) -> Option<Source> {
    [Source::Human, Source::AgentRequirements, Source::AgentPlanner, Source::AgentImplementation]
        .get(code as usize)
        .copied()
}

fn state_code(state: State) -> u8 {
    match state {
        State::Pending => 0,
        State::Running => 1,
        State::Completed => 2,
        State::Failed => 3,
        State::Cancelled => 4,
    }
}

fn state_of(code: u8) -> Option<State> {
    [State::Pending, State::Running, State::Completed, State::Failed, State::Cancelled].get(code as usize).copied()
}

fn put_u32(out: &mut Vec<u8>, value: u32) {
    out.extend_from_slice(&value.to_le_bytes());
}

fn put_str(out: &mut Vec<u8>, text: &str) {
    put_u32(out, text.len() as u32);
    out.extend_from_slice(text.as_bytes());
}

/// Writes fields into a fixed-size record, front to back.
struct Out<'a>(&'a mut [u8]);

impl Out<'_> {
    fn put(&mut self, bytes: &[u8]) {
        let rest = std::mem::take(&mut self.0);
        let (dst, rest) = rest.split_at_mut(bytes.len());
        dst.copy_from_slice(bytes);
        self.0 = rest;
    }
}

/// Reads fields from a fixed-size record, front to back. Records are exactly as long as their
/// fields, so running out is a bug in this file, never a property of the input.
struct Fields<'a>(&'a [u8]);

impl Fields<'_> {
    fn take<const N: usize>(&mut self) -> [u8; N] {
        let (head, rest) = self.0.split_at(N);
        self.0 = rest;
        head.try_into().expect("split_at gave N bytes")
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.take())
    }
    fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.take())
    }
    fn i64(&mut self) -> i64 {
        i64::from_le_bytes(self.take())
    }
    fn u128(&mut self) -> u128 {
        u128::from_le_bytes(self.take())
    }
}

/// Reads the file through one fixed buffer, hashing what was handed out in large runs (once per
/// refill or section) rather than per field.
struct Input {
    file: std::fs::File,
    buf: Box<[u8]>,
    /// Next byte to hand out.
    pos: usize,
    /// End of the bytes read into `buf`.
    end: usize,
    /// Bytes before this position were handed out and hashed already.
    hashed: usize,
    hash: Hasher,
    /// Bytes handed out since the last [`Input::section_sum`].
    read: u64,
}

impl Input {
    const BUFFER: usize = 64 * 1024;

    fn new(file: std::fs::File) -> Input {
        Input {
            file,
            buf: vec![0u8; Self::BUFFER].into_boxed_slice(),
            pos: 0,
            end: 0,
            hashed: 0,
            hash: Hasher::new(),
            read: 0,
        }
    }

    /// Makes at least `need` (at most the buffer size) unread bytes available.
    fn refill(&mut self, need: usize) -> Option<()> {
        self.hash.update(&self.buf[self.hashed..self.pos]);
        self.buf.copy_within(self.pos..self.end, 0);
        self.end -= self.pos;
        (self.pos, self.hashed) = (0, 0);
        while self.end < need {
            match self.file.read(&mut self.buf[self.end..]) {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.end += n,
            }
        }
        Some(())
    }

    fn bytes<const N: usize>(&mut self) -> Option<[u8; N]> {
        if self.end - self.pos < N {
            self.refill(N)?;
        }
        let out: [u8; N] = self.buf[self.pos..self.pos + N].try_into().expect("N bytes are available");
        self.pos += N;
        self.read += N as u64;
        Some(out)
    }

    fn count(&mut self) -> Option<u32> {
        let n = u32::from_le_bytes(self.bytes()?);
        (n <= MAX_COUNT).then_some(n)
    }

    fn string(&mut self) -> Option<String> {
        let len = u32::from_le_bytes(self.bytes()?);
        if len > MAX_STRING {
            return None;
        }
        let mut out = Vec::with_capacity(len as usize);
        while out.len() < len as usize {
            if self.pos == self.end {
                self.refill(1)?;
            }
            let n = (len as usize - out.len()).min(self.end - self.pos);
            out.extend_from_slice(&self.buf[self.pos..self.pos + n]);
            self.pos += n;
        }
        self.read += u64::from(len);
        String::from_utf8(out).ok()
    }

    /// The hash of everything handed out since the last call, and its length;
    /// starts the next section.
    fn section_sum(&mut self) -> (u64, u64) {
        self.hash.update(&self.buf[self.hashed..self.pos]);
        self.hashed = self.pos;
        let sum = (u64::from(std::mem::take(&mut self.hash).finalize()), self.read);
        self.read = 0;
        sum
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Entries {
        let mut symbols = Symbols::default();
        let agent = symbols.intern("implementer");
        let milestone = symbols.intern("M1");
        let first = Id::generate();
        let heads = vec![
            TaskHead {
                id: first,
                source: Source::AgentPlanner,
                agent_type: agent,
                base_priority: 7,
                prerequisites: vec![],
                deadline: Some(Timestamp::from_millis(1_800_000_000_000)),
                estimated_duration_seconds: Some(3600),
                milestone: Some(milestone),
                max_retries: 3,
                submitted_at: Timestamp::from_millis(1_700_000_000_000),
                state: State::Running,
                retry_count: 1,
                not_before: None,
                lease_expires_at: Some(Timestamp::from_millis(1_700_000_600_000)),
            },
            TaskHead {
                id: Id::from_bits(first.to_bits() + 1),
                source: Source::Human,
                agent_type: agent,
                base_priority: 0,
                prerequisites: vec![first, Id::from_bits(7)],
                deadline: None,
                estimated_duration_seconds: Some(0),
                milestone: None,
                max_retries: 0,
                submitted_at: Timestamp::from_millis(-5),
                state: State::Cancelled,
                retry_count: 0,
                not_before: Some(Timestamp::from_millis(0)),
                lease_expires_at: None,
            },
        ];
        let fp = |n: u64| Fingerprint { len: n, ino: n + 1, mtime_ns: -(n as i64), ctime_ns: n as i64 * 3 };
        Entries {
            symbols: Arc::new(symbols),
            heads: Arc::new(heads),
            stamps: Some(vec![(fp(1), false), (fp(2), true)]),
            problems: vec![Problem { name: "x.toml".into(), fingerprint: fp(9), message: "bad field".into() }],
            finished: None,
        }
    }

    fn write(bytes: &[u8]) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().expect("temp file");
        std::fs::write(file.path(), bytes).expect("write");
        file
    }

    #[test]
    fn every_field_round_trips() {
        let entries = sample();
        let folder = FolderStamp { ino: 42, mtime_ns: 123 };
        let file = write(&encode(99, folder, &entries).expect("fingerprints present"));
        let (header, back) = decode(file.path(), Decode::WithFingerprints).expect("decodes");
        assert_eq!((header.generation, header.folder), (99, folder));
        assert_eq!(*back.heads, *entries.heads);
        assert_eq!(back.stamps, entries.stamps);
        assert_eq!(back.symbols.names, entries.symbols.names);
        assert_eq!(back.problems[0].message, "bad field");
        let (_, hot) = decode(file.path(), Decode::Full).expect("decodes without fingerprints");
        assert_eq!(*hot.heads, *entries.heads);
        assert!(hot.stamps.is_none());
        assert_eq!(read_header(file.path()).map(|h| h.generation), Some(99));
        // A lean read keeps the running task in full and the cancelled one in compact form.
        let (_, lean) = decode(file.path(), Decode::Lean).expect("decodes lean");
        assert_eq!(*lean.heads, entries.heads[..1]);
        let finished = lean.finished.expect("finished tasks kept apart");
        let cancelled = &entries.heads[1];
        assert_eq!(finished.get(&cancelled.id), Some(&FinishedTask::of(cancelled)));
        assert_eq!(finished.dependents_of(&entries.heads[0].id).collect::<Vec<_>>(), [cancelled.id]);
        let lean = Entries { finished: Some(finished), ..sample() };
        assert!(encode(1, folder, &lean).is_none(), "lean entries are never saved");
    }

    #[test]
    fn many_heads_split_and_merge_back_in_id_order() {
        let mut entries = sample();
        let template = entries.heads[0].clone();
        let states = [State::Pending, State::Completed, State::Running, State::Failed, State::Cancelled];
        let heads: Vec<TaskHead> = (0..500u128)
            .map(|n| TaskHead { id: Id::from_bits(1_000 + n), state: states[n as usize % 5], ..template.clone() })
            .collect();
        let fp = |n: usize| Fingerprint { len: n as u64, ino: 1, mtime_ns: 2, ctime_ns: 3 };
        entries.stamps = Some((0..heads.len()).map(|n| (fp(n), n % 7 == 0)).collect());
        entries.heads = Arc::new(heads);
        let file = write(&encode(5, FolderStamp { ino: 1, mtime_ns: 1 }, &entries).expect("encodes"));
        let (_, full) = decode(file.path(), Decode::WithFingerprints).expect("decodes");
        assert_eq!(*full.heads, *entries.heads);
        assert_eq!(full.stamps, entries.stamps, "fingerprints follow their heads through the merge");
        let (_, lean) = decode(file.path(), Decode::Lean).expect("decodes lean");
        assert_eq!(lean.heads.len(), 200);
        assert!(lean.heads.iter().all(|h| !h.state.is_terminal()));
        assert_eq!(lean.finished.expect("finished").len(), 300);
    }

    #[test]
    fn any_flipped_byte_or_truncation_is_refused() {
        let bytes = encode(1, FolderStamp { ino: 1, mtime_ns: 1 }, &sample()).expect("encodes");
        for i in [0, 4, 9, HEADER_LEN + 3, HEADER_LEN + 40, bytes.len() - 40, bytes.len() - 1] {
            let mut bad = bytes.clone();
            bad[i] ^= 0x20;
            let file = write(&bad);
            assert!(decode(file.path(), Decode::WithFingerprints).is_none(), "flipped byte {i} was accepted");
        }
        for len in [0, 10, HEADER_LEN, HEADER_LEN + 100, bytes.len() - 1] {
            let file = write(&bytes[..len]);
            assert!(decode(file.path(), Decode::WithFingerprints).is_none(), "truncation to {len} was accepted");
        }
    }
}
