//! What search covers: the ledger files of four kinds, found cheaply and read into one shape.
//!
//! Finding is a directory walk with one `stat` per file; its stamp (size, mtime, ctime, inode) decides
//! whether the index already has the file. Reading turns each kind into a titled Markdown body plus the
//! fields search filters on.
//!
//! fs: stats of the files searched, for the freshness check; their text is read through `ledger::codec`.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::ledger::Ledger;
use crate::memory::entry::Entry;

/// The kinds of document search returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A memory entry (current version).
    Memory,
    /// A decision record under `decisions/`.
    Decision,
    /// A validation (gate) report.
    Report,
    /// A task.
    Task,
}

impl Kind {
    /// The lowercase name stored in the index and shown in hits.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Memory => "memory",
            Kind::Decision => "decision",
            Kind::Report => "report",
            Kind::Task => "task",
        }
    }

    /// The inverse of [`Kind::as_str`].
    pub fn parse(text: &str) -> Option<Kind> {
        [Kind::Memory, Kind::Decision, Kind::Report, Kind::Task].into_iter().find(|k| k.as_str() == text)
    }
}

/// Identity of a file version, cheap to read: a change to any of these means re-reading it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    len: u64,
    mtime_ns: i64,
    ctime_ns: i64,
    inode: u64,
}

/// The indexable files, by path relative to the ledger, and the folders they were found in.
#[derive(Clone, Debug, Default)]
pub struct Scan {
    /// Every indexable file with its kind and stamp.
    pub files: BTreeMap<String, (Kind, Stamp)>,
    /// Modification time of every folder of memory and tasks (the shortcut's key).
    pub dirs: BTreeMap<String, i64>,
}

/// What the index holds for one file.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DocState {
    /// The file's kind.
    pub kind: Kind,
    /// The file version indexed.
    pub stamp: Stamp,
    /// Hashes of its chunks (their vector keys).
    pub chunks: Vec<u64>,
}

/// What the index already knows: folder times and file stamps from its last catch-up.
pub struct Known<'a> {
    /// Folder modification times.
    pub dirs: &'a BTreeMap<String, i64>,
    /// File kinds and stamps.
    pub files: &'a BTreeMap<String, DocState>,
}

/// Finds every indexable file.
///
/// With `known`, a memory or task folder whose modification time is unchanged is not listed again:
/// its files are taken as known. abathur, git checkouts and most editors replace files by rename,
/// which changes the folder; a file rewritten in place there is picked up by `abathur index` (which
/// passes no `known`). Decisions and reports, written by hand, are always checked file by file.
pub fn scan(ledger: &Ledger, known: Option<&Known<'_>>) -> Result<Scan> {
    let mut scan = Scan::default();
    let root = ledger.root();
    let mut walker = Walker { root, known, scan: &mut scan };
    walker.walk(&root.join("memory"), Kind::Memory, ".md", true, true)?;
    walker.walk(&root.join("decisions"), Kind::Decision, ".md", true, false)?;
    walker.walk(&root.join("gates"), Kind::Report, ".md", false, false)?;
    walker.walk(&root.join("tasks"), Kind::Task, ".toml", false, true)?;
    Ok(scan)
}

