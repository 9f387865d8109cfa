//! Requests and replies of the gate use cases (`gate status`, `check`, the decisions, `verify`),
//! shared by the CLI and the MCP tools.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::gate::record::{CriterionCheck, Decision, MetricCheck};

/// What to check the gate with.
#[derive(Clone, Debug, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckRequest {
    /// The milestone.
    pub milestone: String,
    /// JUnit XML reports (test pass rate).
    #[serde(default)]
    pub junit: Vec<PathBuf>,
    /// An LCOV tracefile (line coverage).
    #[serde(default)]
    pub lcov: Option<PathBuf>,
    /// A Cobertura XML report (line coverage).
    #[serde(default)]
    pub cobertura: Option<PathBuf>,
    /// Benchmark JSON files (named figures).
    #[serde(default)]
    pub bench: Vec<PathBuf>,
    /// Acceptance criteria met, as `N: evidence` (N counts from 1).
    #[serde(default)]
    pub met: Vec<String>,
}

/// Reply of `gate check`.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
pub struct GateCheck {
    /// The milestone.
    pub milestone: String,
    /// Tasks of the milestone, not counting cancelled ones.
    pub tasks_total: usize,
    /// Of which completed.
    pub tasks_completed: usize,
    /// Acceptance criteria.
    pub criteria: Vec<CriterionCheck>,
    /// Quality targets.
    pub metrics: Vec<MetricCheck>,
    /// What the evidence suggests.
    pub proposed_decision: Decision,
    /// Why.
    pub reasons: Vec<String>,
}

/// `gate <decision> M`: record a go/no-go decision.
#[derive(Clone, Debug, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DecideRequest {
    /// The milestone whose gate is decided.
    pub milestone: String,
    /// approve, conditional, revise or escalate.
    pub decision: Option<Decision>,
    /// Why (required).
    pub rationale: String,
    /// Issues, as `severity: description` (low, medium, high, critical).
    #[serde(default)]
    pub issues: Vec<String>,
    /// Recommendations.
    #[serde(default)]
    pub recommendations: Vec<String>,
    /// Context for the next milestone's agents.
    #[serde(default)]
    pub next_milestone_context: Option<String>,
    /// Record without signing, marked unsigned (pending a signature).
    #[serde(default)]
    pub unsigned: bool,
    /// Agent type of the follow-up or revision tasks (default: the type most of the milestone's
    /// tasks have, else the configured default).
    #[serde(default)]
    pub agent_type: Option<String>,
    /// The agent deciding, when one does: recorded as the creator (`created_by`, source agent) of
    /// the tasks the decision makes; `decided_by` stays the signing identity.
    #[serde(default)]
    pub agent: Option<String>,
    /// Evidence to embed (as for `gate check`); the milestone is taken from `milestone`.
    #[serde(default)]
    pub evidence: Option<CheckRequest>,
}

/// Reply of a gate decision.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
pub struct DecideReply {
    /// The decision record's id.
    pub decision_id: String,
    /// The milestone.
    pub milestone: String,
    /// What was decided.
    pub decision: Decision,
    /// The commit holding the report and record.
    pub commit: String,
    /// The annotated tag sealing it.
    pub tag: String,
    /// Whether commit and tag are signed.
    pub signed: bool,
    /// The report, relative to the work tree.
    pub report: String,
    /// Tasks the decision created (follow-ups or revisions).
    pub follow_up_task_ids: Vec<String>,
    /// Whether the next milestone's tasks may now be claimed.
    pub next_milestone_opens: bool,
    /// What to do now, as the seed's workflow goes on from this decision.
    pub next_step: String,
}

/// One milestone's gate.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
pub struct GateStatus {
    /// The milestone.
    pub milestone: String,
    /// Its order.
    pub order: u32,
    /// `undecided` or the latest decision.
    pub state: String,
    /// When it was decided.
    pub decided_at: Option<String>,
    /// Who decided.
    pub decided_by: Option<String>,
    /// Whether the latest decision is signed.
    pub signed: Option<bool>,
    /// Its tag.
    pub tag: Option<String>,
    /// Whether the latest decision counts: `verified`, `unsigned (allowed by [gates] allow_unsigned)`,
    /// or why it does not (then it opens nothing).
    pub verification: Option<String>,
}

/// Reply of `gate status`.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
pub struct GateStatusReply {
    /// Every milestone's gate, in order.
    pub gates: Vec<GateStatus>,
    /// Set while an escalation pauses every claim.
    pub paused: Option<String>,
}

/// The verdict on one decision.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
pub struct DecisionCheck {
    /// The decision id.
    pub id: String,
    /// Its milestone.
    pub milestone: String,
    /// What was decided.
    pub decision: Decision,
    /// When.
    pub decided_at: String,
    /// Who, as recorded.
    pub decided_by: String,
    /// The key that signed the tag, as git reports it.
    pub signer: Option<String>,
    /// `verified`, or what is wrong.
    pub status: String,
    /// Everything wrong with it (empty when verified).
    pub problems: Vec<String>,
}

/// Reply of `gate verify` and `gate log`.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
pub struct VerifyReport {
    /// Decisions checked, oldest first.
    pub decisions: Vec<DecisionCheck>,
    /// The policy in force and where it came from.
    pub policy: Option<String>,
    /// Problems not tied to one decision (stray tags, missing policy, broken chains).
    pub problems: Vec<String>,
    /// Whether everything verified.
    pub ok: bool,
}
