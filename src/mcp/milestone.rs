//! The milestone tools: the orchestrator's plan, budget, effort and checklist.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use rmcp::{tool, tool_router};

use crate::mcp::AbathurServer;
use crate::mcp::task::NoParams;
use crate::milestone::api::{AddMilestoneRequest, UpdateMilestoneRequest};

#[tool_router(router = milestone_router, vis = "pub(crate)")]
impl AbathurServer {
    #[tool(
        description = "Every milestone in order: criteria, quality targets, task progress (counts per status, completion), effort (estimated and spent hours against budget_hours), gate state and checklist (todos).",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn milestone_list(&self, Parameters(_): Parameters<NoParams>) -> CallToolResult {
        self.call(move |s| s.milestone_list()).await
    }

    #[tool(
        description = "Define a milestone: id (M1, M2, ...), title, order (default: last), planned_weeks, budget_hours, description, acceptance_criteria, quality_targets (\"coverage>=95%\", \"read_latency_ms<50ms\").",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn milestone_add(&self, Parameters(req): Parameters<AddMilestoneRequest>) -> CallToolResult {
        self.call(move |s| s.milestone_add(req)).await
    }

    #[tool(
        description = "Change a milestone's plan: title, planned_weeks, budget_hours, description, criteria (appended), targets, and its checklist (todos, replaced whole), which is shown as progress and never claimable. Criteria and targets of an approved milestone stay as judged.",
        annotations(read_only_hint = false, destructive_hint = false, idempotent_hint = true, open_world_hint = false)
    )]
    async fn milestone_update(&self, Parameters(req): Parameters<UpdateMilestoneRequest>) -> CallToolResult {
        self.call(move |s| s.milestone_update(req)).await
    }
}
