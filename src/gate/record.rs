//! The gate decision record.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::id::Id;
use crate::queue::task::check_chars;
use crate::time::Timestamp;

/// The four decisions of the seed's matrix, and the human resolution of an escalation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// All criteria met: the next milestone opens.
    Approve,
    /// Minor issues: the next milestone opens; each issue becomes a follow-up task.
    Conditional,
    /// Significant gaps: revision tasks are added; the next milestone stays shut.
    Revise,
    /// Fundamental problems: every claim pauses until a human resolves it.
    Escalate,
    /// A human resolved an escalation; the gate awaits a new decision.
    Resolved,
}

impl Decision {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Approve => "approve",
            Decision::Conditional => "conditional",
            Decision::Revise => "revise",
            Decision::Escalate => "escalate",
            Decision::Resolved => "resolved",
        }
    }

    /// Whether the next milestone may proceed.
    pub fn opens(self) -> bool {
        matches!(self, Decision::Approve | Decision::Conditional)
    }
}

/// How serious an issue is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Cosmetic.
    Low,
    /// Should be fixed soon.
    Medium,
    /// Must be fixed before the project ships.
    High,
    /// Blocks everything.
    Critical,
}

/// An issue found at the gate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Issue {
    /// How serious.
    pub severity: Severity,
    /// What is wrong.
    pub description: String,
}

impl Issue {
    /// Parses `high: text` (severity defaults to medium).
    pub fn parse(text: &str) -> Result<Issue> {
        let (severity, description) = match text.split_once(':') {
            Some((s, rest)) => match s.trim().to_ascii_lowercase().as_str() {
                "low" => (Severity::Low, rest),
                "medium" => (Severity::Medium, rest),
                "high" => (Severity::High, rest),
                "critical" => (Severity::Critical, rest),
                _ => (Severity::Medium, text),
            },
            None => (Severity::Medium, text),
        };
        let description = description.trim().to_string();
        if description.is_empty() {
            return Err(Error::invalid("issue", "an issue needs a description, e.g. \"high: coverage is 82%\""));
        }
        check_chars("issue", &description, 2000)?;
        Ok(Issue { severity, description })
    }
}

/// A gate decision file. Field order here is the key order on disk.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GateRecord {
    /// The decision's id; the file name and the tag's last segment.
    pub id: Id,
    /// The milestone whose gate this decides.
    pub milestone: String,
    /// What was decided.
    pub decision: Decision,
    /// Why.
    pub rationale: String,
    /// Who decided (`Name <email>`, git's identity): the principal whose key signs it.
    pub decided_by: String,
    /// The agent that made the decision, when one did (`agent` of the request).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub agent: String,
    /// When.
    pub decided_at: Timestamp,
    /// Whether the decision commit and tag are signed (false only with an explicit --unsigned).
    pub signed: bool,
    /// The tag that seals the decision.
    pub tag: String,
    /// The decision on this gate it follows (none for the first): the chain `gate verify` checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<Id>,
    /// The git blob id of that decision's record file, as it was when this one was made.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub previous_record: String,
    /// Issues found, with severity.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub issues: Vec<Issue>,
    /// Recommendations.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recommendations: Vec<String>,
    /// Context for the agents of the next milestone.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub next_milestone_context: String,
    /// Follow-up (conditional) or revision (revise) tasks created by the decision.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub follow_up_task_ids: Vec<Id>,
    /// The commits this decision covers: from the previous decision's commit (exclusive) to HEAD.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub commit_range: String,
    /// Acceptance criteria with the evidence given.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub criteria: Vec<CriterionCheck>,
    /// Quality targets against the measurements given.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<MetricCheck>,
}

impl GateRecord {
    /// The tag name for a decision: `abathur/gate/<milestone>/<id>`.
    pub fn tag_name(milestone: &str, id: &Id) -> String {
        format!("abathur/gate/{milestone}/{id}")
    }

    /// Parses a record file.
    pub fn from_toml(text: &str, path: &std::path::Path) -> Result<GateRecord> {
        let record: GateRecord =
            toml::from_str(text).map_err(|e| Error::malformed(path, e.message().trim_end().to_string()))?;
        if path.file_stem().and_then(|s| s.to_str()) != Some(record.id.to_string().as_str()) {
            return Err(Error::malformed(path, "field `id` does not match the file name"));
        }
        Ok(record)
    }

    /// The canonical text.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("a gate record always serialises")
    }
}

/// One acceptance criterion and its evidence.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
pub struct CriterionCheck {
    /// The criterion.
    pub criterion: String,
    /// Whether it was marked met.
    pub met: bool,
    /// The evidence given.
    pub evidence: Option<String>,
}

/// One quality target against its measurement.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
pub struct MetricCheck {
    /// The figure's name.
    pub name: String,
    /// The target, e.g. `>= 95%`.
    pub target: String,
    /// The measurement, when one was given.
    pub measured: Option<f64>,
    /// Whether the target holds (`None`: not measured).
    pub met: Option<bool>,
    /// Where the measurement came from.
    pub source: Option<String>,
}
