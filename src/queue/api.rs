//! Requests and replies of the task operations: the one set of types both front ends speak.
//!
//! The CLI builds a request from its flags and prints the reply (`--json` prints it verbatim); the MCP
//! server deserialises the same request from tool arguments and returns the same reply. Field names
//! are the ones agents already use (the seed's six tools), so their calls work unchanged.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::queue::task::{Event, Lease, Source, Status};

/// One reason a task is not ready: typed for agents, with the sentence people read.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct BlockedBy {
    /// prerequisite, missing_prerequisite, gate or paused.
    pub reason: BlockReason,
    /// The prerequisite it waits on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    /// That prerequisite's status, as `task_list` shows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    /// The milestone whose gate holds it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub milestone: Option<String>,
    /// The reason in words.
    pub message: String,
}

/// What kind of thing holds a task back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BlockReason {
    /// A prerequisite is not completed.
    Prerequisite,
    /// A prerequisite names no task.
    MissingPrerequisite,
    /// The milestone's gate is closed.
    Gate,
    /// An escalation pauses every claim.
    Paused,
}

/// `task_enqueue`: submit a task.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EnqueueRequest {
    /// What to do (required, at most 10,000 characters).
    pub description: String,
    /// One-line label (at most 140 characters); defaults to the description's first line.
    #[serde(default)]
    pub summary: Option<String>,
    /// Who asks: human, agent_requirements, agent_planner or agent_implementation (default human).
    #[serde(default)]
    pub source: Option<Source>,
    /// Agent definition that should run it (default from config: requirements-gatherer).
    #[serde(default)]
    pub agent_type: Option<String>,
    /// 0..=10 (default 5).
    #[serde(default)]
    pub base_priority: Option<u8>,
    /// Ids (or unique prefixes) of tasks that must complete first.
    #[serde(default)]
    pub prerequisites: Vec<String>,
    /// Deadline, RFC 3339 (e.g. 2026-12-01T17:00:00Z) or a date.
    #[serde(default)]
    pub deadline: Option<String>,
    /// Expected effort in seconds.
    #[serde(default)]
    pub estimated_duration_seconds: Option<u64>,
    /// Milestone whose gate governs the task (e.g. M1).
    #[serde(default)]
    pub milestone: Option<String>,
    /// The task that spawned this one (lineage, not a dependency).
    #[serde(default)]
    pub parent_task_id: Option<String>,
    /// The agent session it belongs to (see `session_create`).
    #[serde(default)]
    pub session_id: Option<String>,
    /// Free-form JSON input, kept exactly as given.
    #[serde(default)]
    pub input_data: Option<serde_json::Value>,
    /// Retries before failing for good (default from config: 3).
    #[serde(default)]
    pub max_retries: Option<u32>,
    /// Lease length for claims, seconds (default from config: 600).
    #[serde(default)]
    pub lease_timeout_seconds: Option<u64>,
    /// Who is enqueueing (agent or person).
    #[serde(default)]
    pub created_by: Option<String>,
    /// Record work that is already done: the task is stored completed at once, never queued.
    /// Every prerequisite must be completed already.
    #[serde(default)]
    pub completed: bool,
    /// With `completed`: the result, as `task_complete` takes it.
    #[serde(default)]
    pub result_data: Option<serde_json::Value>,
}

/// Reply of `task_enqueue`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct EnqueueReply {
    /// The new task's full id.
    pub task_id: String,
    /// Its status now (ready or blocked).
    pub status: Status,
    /// Its calculated priority now.
    pub calculated_priority: f64,
    /// Longest chain of unfinished prerequisites above it.
    pub dependency_depth: u32,
    /// When it was enqueued.
    pub submitted_at: String,
}

/// `task_get`: one task by id or unique prefix.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetRequest {
    /// Task id or unique prefix.
    pub task_id: String,
}

/// A task with everything stored and derived about it.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct TaskDetail {
    /// Full id.
    pub id: String,
    /// One-line label.
    pub summary: String,
    /// What to do.
    pub description: String,
    /// One of the seven statuses.
    pub status: Status,
    /// Why a waiting task is not ready, one reason each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blocked_by: Vec<BlockedBy>,
    /// 0..=100, computed now.
    pub calculated_priority: f64,
    /// 0..=10 as given.
    pub base_priority: u8,
    /// Who asked for it.
    pub source: Source,
    /// Agent definition to run it.
    pub agent_type: String,
    /// Tasks that must complete first.
    pub prerequisites: Vec<String>,
    /// Tasks that wait for this one.
    pub dependents: Vec<String>,
    /// Longest chain of unfinished prerequisites above it.
    pub dependency_depth: u32,
    /// Longest chain of unfinished dependents below it.
    pub downstream_depth: u32,
    /// Unfinished tasks waiting on it, directly or transitively.
    pub blocking_count: u32,
    /// Deadline.
    pub deadline: Option<String>,
    /// Expected effort in seconds.
    pub estimated_duration_seconds: Option<u64>,
    /// Governing milestone.
    pub milestone: Option<String>,
    /// Spawning task.
    pub parent_task_id: Option<String>,
    /// Its agent session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// Who enqueued it.
    pub created_by: Option<String>,
    /// Retries used.
    pub retry_count: u32,
    /// Retries allowed.
    pub max_retries: u32,
    /// Not claimable before this instant (retry backoff).
    pub retry_at: Option<String>,
    /// Lease length for claims, seconds.
    pub lease_timeout_seconds: u64,
    /// The current claim.
    pub lease: Option<Lease>,
    /// Why the last attempt failed.
    pub error_message: Option<String>,
    /// Input as given.
    pub input_data: Option<serde_json::Value>,
    /// Result as given.
    pub result_data: Option<serde_json::Value>,
    /// When it was enqueued.
    pub submitted_at: String,
    /// When it was last claimed.
    pub started_at: Option<String>,
    /// When it finished.
    pub completed_at: Option<String>,
    /// When its file last changed.
    pub last_updated_at: String,
    /// Lifecycle history.
    pub events: Vec<Event>,
}

