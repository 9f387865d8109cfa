//! The messages of the commits abathur makes on the ledger branch: a subject that counts what
//! changed, one line per change by entity, and provenance trailers (`Abathur-Task`,
//! `Abathur-Decision`), so `git log` of the ledger alone tells who did what.

use std::path::Path;

use crate::ledger::history;

/// Changes listed one per line in a message; past this many, the rest are counted.
const MAX_LINES: usize = 100;

/// The message for committing `paths` (relative to the ledger folder `root`) on the ledger tip.
pub fn message_for(repo: &git2::Repository, root: &Path, paths: &[String]) -> String {
    let tip_tree = history::tip(repo).and_then(|c| c.tree().ok());
    let mut lines = Vec::new();
    let mut trailers = Vec::new();
    for rel in paths {
        let old = tip_tree
            .as_ref()
            .and_then(|t| t.get_path(Path::new(&history::tree_path(rel))).ok())
            .and_then(|e| e.to_object(repo).ok())
            .and_then(|o| o.as_blob().map(|b| String::from_utf8_lossy(b.content()).into_owned()));
        let new = crate::ledger::codec::read_optional(&root.join(rel)).ok().flatten();
        if let Some((line, trailer)) = describe(rel, old.as_deref(), new.as_deref()) {
            lines.push(line);
            trailers.extend(trailer);
        }
    }
    if lines.is_empty() {
        lines.push("file folder markers (.gitkeep)".into());
    }
    lines.sort();
    trailers.sort();
    trailers.dedup();
    let mut message = format!("abathur: {}\n\n", subject(&lines));
    // A bulk change (a migration, a seeded ledger) names its first changes and counts the rest.
    for line in lines.iter().take(MAX_LINES) {
        message.push_str(&format!("- {line}\n"));
    }
    if lines.len() > MAX_LINES {
        message.push_str(&format!("- and {} more\n", lines.len() - MAX_LINES));
        trailers.clear();
    }
    if !trailers.is_empty() {
        message.push('\n');
        message.push_str(&trailers.join("\n"));
        message.push('\n');
    }
    message
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
fn describe(rel: &str, old: Option<&str>, new: Option<&str>) -> Option<(String, Option<String>)> {
    let file = Path::new(rel);
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
