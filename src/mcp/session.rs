//! The session tools: a debugging or hand-over thread whose state survives the agent.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use rmcp::{tool, tool_router};

use crate::mcp::AbathurServer;
use crate::session::{SessionAppendRequest, SessionCreateRequest, SessionIdRequest};

/// `session_list`.
#[derive(Debug, Default, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionListRequest {
    /// Only active or only ended sessions.
    #[serde(default)]
    pub status: Option<crate::session::SessionStatus>,
}

#[tool_router(router = session_router, vis = "pub(crate)")]
impl AbathurServer {
    #[tool(
        description = "Start a session (a hand-over or debugging thread): app_name, user_id, initial_state (object). Returns it with session.id.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn session_create(&self, Parameters(req): Parameters<SessionCreateRequest>) -> CallToolResult {
        self.call(move |s| s.session_create(req)).await
    }

    #[tool(
        description = "Append an event (any JSON) to a session, with state_delta (keys to set; null removes). Returns the state after it.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn session_append_event(&self, Parameters(req): Parameters<SessionAppendRequest>) -> CallToolResult {
        self.call(move |s| s.session_append(req)).await
    }

    #[tool(
        description = "A session: its state now, event_count and its newest events (events, default 50).",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn session_get(&self, Parameters(req): Parameters<SessionIdRequest>) -> CallToolResult {
        self.call(move |s| s.session_get(req)).await
    }

    #[tool(
        description = "Every session, newest first, optionally only status active or ended.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn session_list(&self, Parameters(req): Parameters<SessionListRequest>) -> CallToolResult {
        self.call(move |s| s.session_list(req.status)).await
    }

    #[tool(
        description = "End a session: it stays readable; appends are refused.",
        annotations(read_only_hint = false, destructive_hint = false, idempotent_hint = true, open_world_hint = false)
    )]
    async fn session_end(&self, Parameters(req): Parameters<SessionIdRequest>) -> CallToolResult {
        self.call(move |s| s.session_end(req)).await
    }
}
