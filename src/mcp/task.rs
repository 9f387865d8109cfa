//! The task tools: the seed's six (names, parameters and reply fields unchanged), the four an agent
//! needs to work a task (claim, heartbeat, complete, fail), and the orchestrator's update.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use rmcp::{tool, tool_router};

use crate::mcp::AbathurServer;
use crate::queue::api::*;

/// A tool that takes no parameters.
#[derive(Debug, Default, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoParams {}

#[tool_router(router = task_router, vis = "pub(crate)")]
impl AbathurServer {
    #[tool(
        description = "Submit a task: description (required), and optionally source, agent_type, base_priority 0-10, prerequisites (task ids that must complete first), deadline, summary, milestone, estimated_duration_seconds, parent_task_id, input_data. Returns task_id, status (ready or blocked), calculated_priority.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn task_enqueue(&self, Parameters(req): Parameters<EnqueueRequest>) -> CallToolResult {
        self.call(move |s| s.task_enqueue(req)).await
    }

    #[tool(
        description = "List tasks, highest calculated priority first, then oldest. Filters: status or exclude_status, source, agent_type, milestone; limit 1-500 (default 50).",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn task_list(&self, Parameters(req): Parameters<ListRequest>) -> CallToolResult {
        self.call(move |s| s.task_list(req)).await
    }

    #[tool(
        description = "Get one task by id (or unique id prefix): everything stored and derived, including status, blocked_by, calculated_priority, prerequisites, dependents, lease and history.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn task_get(&self, Parameters(req): Parameters<GetRequest>) -> CallToolResult {
        self.call(move |s| s.task_get(req)).await
    }

    #[tool(
        description = "Queue statistics: total_tasks, counts per status, avg_priority, max_depth, oldest_pending, newest_task, active_leases.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn task_queue_status(&self, Parameters(_): Parameters<NoParams>) -> CallToolResult {
        self.call(move |s| s.task_queue_status()).await
    }

    #[tool(
        description = "Change a task that is not finished: summary, base_priority 0-10, deadline (\"\" removes), agent_type, milestone (\"\" removes), add_prerequisites / remove_prerequisites (a cycle is refused). Returns the task as task_get does.",
        annotations(read_only_hint = false, destructive_hint = false, idempotent_hint = true, open_world_hint = false)
    )]
    async fn task_update(&self, Parameters(req): Parameters<UpdateRequest>) -> CallToolResult {
        self.call(move |s| s.task_update(req)).await
    }

    #[tool(
        description = "Cancel a task and, by cascade, every unfinished task that depends on it. Refuses a task that is already completed, failed or cancelled. Returns cancelled_task_id, cascaded_task_ids, total_cancelled.",
        annotations(read_only_hint = false, destructive_hint = true, idempotent_hint = false, open_world_hint = false)
    )]
    async fn task_cancel(&self, Parameters(req): Parameters<CancelRequest>) -> CallToolResult {
        self.call(move |s| s.task_cancel(req)).await
    }

    #[tool(
        description = "Execution plan for task_ids (or every unfinished task of a milestone): batches of tasks that can run in parallel, in order; total_batches, max_parallelism. Unknown ids and cycles are errors.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn task_execution_plan(&self, Parameters(req): Parameters<PlanRequest>) -> CallToolResult {
        self.call(move |s| s.task_execution_plan(req)).await
    }

    #[tool(
        description = "Claim the best ready task (of agent_type, when given), or task_id, under a lease; wait_seconds waits for one instead of polling. Returns the task, lease_id, lease_expires_at, milestone_context (handed over by the gate that opened its milestone), and paused while an escalation stops claims. Heartbeat before the lease expires; finish with task_complete or task_fail.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn task_claim(&self, Parameters(req): Parameters<ClaimRequest>) -> CallToolResult {
        self.call(move |s| {
            if s.config().sync.before_claim && s.sync_remote().is_some() {
                // A failed sync (offline) must not stop the claim: it works locally and says so.
                let _ = s.sync(Default::default());
            }
            s.task_claim(req)
        })
        .await
    }

    #[tool(
        description = "Renew the lease on a task you claimed (task_id, lease_id). Returns the new lease_expires_at.",
        annotations(read_only_hint = false, destructive_hint = false, idempotent_hint = true, open_world_hint = false)
    )]
    async fn task_heartbeat(&self, Parameters(req): Parameters<HeartbeatRequest>) -> CallToolResult {
        self.call(move |s| s.task_heartbeat(req)).await
    }

    #[tool(
        description = "Complete a running task with an optional result_data object. Returns the dependents that became ready (unblocked_task_ids).",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn task_complete(&self, Parameters(req): Parameters<CompleteRequest>) -> CallToolResult {
        self.call(move |s| s.task_complete(req)).await
    }

    #[tool(
        description = "Report a failed attempt with error_message. The task is retried with backoff while retries remain (status pending, retry_at); past max_retries it fails and its dependents are cancelled (cascaded_task_ids).",
        annotations(read_only_hint = false, destructive_hint = true, idempotent_hint = false, open_world_hint = false)
    )]
    async fn task_fail(&self, Parameters(req): Parameters<FailRequest>) -> CallToolResult {
        self.call(move |s| s.task_fail(req)).await
    }
}