/// `task_list`: filter and rank tasks.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListRequest {
    /// Only this status.
    #[serde(default)]
    pub status: Option<Status>,
    /// Every status but this one (not with `status`).
    #[serde(default)]
    pub exclude_status: Option<Status>,
    /// Only tasks from this source.
    #[serde(default)]
    pub source: Option<Source>,
    /// Only tasks for this agent type.
    #[serde(default)]
    pub agent_type: Option<String>,
    /// Only tasks of this milestone.
    #[serde(default)]
    pub milestone: Option<String>,
    /// 1..=500 (default 50) per page.
    #[serde(default)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page: the rows after it, ranked as of the first page.
    #[serde(default)]
    pub cursor: Option<String>,
    /// Check every task file's fingerprint first (catches files rewritten in place by other tools;
    /// slower on large ledgers).
    #[serde(default)]
    pub verify: bool,
}

/// One row of a task list.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct TaskSummary {
    /// Full id.
    pub id: String,
    /// One-line label.
    pub summary: String,
    /// One of the seven statuses.
    pub status: Status,
    /// 0..=100, computed now.
    pub calculated_priority: f64,
    /// 0..=10 as given.
    pub base_priority: u8,
    /// Who asked for it.
    pub source: Source,
    /// Agent definition to run it.
    pub agent_type: String,
    /// Governing milestone.
    pub milestone: Option<String>,
    /// Number of prerequisites.
    pub prerequisite_count: usize,
    /// Why a waiting task is not ready, one reason each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blocked_by: Vec<BlockedBy>,
    /// Deadline.
    pub deadline: Option<String>,
    /// When it was enqueued.
    pub submitted_at: String,
    /// Current lease holder, while running.
    pub lease_holder: Option<String>,
}

/// Reply of `task_list`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct ListReply {
    /// Matching tasks, highest calculated priority first, then oldest.
    pub tasks: Vec<TaskSummary>,
    /// How many matched before the limit (on every page, all of them).
    pub total_matching: usize,
    /// Present when more rows follow: pass it as `cursor` for the next page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
    /// Ledger files that could not be read (the rest are listed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// Reply of `task_queue_status`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct QueueStatus {
    /// All tasks.
    pub total_tasks: usize,
    /// Backing off before a retry.
    pub pending: usize,
    /// Waiting on prerequisites or a gate.
    pub blocked: usize,
    /// Claimable now.
    pub ready: usize,
    /// Under a live lease.
    pub running: usize,
    /// Done.
    pub completed: usize,
    /// Failed for good.
    pub failed: usize,
    /// Cancelled.
    pub cancelled: usize,
    /// Mean calculated priority of unfinished tasks (0 when none).
    pub avg_priority: f64,
    /// Longest chain of unfinished tasks.
    pub max_depth: u32,
    /// Submission time of the oldest waiting (pending, blocked or ready) task.
    pub oldest_pending: Option<String>,
    /// Id of that task.
    pub oldest_pending_task_id: Option<String>,
    /// Submission time of the newest task.
    pub newest_task: Option<String>,
    /// Id of that task.
    pub newest_task_id: Option<String>,
    /// Running tasks whose lease is live.
    pub active_leases: usize,
    /// Leases that lapsed and await the next claim to be settled.
    pub expired_leases: usize,
    /// Ledger files that could not be read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// `task_cancel`: cancel a task and, by cascade, its unfinished dependents.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelRequest {
    /// Task id or unique prefix.
    pub task_id: String,
    /// Why; recorded in the task's history.
    #[serde(default)]
    pub reason: Option<String>,
}

/// Reply of `task_cancel`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct CancelReply {
    /// The task asked for.
    pub cancelled_task_id: String,
    /// Dependents cancelled with it.
    pub cascaded_task_ids: Vec<String>,
    /// 1 + cascaded.
    pub total_cancelled: usize,
}

/// `task_execution_plan`: parallel batches for a set of tasks.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanRequest {
    /// Task ids or unique prefixes.
    #[serde(default)]
    pub task_ids: Vec<String>,
    /// Plan every unfinished task of this milestone (added to `task_ids`).
    #[serde(default)]
    pub milestone: Option<String>,
}

