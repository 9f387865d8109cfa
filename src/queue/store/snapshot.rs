//! The snapshot file (`cache/tasks.idx`): every task file's parsed head and stat fingerprint as of
//! one state of the tasks folder, serialised with postcard behind a magic number and a CRC-32 of
//! the rest. The fingerprints come last, in a value of their own, since only re-verification
//! decodes them. Anything unexpected (another magic, a checksum, a field out of range, ids out of
//! order) makes the whole file unusable, and the store rebuilds it from the task files: the cache is
//! disposable.
//!
//! fs: the snapshot is the task store's own cache file.

use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{Entries, Fingerprint, FolderStamp, Problem, Symbols, TaskHead};

/// Bumped whenever [`TaskHead`] or the file's fields change; a file with another magic is rebuilt.
const MAGIC: u32 = 0xABA7_0009;

/// Magic and checksum, before the postcard body.
const PREFIX_LEN: usize = 8;

/// The snapshot's identity: the generation journal records name, and the folder stamp it was taken at.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub(super) struct Header {
    /// Changes with every snapshot written; journal records name the one they extend.
    pub generation: u64,
    /// The tasks folder's stamp the snapshot was taken at.
    pub folder: FolderStamp,
}

/// The file's body, in this order (the header first, so it decodes alone); the fingerprints follow.
#[derive(Serialize, Deserialize)]
struct Body<'a> {
    header: Header,
    symbols: std::borrow::Cow<'a, [String]>,
    heads: std::borrow::Cow<'a, [TaskHead]>,
    problems: std::borrow::Cow<'a, [Problem]>,
}

/// Encodes a snapshot of `entries`, which must carry their fingerprints.
pub(super) fn encode(header: Header, entries: &Entries) -> Option<Vec<u8>> {
    let stamps = entries.stamps.as_ref().filter(|s| s.len() == entries.heads.len())?;
    let body = Body {
        header,
        symbols: entries.symbols.names().into(),
        heads: entries.heads.as_slice().into(),
        problems: entries.problems.as_slice().into(),
    };
    let mut file = vec![0u8; PREFIX_LEN];
    file = postcard::to_extend(&body, file).ok()?;
    file = postcard::to_extend(stamps, file).ok()?;
    let sum = crc32fast::hash(&file[PREFIX_LEN..]);
    file[..4].copy_from_slice(&MAGIC.to_le_bytes());
    file[4..8].copy_from_slice(&sum.to_le_bytes());
    Some(file)
}

/// The snapshot at `path` if its magic and checksum are right (the body starts at [`PREFIX_LEN`]);
/// `None` when it is missing, torn, corrupt or of another layout.
fn checked_file(path: &Path) -> Option<Vec<u8>> {
    let bytes = std::fs::read(path).ok()?;
    let prefix = bytes.get(..PREFIX_LEN)?;
    let magic = u32::from_le_bytes(prefix[..4].try_into().ok()?);
    let sum = u32::from_le_bytes(prefix[4..].try_into().ok()?);
    (magic == MAGIC && crc32fast::hash(&bytes[PREFIX_LEN..]) == sum).then_some(bytes)
}

/// Reads just the header, for writers, which only append to the journal: the checksum is not
/// checked here, since a reader that finds the rest damaged rebuilds the snapshot and drops the
/// journal records of its generation.
pub(super) fn read_header(path: &Path) -> Option<Header> {
    use std::io::Read;
    let mut start = Vec::with_capacity(64);
    std::fs::File::open(path).ok()?.take(64).read_to_end(&mut start).ok()?;
    if start.get(..4)? != MAGIC.to_le_bytes() {
        return None;
    }
    postcard::take_from_bytes::<Header>(start.get(PREFIX_LEN..)?).ok().map(|(header, _)| header)
}

