//! One memory entry version: a Markdown file with TOML front matter, and where it lives.
//!
//! `.abathur/memory/project/error-codes.md` holds the current version of key `error-codes` in namespace
//! `project:`; every earlier version is an immutable copy in `.abathur/memory/project/.history/`. A
//! reviewer reads the entry as Markdown and sees an update as a diff of one file; two branches that
//! update the same key conflict on that file, which is the honest outcome.

use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::time::Timestamp;

/// Largest value, in bytes: memory holds knowledge, not artefacts.
pub const MAX_VALUE_BYTES: usize = 256 * 1024;
/// Longest key.
pub const MAX_KEY_CHARS: usize = 128;
/// Longest namespace segment, and most segments.
const MAX_SEGMENT_CHARS: usize = 64;
const MAX_SEGMENTS: usize = 6;
/// Longest author name.
const MAX_AUTHOR_CHARS: usize = 200;
/// Front matter fence (the TOML convention of Hugo and Zola).
const FENCE: &str = "+++";

/// How long the knowledge is meant to live (the seed's three kinds).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MemoryType {
    /// Facts and conventions: permanent until changed.
    Semantic,
    /// What happened: expires after a TTL (default 90 days).
    Episodic,
    /// How to do things: permanent until changed.
    Procedural,
}

impl MemoryType {
    /// The lowercase name used in files and filters.
    pub fn as_str(self) -> &'static str {
        match self {
            MemoryType::Semantic => "semantic",
            MemoryType::Episodic => "episodic",
            MemoryType::Procedural => "procedural",
        }
    }
}

/// How the body is to be read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ValueFormat {
    /// Markdown text.
    #[default]
    Markdown,
    /// A JSON document (stored pretty-printed).
    Json,
}

/// The front matter of an entry file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EntryMeta {
    /// Namespace, always ending in `:` (e.g. `project:` or `task:01jx…:`).
    pub namespace: String,
    /// Key within the namespace.
    pub key: String,
    /// semantic, episodic or procedural.
    #[serde(rename = "type")]
    pub memory_type: MemoryType,
    /// 1 for the first version; every update and delete adds one.
    pub version: u32,
    /// markdown or json.
    #[serde(default)]
    pub format: ValueFormat,
    /// Who wrote this version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// When version 1 was written.
    pub created_at: Timestamp,
    /// When this version was written.
    pub updated_at: Timestamp,
    /// When an episodic entry stops being read or searched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
    /// A tombstone: the key was deleted in this version.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
}

/// A whole entry version: front matter and body.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// The front matter.
    pub meta: EntryMeta,
    /// The value: Markdown, or pretty JSON when `meta.format` is json.
    pub body: String,
}

impl Entry {
    /// The file text: `+++`, TOML front matter, `+++`, then the body.
    pub fn render(&self) -> String {
        let front = toml::to_string(&self.meta).expect("front matter serialises");
        let mut text = format!("{FENCE}\n{front}{FENCE}\n");
        if !self.body.is_empty() {
            text.push('\n');
            text.push_str(&self.body);
            if !self.body.ends_with('\n') {
                text.push('\n');
            }
        }
        text
    }

    /// Parses an entry file, naming the file and field on error.
    pub fn parse(text: &str, path: &Path) -> Result<Entry> {
        let (front, body) = crate::ledger::codec::split_front_matter(text, FENCE).ok_or_else(|| {
            Error::malformed(
                path,
                format!("front matter: the file must start with a `{FENCE}` line, TOML, and a closing `{FENCE}` line"),
            )
        })?;
        let meta: EntryMeta = toml::from_str(front)
            .map_err(|e| Error::malformed(path, format!("front matter: {}", e.message().trim_end())))?;
        let check =
            |field: &str, r: Result<String>| r.map_err(|e| Error::malformed(path, format!("{field}: {}", e.message)));
        let ns = check("namespace", normalize_namespace(&meta.namespace))?;
        let key = check("key", normalize_key(&meta.key))?;
        if ns != meta.namespace || key != meta.key {
            return Err(Error::malformed(path, "namespace/key: not in canonical lowercase form"));
        }
        if meta.version == 0 {
            return Err(Error::malformed(path, "version: must be 1 or more"));
        }
        let body = body.strip_prefix('\n').unwrap_or(body).to_string();
        if body.len() > MAX_VALUE_BYTES {
            return Err(Error::malformed(path, format!("value: {} bytes, at most {MAX_VALUE_BYTES}", body.len())));
        }
        if meta.format == ValueFormat::Json && !meta.deleted {
            serde_json::from_str::<serde_json::Value>(&body)
                .map_err(|e| Error::malformed(path, format!("value: format is json but the body is not JSON: {e}")))?;
        }
        Ok(Entry { meta, body })
    }