/// Whether nothing changed since `known` was recorded, checked without listing memory or task folders:
/// their folder times, and every decision and report file's stamp. The cheap test a long-lived
/// process runs before each search.
pub fn unchanged(ledger: &Ledger, known: &Known<'_>) -> Result<bool> {
    let root = ledger.root();
    for top in ["memory", "tasks"] {
        if root.join(top).is_dir() != known.dirs.contains_key(top) {
            return Ok(false);
        }
    }
    for (dir, mtime) in known.dirs {
        match std::fs::metadata(root.join(dir)) {
            Ok(meta) if meta.mtime() * 1_000_000_000 + meta.mtime_nsec() == *mtime => {}
            _ => return Ok(false),
        }
    }
    let mut scan = Scan::default();
    let mut walker = Walker { root, known: None, scan: &mut scan };
    walker.walk(&root.join("decisions"), Kind::Decision, ".md", true, false)?;
    walker.walk(&root.join("gates"), Kind::Report, ".md", false, false)?;
    let mut known_count = 0;
    for prefix in ["decisions/", "gates/"] {
        let from = (std::ops::Bound::Included(prefix), std::ops::Bound::Unbounded);
        for (path, doc) in known.files.range::<str, _>(from).take_while(|(p, _)| p.starts_with(prefix)) {
            known_count += 1;
            if scan.files.get(path).is_none_or(|(_, stamp)| *stamp != doc.stamp) {
                return Ok(false);
            }
        }
    }
    Ok(known_count == scan.files.len())
}

struct Walker<'a, 'k> {
    root: &'a Path,
    known: Option<&'a Known<'k>>,
    scan: &'a mut Scan,
}

