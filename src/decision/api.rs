//! Requests and replies of the decision-record operations (CLI `--json` and the MCP tool).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::decision::record::DecisionStatus;
use crate::time::Timestamp;

/// `decision_record`: record an architecture or process decision.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionAddRequest {
    /// What was decided, in one line.
    pub title: String,
    /// Why a decision was needed: forces, constraints, options.
    #[serde(default)]
    pub context: String,
    /// What was decided.
    #[serde(default)]
    pub decision: String,
    /// What follows from it, good and bad.
    #[serde(default)]
    pub consequences: String,
    /// proposed or accepted (default accepted).
    #[serde(default)]
    pub status: Option<DecisionStatus>,
    /// Tasks it concerns (ids or unique prefixes).
    #[serde(default)]
    pub tasks: Vec<String>,
    /// Milestones it concerns.
    #[serde(default)]
    pub milestones: Vec<String>,
    /// Gate decisions it concerns (ids or unique prefixes).
    #[serde(default)]
    pub gates: Vec<String>,
    /// Earlier decisions it replaces (ids or unique prefixes); they become superseded.
    #[serde(default)]
    pub supersedes: Vec<String>,
    /// Who records it.
    #[serde(default)]
    pub author: Option<String>,
}

/// Reply of add, supersede and status changes.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct DecisionWriteReply {
    /// The record's id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// Its status now.
    pub status: DecisionStatus,
    /// Its file, relative to the repository.
    pub path: String,
    /// Decisions marked superseded by this write.
    pub superseded: Vec<String>,
}

/// One row of `decision list`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct DecisionSummary {
    /// The record's id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// Its status.
    pub status: DecisionStatus,
    /// When it was recorded.
    pub date: Timestamp,
    /// Milestones it concerns.
    pub milestones: Vec<String>,
    /// Its successor, when superseded.
    pub superseded_by: Option<String>,
    /// Its file, relative to the repository.
    pub path: String,
}

/// Reply of `decision list`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct DecisionListReply {
    /// Decisions, oldest first.
    pub decisions: Vec<DecisionSummary>,
}

/// Reply of `decision show`: the front matter and the body.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct DecisionDetail {
    /// Front matter fields.
    #[serde(flatten)]
    pub meta: crate::decision::record::DecisionMeta,
    /// The Markdown body.
    pub body: String,
    /// Its file, relative to the repository.
    pub path: String,
}