    /// Whether reads and search should skip this version at `now`.
    pub fn is_live(&self, now: Timestamp) -> bool {
        !self.meta.deleted && self.meta.expires_at.is_none_or(|at| at > now)
    }
}

/// Canonical namespace: lowercase segments of `[a-z0-9_-]` separated and ended by `:`.
///
/// Case is folded because file systems on laptops often fold it anyway; a trailing `:` is added.
pub fn normalize_namespace(text: &str) -> Result<String> {
    let lower = text.trim().to_ascii_lowercase();
    let body = lower.strip_suffix(':').unwrap_or(&lower);
    let hint = "write it like `project:`, `session:<id>:`, `task:<id>:` or `agent:<type>:`";
    if body.is_empty() {
        return Err(Error::invalid("namespace", "is empty").hint(hint));
    }
    let segments: Vec<&str> = body.split(':').collect();
    if segments.len() > MAX_SEGMENTS {
        return Err(Error::invalid("namespace", format!("has {} segments, at most {MAX_SEGMENTS}", segments.len())));
    }
    for seg in &segments {
        let valid = !seg.is_empty()
            && seg.len() <= MAX_SEGMENT_CHARS
            && seg.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
            && !seg.starts_with('-');
        if !valid {
            return Err(Error::invalid(
                "namespace",
                format!("`{}`: each segment is 1-{MAX_SEGMENT_CHARS} of a-z, 0-9, `_`, `-`", text.escape_debug()),
            )
            .hint(hint));
        }
    }
    Ok(format!("{body}:"))
}

/// Canonical key: lowercase `[a-z0-9._-]`, not starting with `.` or `-`.
pub fn normalize_key(text: &str) -> Result<String> {
    let key = text.trim().to_ascii_lowercase();
    let valid = !key.is_empty()
        && key.len() <= MAX_KEY_CHARS
        && key.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-' | b'.'))
        && !key.starts_with(['.', '-']);
    if !valid {
        return Err(Error::invalid(
            "key",
            format!(
                "`{}`: 1-{MAX_KEY_CHARS} of a-z, 0-9, `.`, `_`, `-`, not starting with `.` or `-`",
                text.escape_debug()
            ),
        ));
    }
    Ok(key)
}

/// Checks an author name (free text, one line, bounded).
pub fn check_author(author: Option<String>) -> Result<Option<String>> {
    match author.map(|a| a.trim().to_string()).filter(|a| !a.is_empty()) {
        Some(a) if a.chars().count() > MAX_AUTHOR_CHARS || a.chars().any(char::is_control) => {
            Err(Error::invalid("author", format!("at most {MAX_AUTHOR_CHARS} characters on one line")))
        }
        other => Ok(other),
    }
}

/// Where a namespace's entries live under `memory/`.
pub fn namespace_dir(memory_dir: &Path, namespace: &str) -> PathBuf {
    let mut dir = memory_dir.to_path_buf();
    for seg in namespace.trim_end_matches(':').split(':') {
        dir.push(seg);
    }
    dir
}

/// The current-version file of a key.
pub fn current_path(memory_dir: &Path, namespace: &str, key: &str) -> PathBuf {
    namespace_dir(memory_dir, namespace).join(format!("{key}.md"))
}

/// The immutable copy of an earlier version.
pub fn history_path(memory_dir: &Path, namespace: &str, key: &str, version: u32) -> PathBuf {
    namespace_dir(memory_dir, namespace).join(".history").join(format!("{key}.v{version}.md"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_are_canonical_and_hostile_ones_refused() {
        assert_eq!(normalize_namespace("Project").unwrap(), "project:");
        assert_eq!(normalize_namespace("task:01JX:").unwrap(), "task:01jx:");
        for bad in ["", ":", "a::b", "../x", "a/b", "a:.b", "a b", "-x", &"a:".repeat(7)] {
            assert!(normalize_namespace(bad).is_err(), "{bad:?} accepted");
        }
        for bad in ["", ".hidden", "a/b", "..", "-x", "a b", &"k".repeat(129)] {
            assert!(normalize_key(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn an_entry_survives_render_and_parse() {
        let at = Timestamp::parse("2026-11-24T10:00:00Z").unwrap();
        let entry = Entry {
            meta: EntryMeta {
                namespace: "project:".into(),
                key: "error-codes".into(),
                memory_type: MemoryType::Semantic,
                version: 2,
                format: ValueFormat::Markdown,
                author: Some("rust-dev".into()),
                created_at: at,
                updated_at: at,
                expires_at: None,
                deleted: false,
            },
            body: "# Errors\n\nExit code 3 means retry.\n".into(),
        };
        let text = entry.render();
        assert!(text.starts_with("+++\nnamespace = \"project:\"\n"), "{text}");
        assert_eq!(Entry::parse(&text, Path::new("x.md")).unwrap(), entry);
    }
}
