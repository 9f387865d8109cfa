//! Requests and replies of the milestone operations (CLI `--json` and, later, MCP).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::milestone::record::QualityTarget;

/// `milestone add`: define a milestone.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AddMilestoneRequest {
    /// `M1`, `M2`, ...
    pub id: String,
    /// What it delivers.
    pub title: String,
    /// Position in the sequence (default: after the last).
    #[serde(default)]
    pub order: Option<u32>,
    /// Planned weeks.
    #[serde(default)]
    pub planned_weeks: Option<f64>,
    /// Effort budget in hours.
    #[serde(default)]
    pub budget_hours: Option<f64>,
    /// Longer description.
    #[serde(default)]
    pub description: Option<String>,
    /// Acceptance criteria.
    #[serde(default)]
    pub acceptance_criteria: Vec<String>,
    /// Quality targets such as `coverage>=95%` or `read_latency_ms<50ms`.
    #[serde(default)]
    pub quality_targets: Vec<String>,
}

/// `milestone update`: change a milestone's plan. Criteria can only be appended, since gate
/// evidence (`--met N: ...`) and decision records refer to them by number; targets are set by name.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMilestoneRequest {
    /// The milestone to change.
    pub id: String,
    /// New title.
    #[serde(default)]
    pub title: Option<String>,
    /// New planned weeks.
    #[serde(default)]
    pub planned_weeks: Option<f64>,
    /// New effort budget in hours.
    #[serde(default)]
    pub budget_hours: Option<f64>,
    /// New description.
    #[serde(default)]
    pub description: Option<String>,
    /// Acceptance criteria to append.
    #[serde(default)]
    pub add_criteria: Vec<String>,
    /// Quality targets to add, or to replace the target of the same name (`coverage>=95%`).
    #[serde(default)]
    pub set_targets: Vec<String>,
    /// Names of quality targets to remove.
    #[serde(default)]
    pub remove_targets: Vec<String>,
    /// The milestone's checklist, replaced whole (as a TODO tool writes it): items with `content`,
    /// `status` (pending, in_progress, completed) and `activeForm`.
    #[serde(default)]
    pub todos: Option<Vec<crate::milestone::record::Todo>>,
}

/// Reply of `milestone add`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct AddMilestoneReply {
    /// Milestones created.
    pub created: Vec<String>,
    /// Milestones that already existed exactly as given.
    pub unchanged: Vec<String>,
}

/// Progress of a milestone's tasks, derived from the task files.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
pub struct Progress {
    /// Tasks of the milestone.
    pub total_tasks: usize,
    /// Count per status (statuses with no task omitted).
    pub by_status: std::collections::BTreeMap<String, usize>,
    /// Completed tasks as a percentage of unfinished plus completed ones (cancelled excluded).
    pub completion_percent: f64,
    /// Sum of the estimates of the tasks not cancelled.
    pub estimated_hours: f64,
    /// Time from claim to completion of finished tasks, plus time running so far of running ones.
    pub spent_hours: f64,
    /// The budget.
    pub budget_hours: Option<f64>,
    /// Estimated hours as a percentage of the budget.
    pub estimate_vs_budget_percent: Option<f64>,
    /// Spent hours as a percentage of the budget.
    pub spent_vs_budget_percent: Option<f64>,
}

/// A milestone with its derived progress.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct MilestoneDetail {
    /// `M1`, ...
    pub id: String,
    /// What it delivers.
    pub title: String,
    /// Position in the sequence.
    pub order: u32,
    /// Planned weeks.
    pub planned_weeks: Option<f64>,
    /// Longer description.
    pub description: String,
    /// Acceptance criteria.
    pub acceptance_criteria: Vec<String>,
    /// Quality targets.
    pub quality_targets: Vec<QualityTarget>,
    /// Task progress and effort.
    pub progress: Progress,
    /// The validation gate at the end of this milestone: `undecided` until a decision is recorded.
    pub gate: String,
    /// The coordinator's checklist for the milestone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub todos: Vec<crate::milestone::record::Todo>,
    /// The project requirements it delivers, as `R1 (met)`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requirements: Vec<String>,
}

/// Reply of `milestone list`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct MilestoneList {
    /// Milestones in order, with progress.
    pub milestones: Vec<MilestoneDetail>,
    /// Milestone files that could not be read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}
