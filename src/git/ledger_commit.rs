//! `abathur commit`: one commit for the ledger changes agents made, with a message that says what
//! they were and provenance trailers (`Abathur-Task`, `Abathur-Decision`, `Abathur-Agent`).
//!
//! Agents write ledger files all day; committing each write would flood history. This batches them:
//! only `.abathur/` files are committed (never the user's other work, staged or not), the message
//! lists each change by entity, and the trailers let `git log --grep` and `abathur review` find the
//! commits that touched a task or decision.

use std::path::Path;

use serde::Serialize;

use crate::error::{Error, ErrorKind, Result};
use crate::service::Service;

/// What `abathur commit` did (or would do, with `dry_run`).
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct LedgerCommitReply {
    /// The commit id; empty for a dry run or when there was nothing to commit.
    pub commit: String,
    /// The message (subject, one line per change, trailers).
    pub message: String,
    /// Files committed, relative to the repository.
    pub files: Vec<String>,
    /// Whether the commit is signed.
    pub signed: bool,
}

/// `abathur commit` options.
#[derive(Clone, Debug, Default)]
pub struct LedgerCommitRequest {
    /// Who made the changes (an `Abathur-Agent` trailer).
    pub agent: Option<String>,
    /// A first paragraph to put before the generated list.
    pub note: Option<String>,
    /// Sign with git's configured key.
    pub sign: bool,
    /// Compose the message, commit nothing.
    pub dry_run: bool,
}

impl Service {
    /// Commits every pending change under `.abathur/` (the cache and lock files are git-ignored).
    pub fn ledger_commit(&self, req: LedgerCommitRequest) -> Result<LedgerCommitReply> {
        let repo = crate::git::open(self.ledger.workdir())?;
        let mut options = git2::StatusOptions::new();
        options
            .pathspec(format!("{}/", crate::ledger::LEDGER_DIR))
            .include_untracked(true)
            .recurse_untracked_dirs(true);
        let statuses = repo
            .statuses(Some(&mut options))
            .map_err(|e| Error::new(ErrorKind::Internal, format!("git status: {e}")))?;
        let head_tree = repo.head().ok().and_then(|h| h.peel_to_tree().ok());
        let mut changed = Vec::new();
        let mut removed = Vec::new();
        let mut lines = Vec::new();
        let mut trailers = Vec::new();
        for entry in statuses.iter() {
            let Ok(path) = entry.path().map(str::to_string) else { continue };
            let s = entry.status();
            if s.is_ignored() {
                continue;
            }
            let deleted = s.is_wt_deleted() || s.is_index_deleted();
            let old = head_tree
                .as_ref()
                .and_then(|t| t.get_path(Path::new(&path)).ok())
                .and_then(|e| e.to_object(&repo).ok())
                .and_then(|o| o.as_blob().map(|b| String::from_utf8_lossy(b.content()).into_owned()));
            let new = if deleted { None } else { std::fs::read_to_string(self.ledger.workdir().join(&path)).ok() };
            if let Some((line, trailer)) = describe(&path, old.as_deref(), new.as_deref()) {
                lines.push(line);
                trailers.extend(trailer);
            }
            if deleted { removed.push(path) } else { changed.push(path) }
        }
        if changed.is_empty() && removed.is_empty() {
            return Ok(LedgerCommitReply {
                commit: String::new(),
                message: String::new(),
                files: Vec::new(),
                signed: false,
            });
        }
        if lines.is_empty() {
            lines.push("file folder markers (.gitkeep)".into());
        }
        lines.sort();
        trailers.sort();
        trailers.dedup();
        if let Some(agent) = req.agent.as_deref().map(str::trim).filter(|a| !a.is_empty()) {
            trailers.push(format!("Abathur-Agent: {agent}"));
        }
        let mut message = format!("abathur: {}\n\n", subject(&lines));
        if let Some(note) = req.note.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
            message.push_str(note);
            message.push_str("\n\n");
        }
        for line in &lines {
            message.push_str(&format!("- {line}\n"));
        }
        if !trailers.is_empty() {
            message.push('\n');
            message.push_str(&trailers.join("\n"));
            message.push('\n');
        }
        let mut files: Vec<String> = changed.iter().chain(&removed).cloned().collect();
        files.sort();
        if req.dry_run {
            return Ok(LedgerCommitReply { commit: String::new(), message, files, signed: false });
        }
        let committed = crate::git::commit(
            &repo,
            &crate::git::CommitRequest { paths: &changed, removed: &removed, message: &message, sign: req.sign },
        )?;
        Ok(LedgerCommitReply { commit: committed.commit, message, files, signed: committed.signed })
    }
}

