//! The memory, decision and search tools: what agents know, and finding it by words or meaning.
//!
//! Names and fields follow the earlier implementation's `memory_*` tools; `search` is the one
//! retrieval entry point over memory, decisions, validation reports and tasks. Memory history stays a
//! CLI command (`memory_get` with `version` reads any earlier version), keeping the set at 20 tools. The embedding model is
//! loaded lazily, on the first semantic or hybrid search, and then kept for the server's lifetime.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use rmcp::{tool, tool_router};

use crate::mcp::AbathurServer;
use crate::memory::api::*;
use crate::search::api::SearchRequest;

#[tool_router(router = memory_router, vis = "pub(crate)")]
impl AbathurServer {
    #[tool(
        description = "Store a memory entry: namespace (project:, session:<id>:, task:<id>:, agent:<type>:), key, value (string = Markdown, object = JSON), memory_type semantic (default) | episodic (expires; ttl such as 7d, default 90 days) | procedural, created_by. Fails with ConflictError if the key is live; use memory_update.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn memory_add(&self, Parameters(req): Parameters<MemoryAddRequest>) -> CallToolResult {
        self.call(move |s| s.memory_add(req)).await
    }

    #[tool(
        description = "Read a memory entry by namespace and key: the current value, or any earlier version with `version` (deleted and expired versions stay readable that way).",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn memory_get(&self, Parameters(req): Parameters<MemoryKeyRequest>) -> CallToolResult {
        self.call(move |s| s.memory_get(req)).await
    }

    #[tool(
        description = "Write a new version of a live memory entry (namespace, key, value, updated_by); the previous version stays readable with memory_get version.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn memory_update(&self, Parameters(req): Parameters<MemoryUpdateRequest>) -> CallToolResult {
        self.call(move |s| s.memory_update(req)).await
    }

    #[tool(
        description = "Delete a memory entry (namespace, key, deleted_by): writes a tombstone version; history stays readable and the key can be added again.",
        annotations(read_only_hint = false, destructive_hint = true, idempotent_hint = false, open_world_hint = false)
    )]
    async fn memory_delete(&self, Parameters(req): Parameters<MemoryKeyRequest>) -> CallToolResult {
        self.call(move |s| s.memory_delete(req)).await
    }

    #[tool(
        description = "List live memory entries whose namespace starts with namespace_prefix (e.g. task: or agent:rust-dev:), optionally of one memory_type; include_expired for expired episodic ones; limit (default 100).",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn memory_list(&self, Parameters(req): Parameters<MemoryListRequest>) -> CallToolResult {
        self.call(move |s| s.memory_list(req)).await
    }

    #[tool(
        description = "Record a decision (ADR): title, context, decision, consequences; status accepted (default) or proposed; links to tasks, milestones and gates; supersedes [ids] marks earlier decisions superseded. Written as Markdown under .abathur/decisions/ and found by search.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn decision_record(
        &self,
        Parameters(req): Parameters<crate::decision::api::DecisionAddRequest>,
    ) -> CallToolResult {
        self.call(move |s| s.decision_add(req)).await
    }

    #[tool(
        description = "Search what the project knows: memory, decision records, validation reports and tasks, by words and meaning. query; mode hybrid (default) | text | semantic; kinds [memory, decision, report, task]; namespace prefix; milestone; status (tasks' live status); limit (default 10). Hits carry kind, id, path, chunk, score, snippet. Falls back to text with a notice when no embedding model is installed.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn search(&self, Parameters(req): Parameters<SearchRequest>) -> CallToolResult {
        self.call(move |s| s.search(req)).await
    }
}
