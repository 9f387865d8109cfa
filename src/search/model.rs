//! The local embedding model.

/// The model semantic search uses unless `search.model` says otherwise.
pub const DEFAULT_MODEL: &str = "all-minilm-l6-v2";