/// Reply of `task_execution_plan`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct PlanReply {
    /// Batches in order; the tasks of one batch can run in parallel.
    pub batches: Vec<Vec<String>>,
    /// Number of batches.
    pub total_batches: usize,
    /// Size of the largest batch.
    pub max_parallelism: usize,
}

/// `task_claim`: take the best ready task under a lease.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClaimRequest {
    /// Claim this task (id or unique prefix) rather than the best ready one; refused unless it is ready.
    #[serde(default)]
    pub task_id: Option<String>,
    /// Only tasks for this agent type.
    #[serde(default)]
    pub agent_type: Option<String>,
    /// Who claims (recorded as the lease holder); defaults to the agent type or "agent".
    #[serde(default)]
    pub agent: Option<String>,
    /// Lease length in seconds (default: the task's lease_timeout_seconds).
    #[serde(default)]
    pub lease_seconds: Option<u64>,
    /// When nothing is ready, wait up to this many seconds (at most 600) for a task to become
    /// ready, instead of polling: the claim returns as soon as one does.
    #[serde(default)]
    pub wait_seconds: Option<f64>,
}

/// Reply of `task_claim`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct ClaimReply {
    /// Whether a task was claimed.
    pub claimed: bool,
    /// The claimed task.
    pub task: Option<TaskDetail>,
    /// Token to present to heartbeat, complete and fail.
    pub lease_id: Option<String>,
    /// When the lease lapses unless renewed.
    pub lease_expires_at: Option<String>,
    /// Which kind of claim: `local` (this clone only: no ledger remote is configured), `remote
    /// <name>` (a compare-and-swap on the remote: no other machine holds it), or `local (remote
    /// <name> unreachable: ...)`.
    #[serde(default)]
    pub scope: String,
    /// Why nothing was claimed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Set while an escalation pauses every claim: which gate, why, and what a human must run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused: Option<String>,
    /// The context the decision that opened the claimed task's milestone handed over to its agents
    /// (`next_milestone_context` of the previous milestone's latest decision).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub milestone_context: Option<String>,
}

/// `task_heartbeat`: renew a lease.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HeartbeatRequest {
    /// Task id or unique prefix.
    pub task_id: String,
    /// The lease token from the claim.
    pub lease_id: String,
}

/// Reply of `task_heartbeat`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct HeartbeatReply {
    /// The task.
    pub task_id: String,
    /// The new expiry.
    pub lease_expires_at: String,
}

/// `task_complete`: finish a running task with a result.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteRequest {
    /// Task id or unique prefix.
    pub task_id: String,
    /// The lease token from the claim; when given it must match.
    #[serde(default)]
    pub lease_id: Option<String>,
    /// Free-form JSON result, kept exactly as given.
    #[serde(default)]
    pub result_data: Option<serde_json::Value>,
    /// Who completes it.
    #[serde(default)]
    pub agent: Option<String>,
}

/// Reply of `task_complete`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct CompleteReply {
    /// The task.
    pub task_id: String,
    /// Now completed.
    pub status: Status,
    /// When.
    pub completed_at: String,
    /// Dependents that became ready because of this.
    pub unblocked_task_ids: Vec<String>,
}

/// `task_fail`: report a failed attempt.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FailRequest {
    /// Task id or unique prefix.
    pub task_id: String,
    /// What went wrong.
    pub error_message: String,
    /// The lease token from the claim; when given it must match.
    #[serde(default)]
    pub lease_id: Option<String>,
    /// Who reports it.
    #[serde(default)]
    pub agent: Option<String>,
}

/// Reply of `task_fail`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct FailReply {
    /// The task.
    pub task_id: String,
    /// `pending` when it will be retried, `failed` when retries are used up.
    pub status: Status,
    /// Retries used.
    pub retry_count: u32,
    /// Retries allowed.
    pub max_retries: u32,
    /// When the retry becomes claimable.
    pub retry_at: Option<String>,
    /// Dependents cancelled because it failed for good.
    pub cascaded_task_ids: Vec<String>,
}

/// `task_update`: change a waiting task's plan.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateRequest {
    /// Task id or unique prefix.
    pub task_id: String,
    /// New summary.
    #[serde(default)]
    pub summary: Option<String>,
    /// New base priority 0..=10.
    #[serde(default)]
    pub base_priority: Option<u8>,
    /// New deadline (RFC 3339 or a date); an empty string removes it.
    #[serde(default)]
    pub deadline: Option<String>,
    /// New agent type.
    #[serde(default)]
    pub agent_type: Option<String>,
    /// New milestone; an empty string removes it.
    #[serde(default)]
    pub milestone: Option<String>,
    /// Prerequisites to add (ids or prefixes); refused if they would form a cycle.
    #[serde(default)]
    pub add_prerequisites: Vec<String>,
    /// Prerequisites to remove.
    #[serde(default)]
    pub remove_prerequisites: Vec<String>,
    /// Who changes it.
    #[serde(default)]
    pub agent: Option<String>,
}
