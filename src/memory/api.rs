//! Requests and replies of the memory operations, shared by the CLI (`--json`) and the MCP tools.
//!
//! Field names follow the earlier implementation's `memory_*` tools (`namespace`, `key`, `value`,
//! `memory_type`, `created_by`, `updated_by`), so agents' calls keep working.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::memory::entry::{MemoryType, ValueFormat};
use crate::time::Timestamp;

/// `memory_add`: store a new key (or bring back a deleted or expired one).
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MemoryAddRequest {
    /// Namespace such as `project:`, `session:<id>:`, `task:<id>:` or `agent:<type>:`.
    pub namespace: String,
    /// Key within the namespace: a-z, 0-9, `.`, `_`, `-`.
    pub key: String,
    /// The value: a string is stored as Markdown, anything else as JSON (at most 256 KiB).
    pub value: serde_json::Value,
    /// semantic (default), episodic or procedural.
    #[serde(default)]
    pub memory_type: Option<MemoryType>,
    /// Who writes it.
    #[serde(default)]
    pub created_by: Option<String>,
    /// Episodic only: lifetime such as `7d` or `12h` (default from config: 90 days).
    #[serde(default)]
    pub ttl: Option<String>,
}

/// `memory_update`: a new version of a live key.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MemoryUpdateRequest {
    /// Namespace of the entry.
    pub namespace: String,
    /// Key of the entry.
    pub key: String,
    /// The new value (string: Markdown; anything else: JSON).
    pub value: serde_json::Value,
    /// Who writes it.
    #[serde(default)]
    pub updated_by: Option<String>,
    /// Episodic only: a new lifetime from now (default: the configured TTL again).
    #[serde(default)]
    pub ttl: Option<String>,
}

/// `memory_get` (and `memory_delete`, `memory_history`): one key, optionally one version.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MemoryKeyRequest {
    /// Namespace of the entry.
    pub namespace: String,
    /// Key of the entry.
    pub key: String,
    /// A specific version (readable even when deleted or expired); default the current live one.
    #[serde(default)]
    pub version: Option<u32>,
    /// Who deletes it (delete only).
    #[serde(default)]
    pub deleted_by: Option<String>,
}

/// Reply of add, update and delete.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct MemoryWriteReply {
    /// Canonical namespace.
    pub namespace: String,
    /// Canonical key.
    pub key: String,
    /// The version just written.
    pub version: u32,
    /// created, updated or deleted.
    pub status: String,
    /// The file, relative to the repository.
    pub path: String,
}

/// One entry version as read.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct MemoryEntryReply {
    /// Canonical namespace.
    pub namespace: String,
    /// Canonical key.
    pub key: String,
    /// semantic, episodic or procedural.
    pub memory_type: MemoryType,
    /// Version number.
    pub version: u32,
    /// markdown or json.
    pub format: ValueFormat,
    /// The value: a string for Markdown, the JSON value for json.
    pub value: serde_json::Value,
    /// Who wrote this version.
    pub author: Option<String>,
    /// When version 1 was written.
    pub created_at: Timestamp,
    /// When this version was written.
    pub updated_at: Timestamp,
    /// When it expires (episodic).
    pub expires_at: Option<Timestamp>,
    /// Whether this version is a tombstone.
    pub deleted: bool,
    /// The file, relative to the repository.
    pub path: String,
}

/// `memory_list`: entries by namespace prefix.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MemoryListRequest {
    /// Only namespaces starting with this (e.g. `task:` or `agent:rust-dev:`).
    #[serde(default)]
    pub namespace_prefix: Option<String>,
    /// Only this type.
    #[serde(default)]
    pub memory_type: Option<MemoryType>,
    /// Also list expired episodic entries.
    #[serde(default)]
    pub include_expired: bool,
    /// At most this many per page, 1..=500 (default 100).
    #[serde(default)]
    pub limit: Option<usize>,
    /// The `next_cursor` of the previous page: the entries after it.
    #[serde(default)]
    pub cursor: Option<String>,
}

/// One row of a listing.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct MemorySummary {
    /// Canonical namespace.
    pub namespace: String,
    /// Canonical key.
    pub key: String,
    /// semantic, episodic or procedural.
    pub memory_type: MemoryType,
    /// Current version.
    pub version: u32,
    /// Who wrote the current version.
    pub author: Option<String>,
    /// When the current version was written.
    pub updated_at: Timestamp,
    /// When it expires (episodic).
    pub expires_at: Option<Timestamp>,
    /// First line of the value.
    pub summary: String,
}

/// Reply of `memory_list`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct MemoryListReply {
    /// Entries, by namespace then key.
    pub entries: Vec<MemorySummary>,
    /// How many matched before the limit (on every page, all of them).
    pub total: usize,
    /// Present when more entries follow: pass it as `cursor` for the next page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// Reply of `memory_history`: every version, newest first.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct MemoryHistoryReply {
    /// The versions, newest first.
    pub versions: Vec<MemoryEntryReply>,
}

/// `memory_prune`: remove expired episodic entries and their history.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MemoryPruneRequest {
    /// Only namespaces starting with this.
    #[serde(default)]
    pub namespace_prefix: Option<String>,
    /// Report what would go, remove nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// Reply of `memory_prune`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct MemoryPruneReply {
    /// The expired entries (removed unless dry_run).
    pub pruned: Vec<MemorySummary>,
    /// Files removed (current and history).
    pub files_removed: usize,
    /// Whether this was a dry run.
    pub dry_run: bool,
}