/// "3 tasks, 1 memory entry" from the change lines' first words.
fn subject(lines: &[String]) -> String {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for line in lines {
        let kind = line.split(' ').next().unwrap_or("file");
        match counts.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, n)) => *n += 1,
            None => counts.push((kind, 1)),
        }
    }
    counts
        .iter()
        .map(|(kind, n)| {
            let noun = match *kind {
                "memory" => "memory entr",
                other => other,
            };
            match (*kind, *n) {
                ("memory", 1) => "1 memory entry".to_string(),
                ("memory", n) => format!("{n} {noun}ies"),
                (_, 1) => format!("1 {noun}"),
                (_, n) => format!("{n} {noun}s"),
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// One line describing a changed ledger file, and its provenance trailer.
fn describe(path: &str, old: Option<&str>, new: Option<&str>) -> Option<(String, Option<String>)> {
    let rel = path.strip_prefix(".abathur/")?;
    let file = Path::new(path);
    // Folder keepers and history copies are committed without a line of their own.
    if rel.ends_with(".gitkeep") || rel.contains("/.history/") {
        return None;
    }
    let verb = match (old, new) {
        (None, Some(_)) => "added",
        (Some(_), None) => "deleted",
        _ => "changed",
    };
    if let Some(name) = rel.strip_prefix("tasks/").and_then(|n| n.strip_suffix(".toml")) {
        let parse = |t: &str| crate::queue::task::TaskRecord::from_toml(t, file).ok();
        let (before, after) = (old.and_then(parse), new.and_then(parse));
        let what = match (&before, &after) {
            (Some(b), Some(a)) if b.state != a.state => format!("{:?} → {:?}", b.state, a.state).to_lowercase(),
            (_, Some(_)) | (_, None) => verb.to_string(),
        };
        let summary = after.as_ref().or(before.as_ref()).map(|t| t.summary.clone()).unwrap_or_default();
        return Some((format!("task {name} {what}: {summary}"), Some(format!("Abathur-Task: {name}"))));
    }
    if rel.starts_with("memory/") && rel.ends_with(".md") {
        let parse = |t: &str| crate::memory::entry::Entry::parse(t, file).ok();
        let entry = new.and_then(parse).or_else(|| old.and_then(parse))?;
        let m = &entry.meta;
        let what = if m.deleted {
            "deleted".to_string()
        } else if m.version == 1 {
            "added".into()
        } else {
            format!("updated (v{})", m.version)
        };
        return Some((format!("memory {}{} {what}", m.namespace, m.key), None));
    }
    if let Some(name) = rel.strip_prefix("decisions/") {
        let parsed = new.or(old).and_then(|t| crate::decision::record::Decision::parse(t, file).ok());
        return Some(match parsed {
            Some(d) => (
                format!("decision {} {verb}: {} ({})", d.meta.id, d.meta.title, d.meta.status.as_str()),
                Some(format!("Abathur-Decision: {}", d.meta.id)),
            ),
            None => (format!("decision {name} {verb}"), None),
        });
    }
    let kind = rel.split('/').next().unwrap_or("file");
    let kind = match kind {
        "milestones" => "milestone",
        "gates" => "gate",
        "templates" => "template",
        _ => "file",
    };
    Some((format!("{kind} {rel} {verb}"), None))
}
