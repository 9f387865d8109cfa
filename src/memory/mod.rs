//! Project memory: what the project knows, as one Markdown file per entry under `.abathur/memory/`.
//!
//! An entry is a namespace (`project:`, `session:<id>:`, `task:<id>:`, `agent:<type>:` ...), a key, a
//! type (semantic facts, episodic events that expire, procedural how-tos) and a value. Updates keep
//! every earlier version; delete writes a tombstone version, so history is never lost and the key can
//! be added again. See docs/memory.md.

pub mod api;
pub mod entry;
mod ops;