/// Decodes the snapshot at `path`, with the fingerprints if `with_stamps`; `None` when it is
/// missing, torn, corrupt or of another layout.
pub(super) fn decode(path: &Path, with_stamps: bool) -> Option<(Header, Entries)> {
    let bytes = checked_file(path)?;
    let (body, rest): (Body<'_>, _) = postcard::take_from_bytes(&bytes[PREFIX_LEN..]).ok()?;
    let heads = body.heads.into_owned();
    let symbols = body.symbols.into_owned();
    let in_range =
        |h: &TaskHead| h.agent_type.index() < symbols.len() && h.milestone.is_none_or(|m| m.index() < symbols.len());
    let sorted = heads.windows(2).all(|w| w[0].id < w[1].id);
    if !sorted || !heads.iter().all(in_range) {
        return None;
    }
    let stamps = match with_stamps {
        true => Some(postcard::from_bytes::<Vec<(Fingerprint, bool)>>(rest).ok().filter(|s| s.len() == heads.len())?),
        false => None,
    };
    let entries = Entries {
        symbols: Arc::new(Symbols::from_names(symbols)),
        heads: Arc::new(heads),
        stamps,
        problems: body.problems.into_owned(),
    };
    Some((body.header, entries))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::Id;
    use crate::queue::task::{Source, State};
    use crate::time::Timestamp;

    fn sample() -> Entries {
        let mut symbols = Symbols::default();
        let agent = symbols.intern("implementer");
        let milestone = symbols.intern("M1");
        let first = Id::from_bits(1 << 100);
        let heads = vec![
            TaskHead {
                id: first,
                source: Source::Human,
                agent_type: agent,
                base_priority: 7,
                prerequisites: vec![],
                deadline: Some(Timestamp::from_millis(1_800_000_000_000)),
                estimated_duration_seconds: Some(3600),
                milestone: Some(milestone),
                max_retries: 3,
                submitted_at: Timestamp::from_millis(1_700_000_000_123),
                state: State::Running,
                retry_count: 1,
                not_before: None,
                lease_expires_at: Some(Timestamp::from_millis(1_700_000_100_000)),
            },
            TaskHead {
                id: Id::from_bits((1 << 100) + 1),
                source: Source::AgentPlanner,
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
        let header = Header { generation: 99, folder: FolderStamp { ino: 42, mtime_ns: 123 } };
        let file = write(&encode(header, &entries).expect("stamps match the heads"));
        let (back_header, back) = decode(file.path(), true).expect("decodes");
        assert_eq!((back_header.generation, back_header.folder), (99, header.folder));
        assert_eq!(*back.heads, *entries.heads);
        assert_eq!(back.stamps, entries.stamps);
        assert_eq!(back.symbols.names(), entries.symbols.names());
        assert_eq!(back.problems[0].message, "bad field");
        assert_eq!(read_header(file.path()).map(|h| h.generation), Some(99));
        let (_, without) = decode(file.path(), false).expect("decodes without fingerprints");
        assert_eq!(*without.heads, *entries.heads);
        assert!(without.stamps.is_none());
    }

    #[test]
    fn any_flipped_byte_truncation_or_out_of_range_symbol_is_refused() {
        let header = Header { generation: 1, folder: FolderStamp { ino: 1, mtime_ns: 1 } };
        let bytes = encode(header, &sample()).expect("encodes");
        for i in [0, 4, 9, 20, 40, bytes.len() - 20, bytes.len() - 1] {
            let mut bad = bytes.clone();
            bad[i] ^= 0x20;
            let file = write(&bad);
            assert!(decode(file.path(), true).is_none(), "flipped byte {i} was accepted");
        }
        for len in [0, 4, PREFIX_LEN, PREFIX_LEN + 10, bytes.len() - 1] {
            let file = write(&bytes[..len]);
            assert!(decode(file.path(), true).is_none(), "truncation to {len} was accepted");
        }
        // A checksum that matches does not make a symbol that is not in the table acceptable.
        let mut entries = sample();
        Arc::make_mut(&mut entries.heads)[0].milestone = Some(super::super::Sym(5));
        let file = write(&encode(header, &entries).expect("encodes"));
        assert!(decode(file.path(), true).is_none(), "a symbol out of range was accepted");
    }
}