impl Walker<'_, '_> {
    fn walk(&mut self, dir: &Path, kind: Kind, suffix: &str, recurse: bool, shortcut: bool) -> Result<()> {
        let rel_dir = self.rel(dir);
        let mtime = match std::fs::metadata(dir) {
            Ok(meta) => meta.mtime() * 1_000_000_000 + meta.mtime_nsec(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(Error::io(dir, e)),
        };
        if shortcut {
            self.scan.dirs.insert(rel_dir.clone(), mtime);
            if let Some(known) = self.known.filter(|k| k.dirs.get(&rel_dir) == Some(&mtime)) {
                // Unchanged folder: its files are the known ones; its subfolders are checked in turn.
                let prefix = format!("{rel_dir}/");
                let direct = |p: &str| p.strip_prefix(&prefix).is_some_and(|rest| !rest.contains('/'));
                let from = (std::ops::Bound::Included(prefix.as_str()), std::ops::Bound::Unbounded);
                for (path, doc) in known.files.range::<str, _>(from) {
                    if !path.starts_with(&prefix) {
                        break;
                    }
                    if direct(path) {
                        self.scan.files.insert(path.clone(), (doc.kind, doc.stamp));
                    }
                }
                let subdirs: Vec<String> = known.dirs.keys().filter(|d| direct(d)).cloned().collect();
                for sub in subdirs {
                    self.walk(&self.root.join(&sub), kind, suffix, recurse, shortcut)?;
                }
                return Ok(());
            }
        }
        let listing = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
        for item in listing.flatten() {
            let name = item.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.starts_with('.') {
                continue; // .history, .gitkeep, temporary files
            }
            let path = item.path();
            let Ok(meta) = std::fs::metadata(&path) else { continue }; // vanished meanwhile
            if meta.is_dir() {
                if recurse {
                    self.walk(&path, kind, suffix, recurse, shortcut)?;
                }
            } else if name.ends_with(suffix) {
                let stamp = Stamp {
                    len: meta.len(),
                    mtime_ns: meta.mtime() * 1_000_000_000 + meta.mtime_nsec(),
                    ctime_ns: meta.ctime() * 1_000_000_000 + meta.ctime_nsec(),
                    inode: meta.ino(),
                };
                self.scan.files.insert(self.rel(&path), (kind, stamp));
            }
        }
        Ok(())
    }

    fn rel(&self, path: &Path) -> String {
        path.strip_prefix(self.root).unwrap_or(path).to_string_lossy().into_owned()
    }
}

/// A file read for indexing.
#[derive(Clone, Debug, Default)]
pub struct SourceDoc {
    /// Display title.
    pub title: String,
    /// Markdown body to chunk.
    pub body: String,
    /// Memory namespace.
    pub namespace: Option<String>,
    /// Memory type.
    pub memory_type: Option<String>,
    /// Milestones (a task's, a report's gate, those a decision names).
    pub milestones: Vec<String>,
    /// Task id, for the live status filter.
    pub task_id: Option<String>,
    /// When a memory entry stops being searchable (milliseconds).
    pub expires_at: Option<i64>,
}

/// Reads one file; `None` when it holds nothing to search (a tombstone), an error when it is malformed.
pub fn read(ledger: &Ledger, rel: &str, kind: Kind) -> Result<Option<SourceDoc>> {
    let path = ledger.root().join(rel);
    let text = crate::ledger::codec::read_text(&path)?;
    Ok(match kind {
        Kind::Memory => {
            let entry = Entry::parse(&text, &path)?;
            let m = &entry.meta;
            (!m.deleted).then(|| SourceDoc {
                title: format!("{}{}", m.namespace, m.key),
                body: entry.body.clone(),
                namespace: Some(m.namespace.clone()),
                memory_type: Some(m.memory_type.as_str().to_string()),
                expires_at: m.expires_at.map(|t| t.millis()),
                ..SourceDoc::default()
            })
        }
        Kind::Task => {
            let task = crate::queue::task::TaskRecord::from_toml(&text, &path)?;
            let mut body = task.description.clone();
            if let Some(error) = &task.error_message {
                body.push_str(&format!("\n\nError: {error}"));
            }
            if let Some(result) = &task.result_data {
                body.push_str(&format!("\n\nResult: {result}"));
            }
            Some(SourceDoc {
                title: task.summary.clone(),
                body,
                milestones: task.milestone.iter().cloned().collect(),
                task_id: Some(task.id.to_string()),
                ..SourceDoc::default()
            })
        }
        Kind::Report => {
            let record = path.with_extension("toml");
            let milestone = crate::ledger::codec::read_text(&record)
                .ok()
                .and_then(|t| crate::gate::record::GateRecord::from_toml(&t, &record).ok())
                .map(|r| r.milestone);
            let milestones = milestone.into_iter().collect();
            Some(SourceDoc { title: first_heading(&text, rel), body: text, milestones, ..SourceDoc::default() })
        }
        Kind::Decision => {
            if let Ok(record) = crate::decision::record::Decision::parse(&text, &path) {
                let status = record.meta.status.as_str();
                let body = format!("Status: {status}.\n\n{}", record.body);
                return Ok(Some(SourceDoc {
                    title: record.meta.title,
                    body,
                    milestones: record.meta.milestones,
                    ..SourceDoc::default()
                }));
            }
            let (front, body) = split_any_front_matter(&text);
            let field =
                |name: &str| front.and_then(|f| f.lines().find_map(|l| value_of(l, name))).filter(|v| !v.is_empty());
            let title = field("title").unwrap_or_else(|| first_heading(body, rel));
            let milestones = field("milestone").into_iter().collect();
            Some(SourceDoc { title, body: body.to_string(), milestones, ..SourceDoc::default() })
        }
    })
}

/// The first Markdown heading, else the file name.
fn first_heading(text: &str, rel: &str) -> String {
    text.lines()
        .find_map(|l| l.strip_prefix('#').map(|h| h.trim_start_matches('#').trim().to_string()))
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| rel.rsplit('/').next().unwrap_or(rel).trim_end_matches(".md").to_string())
}

/// Splits `+++` (TOML) or `---` (YAML) front matter from the body, if there is any.
fn split_any_front_matter(text: &str) -> (Option<&str>, &str) {
    ["+++", "---"]
        .iter()
        .find_map(|fence| crate::ledger::codec::split_front_matter(text, fence))
        .map_or((None, text), |(front, body)| (Some(front), body))
}

/// `name = "value"` (TOML) or `name: value` (YAML) on one line.
fn value_of(line: &str, name: &str) -> Option<String> {
    let rest = line.trim().strip_prefix(name)?.trim_start();
    let rest = rest.strip_prefix('=').or_else(|| rest.strip_prefix(':'))?;
    Some(rest.trim().trim_matches('"').trim_matches('\'').to_string())
}
