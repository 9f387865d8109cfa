//! Requests and replies of search and indexing, shared by the CLI (`--json`) and the MCP tools.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::queue::task::Status;
use crate::search::index::CatchUpReport;
use crate::search::source::Kind;

/// How hits are found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Words: tantivy BM25 with English stemming.
    Text,
    /// Meaning: cosine similarity of local embeddings.
    Semantic,
    /// Both, fused (docs/search.md); falls back to text when no model is installed.
    #[default]
    Hybrid,
}

/// `search`: one query over memory, decisions, reports and tasks.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchRequest {
    /// What to look for, in words.
    pub query: String,
    /// text, semantic or hybrid (default).
    #[serde(default)]
    pub mode: Option<Mode>,
    /// Only these kinds: memory, decision, report, task (default all).
    #[serde(default)]
    pub kinds: Vec<Kind>,
    /// Only memory entries whose namespace starts with this whole segment path (e.g. `task:` or `agent:rust-dev:`).
    #[serde(default)]
    pub namespace: Option<String>,
    /// Only documents of this milestone.
    #[serde(default)]
    pub milestone: Option<String>,
    /// Only tasks with this live status (implies kind task).
    #[serde(default)]
    pub status: Option<Status>,
    /// At most this many hits (1-100, default 10).
    #[serde(default)]
    pub limit: Option<usize>,
    /// Read the query in tantivy's query language (`+must -not "a phrase" title:word`) instead of as
    /// plain words, where punctuation, dashes, colons and quotes are just text.
    #[serde(default)]
    pub syntax: bool,
}

/// One ranked hit: the best chunk of one document.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct Hit {
    /// memory, decision, report or task.
    pub kind: Kind,
    /// The entity: `namespace:key` for memory, the task id, or the file path for decisions and reports.
    pub id: String,
    /// The file, relative to the repository.
    pub path: String,
    /// Which chunk of the file matched best (0-based).
    pub chunk: u64,
    /// Rank score in the mode used (hybrid: fused 0..1; text: BM25; semantic: cosine).
    pub score: f32,
    /// BM25 score, when the words matched.
    pub text_score: Option<f32>,
    /// Cosine similarity, when the chunk has a vector.
    pub semantic_score: Option<f32>,
    /// Document title.
    pub title: String,
    /// Heading path of the chunk.
    pub heading: String,
    /// A short passage of the chunk, around the matched words when there are any.
    pub snippet: String,
    /// Milestone, when the document has one.
    pub milestone: Option<String>,
    /// Live status, for tasks.
    pub status: Option<Status>,
}

/// State of the index a search answered from.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
pub struct IndexInfo {
    /// Chunks in the index.
    pub chunks_total: usize,
    /// Chunks without a vector yet (semantic search does not see them; `abathur index` embeds them).
    pub chunks_without_vectors: usize,
    /// True when another process was updating the index and this answer comes from the last complete one.
    pub stale: bool,
}

/// Reply of `search`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct SearchReply {
    /// The mode actually used (hybrid becomes text when no model is installed).
    pub mode: Mode,
    /// Hits, best first.
    pub hits: Vec<Hit>,
    /// Things the caller should know: why semantic search is off, a stale index.
    pub notices: Vec<String>,
    /// The index answered from.
    pub index: IndexInfo,
}

/// `index`: bring the search index up to date.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IndexRequest {
    /// Start from an empty index (vectors of unchanged chunks are still reused).
    #[serde(default)]
    pub rebuild: bool,
    /// Text only: do not load the model even if it is installed.
    #[serde(default)]
    pub text_only: bool,
}

/// Reply of `index`.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct IndexReply {
    /// What was done.
    #[serde(flatten)]
    pub report: CatchUpReport,
    /// The model whose vectors the index holds, if any.
    pub model: Option<String>,
    /// Things the caller should know (e.g. why no vectors were made).
    pub notices: Vec<String>,
}
