//! The completion tools: project requirements and the signed completion report.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use rmcp::{tool, tool_router};

use crate::mcp::AbathurServer;
use crate::mcp::task::NoParams;
use crate::requirement::RequirementSetRequest;

/// `completion_report`.
#[derive(Debug, Default, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportRequest {
    /// Record it unsigned (pending a signature).
    #[serde(default)]
    pub unsigned: bool,
}

#[tool_router(router = requirement_router, vis = "pub(crate)")]
impl AbathurServer {
    #[tool(
        description = "Define or change a project requirement (R1, R2, ...): its status, links and evidence.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn requirement_set(&self, Parameters(req): Parameters<RequirementSetRequest>) -> CallToolResult {
        self.call(move |s| s.requirement_set(req)).await
    }

    #[tool(
        description = "Every project requirement with status, links and evidence, and counts per status.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn requirement_list(&self, Parameters(_): Parameters<NoParams>) -> CallToolResult {
        self.call(move |s| s.requirement_list()).await
    }

    #[tool(
        description = "Render the project completion report (milestones, gates, reports, metrics, decisions, requirements) and seal it in a signed commit and tag. Returns its path and the unmet requirements.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn completion_report(&self, Parameters(req): Parameters<ReportRequest>) -> CallToolResult {
        self.call(move |s| s.completion_report(req.unsigned)).await
    }
}
