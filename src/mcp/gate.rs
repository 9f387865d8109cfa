//! The gate tools: what the orchestrating agent needs at each milestone boundary.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use rmcp::{tool, tool_router};

use crate::gate::api::CheckRequest;
use crate::gate::api::DecideRequest;
use crate::mcp::AbathurServer;
use crate::mcp::task::NoParams;

#[tool_router(router = gate_router, vis = "pub(crate)")]
impl AbathurServer {
    #[tool(
        description = "Every milestone's validation gate: undecided or its latest decision (approve, conditional, revise, escalate, resolved), who decided, whether signed; and `paused` while an escalation pauses all claims.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn gate_status(&self, Parameters(_): Parameters<NoParams>) -> CallToolResult {
        self.call(move |s| s.gate_status()).await
    }

    #[tool(
        description = "Gather a milestone's gate evidence: tasks completed, acceptance criteria (met: [\"N: evidence\"]), and quality targets against measurements from junit (JUnit XML paths), lcov or cobertura (coverage), bench (JSON paths). Returns criteria, metrics, proposed_decision and reasons. Writes nothing.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn gate_check(&self, Parameters(req): Parameters<CheckRequest>) -> CallToolResult {
        self.call(move |s| s.gate_check(req)).await
    }

    #[tool(
        description = "Record the go/no-go decision at a milestone's gate (approve, conditional, revise, escalate) with its rationale, issues, recommendations, next_milestone_context and evidence (as gate_check). Writes the validation report and record, creates follow-up (conditional) or revision (revise) tasks, and seals them in a signed commit and tag; escalate pauses every claim until a human resolves it. Writes nothing when it cannot sign, unless unsigned is true.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn gate_decide(&self, Parameters(req): Parameters<DecideRequest>) -> CallToolResult {
        self.call(move |s| s.gate_decide(req)).await
    }
}
