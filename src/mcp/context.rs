//! The start-up tool: everything an agent needs to begin, in one bounded call.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use rmcp::{tool, tool_router};

use crate::context::ContextRequest;
use crate::mcp::AbathurServer;

#[tool_router(router = context_router, vis = "pub(crate)")]
impl AbathurServer {
    #[tool(
        description = "Call first: the milestone in progress (progress, effort, gate), a pause, the context the last gate handed over, every gate, the best ready tasks of your agent_type, the tasks you (agent) hold, counts per status, the latest decisions and project memory. Bounded size.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn context(&self, Parameters(req): Parameters<ContextRequest>) -> CallToolResult {
        self.call(move |s| s.context(req)).await
    }
}
