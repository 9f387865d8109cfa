//! `abathur context` (MCP `context`): what an agent starting up needs, in one call of bounded size:
//! the milestone in progress and its gate, a pause, the context the last gate handed over, the ready
//! work of its type, what it already holds, the latest decisions and the project's memory.
//!
//! Every part is a capped summary of an existing reply (the lists say how many there are in all),
//! so the size stays bounded however large the ledger grows.

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::memory::api::MemoryListRequest;
use crate::queue::api::{ListRequest, TaskSummary};
use crate::queue::task::Status;
use crate::service::Service;

/// How many of each list the context shows.
const SHOWN: usize = 8;

/// `context`: what an agent starting up needs.
#[derive(Clone, Debug, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ContextRequest {
    /// Your agent type: the ready work shown is yours.
    #[serde(default)]
    pub agent_type: Option<String>,
    /// Your name: the tasks you hold are shown.
    #[serde(default)]
    pub agent: Option<String>,
}

/// The milestone in progress.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
pub struct MilestoneNow {
    /// Its id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// Completed tasks of all its tasks.
    pub completed: usize,
    /// All its tasks (cancelled excluded).
    pub total: usize,
    /// Estimated and spent hours against the budget, as `estimated / spent / budget`.
    pub effort: String,
    /// Its gate: `undecided` or the latest decision, and whether that decision counts.
    pub gate: String,
}

/// A task in a short list.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
pub struct TaskLine {
    /// Its id.
    pub id: String,
    /// Its summary.
    pub summary: String,
    /// Its milestone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub milestone: Option<String>,
    /// Its calculated priority.
    pub priority: f64,
}

/// Reply of `context`.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
pub struct ContextReply {
    /// The first milestone whose gate has not opened, if there are milestones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub milestone: Option<MilestoneNow>,
    /// Set while an escalation pauses every claim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused: Option<String>,
    /// What the gate that opened the milestone in progress handed over to its agents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handover: Option<String>,
    /// Every gate, as `M1: approve (verified)`.
    pub gates: Vec<String>,
    /// The best ready tasks (of your type, when given).
    pub ready: Vec<TaskLine>,
    /// How many are ready in all.
    pub ready_total: usize,
    /// The tasks you hold (when `agent` is given).
    pub holding: Vec<TaskLine>,
    /// Counts per status.
    pub counts: std::collections::BTreeMap<String, usize>,
    /// The latest decision records, as `id: title (status)`.
    pub decisions: Vec<String>,
    /// The project's memory (`project:` namespace), as `key: first line`.
    pub memory: Vec<String>,
    /// How many `project:` entries there are in all.
    pub memory_total: usize,
}

impl Service {
    /// `context`: the state an agent starting up needs, in one bounded reply.
    pub fn context(&self, req: ContextRequest) -> Result<ContextReply> {
        let line = |t: &TaskSummary| TaskLine {
            id: t.id.clone(),
            summary: t.summary.chars().take(100).collect(),
            milestone: t.milestone.clone(),
            priority: t.calculated_priority,
        };
        let list = |status: Status, agent_type: Option<String>, limit: u32| {
            self.task_list(ListRequest { status: Some(status), agent_type, limit: Some(limit), ..Default::default() })
        };
        let ready = list(Status::Ready, req.agent_type.clone(), SHOWN as u32)?;
        let holding = match &req.agent {
            None => Vec::new(),
            Some(agent) => list(Status::Running, None, 500)?
                .tasks
                .iter()
                .filter(|t| t.lease_holder.as_deref() == Some(agent.as_str()))
                .take(SHOWN)
                .map(line)
                .collect(),
        };
        let status = self.task_queue_status()?;
        let counts = [
            ("pending", status.pending),
            ("blocked", status.blocked),
            ("ready", status.ready),
            ("running", status.running),
            ("completed", status.completed),
            ("failed", status.failed),
            ("cancelled", status.cancelled),
        ]
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(s, n)| (s.to_string(), n))
        .collect();

        let gates = self.gate_status()?;
        let counts_text = |g: &crate::gate::api::GateStatus| match &g.verification {
            Some(v) => format!("{}: {} ({v})", g.milestone, g.state),
            None => format!("{}: {}", g.milestone, g.state),
        };
        let open = |g: &crate::gate::api::GateStatus| {
            matches!(g.state.as_str(), "approve" | "conditional")
                && g.verification.as_deref().is_some_and(|v| v == "verified" || v.starts_with("unsigned (allowed"))
        };
        let current = gates.gates.iter().find(|g| !open(g));
        let milestone = match current {
            None => None,
            Some(g) => {
                let m = self.milestone_show(&g.milestone)?;
                let p = &m.progress;
                let done = p.by_status.get("completed").copied().unwrap_or(0);
                let total = p.total_tasks - p.by_status.get("cancelled").copied().unwrap_or(0);
                let budget = p.budget_hours.map(|b| format!("{b:.1}h")).unwrap_or_else(|| "no budget".into());
                Some(MilestoneNow {
                    id: m.id,
                    title: m.title,
                    completed: done,
                    total,
                    effort: format!("{:.1}h estimated / {:.1}h spent / {budget}", p.estimated_hours, p.spent_hours),
                    gate: counts_text(g),
                })
            }
        };
        let handover = current.and_then(|g| self.handed_over(Some(&g.milestone)));
        let mut decisions = self.decision_list(None)?.decisions;
        decisions.reverse();
        let decisions =
            decisions.iter().take(SHOWN).map(|d| format!("{}: {} ({})", d.id, d.title, d.status.as_str())).collect();
        let memory = self.memory_list(MemoryListRequest {
            namespace_prefix: Some("project:".into()),
            limit: Some(SHOWN),
            ..Default::default()
        })?;
        Ok(ContextReply {
            milestone,
            paused: gates.paused.clone(),
            handover,
            gates: gates.gates.iter().map(counts_text).collect(),
            ready_total: ready.total_matching,
            ready: ready.tasks.iter().map(line).collect(),
            holding,
            counts,
            decisions,
            memory_total: memory.total,
            memory: memory
                .entries
                .iter()
                .map(|e| format!("{}{}: {}", e.namespace, e.key, e.summary.chars().take(120).collect::<String>()))
                .collect(),
        })
    }
}
