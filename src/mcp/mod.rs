//! `abathur mcp`: the MCP server agents use, over stdio, on the same service layer as the CLI.
//!
//! No logic lives here. Each tool takes the request type the CLI builds from its flags, calls the same
//! `Service` method on a blocking thread (it may wait for the ledger lock), and returns the same reply
//! type, so a tool's reply is exactly what `abathur <command> --json` prints. A service error becomes a
//! tool result with `isError: true` carrying `{error, message, hints}`; JSON-RPC errors are left to
//! protocol faults. stdout carries the protocol only; diagnostics go to stderr.
//!
//! Start-up is cheap: the ledger is located and its config read, nothing else; `initialize` and
//! `tools/list` never touch the task files.

mod context;
mod frame;
mod gate;
mod memory;
mod milestone;
mod requirement;
mod session;
mod task;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::{CallToolResult, Implementation, ServerCapabilities, ServerConfig};
use rmcp::{ServerHandler, ServiceExt, tool_handler};
use serde::Serialize;

use crate::error::{Error, ErrorKind, Result};
use crate::service::Service;

/// The MCP server: the service plus the table of tools.
#[derive(Clone)]
pub struct AbathurServer {
    service: Service,
    tool_router: ToolRouter<AbathurServer>,
}

impl AbathurServer {
    /// A server answering for `service`'s ledger.
    pub fn new(service: Service) -> AbathurServer {
        AbathurServer { service, tool_router: AbathurServer::tools() }
    }

    /// Every tool the server offers, with its schema compacted (see [`compact`]).
    fn tools() -> ToolRouter<AbathurServer> {
        let mut router = AbathurServer::context_router()
            + AbathurServer::task_router()
            + AbathurServer::gate_router()
            + AbathurServer::milestone_router()
            + AbathurServer::session_router()
            + AbathurServer::requirement_router()
            + AbathurServer::memory_router();
        for route in router.map.values_mut() {
            let mut schema = serde_json::Value::Object((*route.attr.input_schema).clone());
            compact(&mut schema);
            if let serde_json::Value::Object(map) = schema {
                route.attr.input_schema = std::sync::Arc::new(map);
            }
        }
        router
    }

    /// Runs one service call off the async executor and shapes its outcome as a tool result: the reply
    /// as structured content, or `{error, message, hints}` with `isError`. Tools declare no output
    /// schema on purpose: schemas of every reply would triple what `tools/list` costs an agent's
    /// context; the replies are documented in docs/mcp.md and equal the CLI's `--json`.
    async fn call<T, F>(&self, op: F) -> CallToolResult
    where
        T: Serialize + Send + 'static,
        F: FnOnce(&Service) -> Result<T> + Send + 'static,
    {
        let service = self.service.clone();
        let outcome = tokio::task::spawn_blocking(move || op(&service))
            .await
            .unwrap_or_else(|e| Err(Error::new(ErrorKind::Internal, format!("the tool call panicked: {e}"))));
        match outcome.map(|reply| serde_json::to_value(reply)) {
            Ok(Ok(value)) => CallToolResult::structured(value),
            Ok(Err(e)) => CallToolResult::structured_error(
                Error::new(ErrorKind::Internal, format!("the reply did not serialise: {e}")).to_json(),
            ),
            Err(e) => CallToolResult::structured_error(for_agents(e).to_json()),
        }
    }
}

/// The CLI commands errors name, and the tool an agent uses instead.
const TOOL_FOR_COMMAND: &[(&str, &str)] = &[
    ("abathur task list", "task_list"),
    ("abathur task get", "task_get"),
    ("abathur task update", "task_update"),
    ("abathur task cancel", "task_cancel"),
    ("abathur task claim", "task_claim"),
    ("abathur task add", "task_enqueue"),
    ("abathur task status", "task_queue_status"),
    ("abathur task plan", "task_execution_plan"),
    ("abathur milestone list", "milestone_list"),
    ("abathur milestone show", "milestone_list"),
    ("abathur milestone add", "milestone_add"),
    ("abathur milestone update", "milestone_update"),
    ("abathur memory update", "memory_update"),
    ("abathur memory list", "memory_list"),
    ("abathur memory add", "memory_add"),
    ("abathur memory get", "memory_get"),
    ("abathur memory history", "memory_get"),
    ("abathur gate status", "gate_status"),
    ("abathur gate check", "gate_check"),
    ("abathur session list", "session_list"),
    ("abathur decision add", "decision_record"),
    ("abathur search", "search"),
    ("abathur context", "context"),
];

/// Errors speak the CLI; an agent's hints name its tools instead, and say when only a person at the
/// command line can act (`abathur model install`, `abathur check`).
fn for_agents(mut e: Error) -> Error {
    for hint in &mut e.hints {
        for (command, tool) in TOOL_FOR_COMMAND {
            // The whole quoted command goes, options included: `abathur task list --status ready`.
            let quoted = format!("`{command}");
            while let Some(start) = hint.find(&quoted) {
                let end = hint[start + 1..].find('`').map_or(hint.len(), |i| start + 2 + i);
                *hint = format!("{}the `{tool}` tool{}", &hint[..start], &hint[end..]);
            }
        }
        if hint.contains("`abathur ") {
            *hint = format!("a person at the command line: {hint}");
        }
    }
    e
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for AbathurServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "abathur: the project's task queue, gates and memory, kept as files in its git \
                 repository. Enqueue tasks with prerequisites, claim the best ready task for your agent \
                 type, heartbeat while you work, then complete it with a result or fail it with an error. \
                 Record what you learn with memory_add; find what the project knows with search. \
                 Start with context: the milestone in progress, its gate, ready work and memory in one call.",
            )
    }
}

/// Shrinks a generated JSON schema, never making it accept more than the server does, since every
/// agent pays for `tools/list` in context: optional fields without their `null` alternative, no `$schema`, string enums as `enum` instead of a `oneOf` of described
/// constants (the tool's description says what they mean), no description on referenced types (the
/// referring field has one), no `null`, `[]` or `false` defaults (the absence of a field means the
/// same), and doc comments' line breaks as spaces.
fn compact(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            map.remove("$schema");
            // `format` is an annotation JSON Schema does not enforce (`uint64`, `double`): the type and
            // `minimum` say what is accepted.
            if map.get("format").is_some_and(Value::is_string) {
                map.remove("format");
            }
            // A referenced type's own description repeats what the field referring to it says.
            if let Some(Value::Object(defs)) = map.get_mut("$defs") {
                for def in defs.values_mut() {
                    if let Value::Object(def) = def {
                        def.remove("description");
                    }
                }
            }
            if matches!(map.get("default"), Some(Value::Null | Value::Bool(false)))
                || map.get("default").is_some_and(|d| d.as_array().is_some_and(Vec::is_empty))
            {
                map.remove("default");
            }
            if let Some(Value::String(text)) = map.get_mut("description") {
                *text = text.replace('\n', " ");
            }
            // An optional field is simply left out: `"type": ["string", "null"]` says `"string"`, and
            // `anyOf: [X, {"type": "null"}]` says X (the server still takes an explicit null).
            if let Some(Value::Array(types)) = map.get("type")
                && types.len() == 2
                && types.contains(&Value::from("null"))
            {
                let other = types.iter().find(|t| t.as_str() != Some("null")).cloned().unwrap_or(Value::Null);
                map.insert("type".into(), other);
            }
            if let Some(Value::Array(options)) = map.get("anyOf")
                && options.len() == 2
                && options.iter().any(|o| o.get("type") == Some(&Value::from("null")))
                && let Some(Value::Object(other)) =
                    options.iter().find(|o| o.get("type") != Some(&Value::from("null"))).cloned()
            {
                map.remove("anyOf");
                for (k, v) in other {
                    map.entry(k).or_insert(v);
                }
            }
            let constants: Option<Vec<Value>> = map.get("oneOf").and_then(Value::as_array).and_then(|items| {
                items
                    .iter()
                    .map(|item| {
                        (item.get("type") == Some(&Value::from("string"))).then(|| item.get("const").cloned()).flatten()
                    })
                    .collect()
            });
            if let Some(constants) = constants {
                map.remove("oneOf");
                map.insert("type".into(), Value::from("string"));
                map.insert("enum".into(), Value::Array(constants));
            }
            for v in map.values_mut() {
                compact(v);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(compact),
        _ => {}
    }
}

/// Every tool the server offers, with its description: what agent definitions should name.
pub fn tool_catalog() -> Vec<crate::integrate::ToolInfo> {
    let mut tools: Vec<_> = AbathurServer::tools()
        .list_all()
        .into_iter()
        .map(|t| crate::integrate::ToolInfo {
            name: t.name.to_string(),
            description: t.description.map(|d| d.to_string()).unwrap_or_default(),
        })
        .collect();
    tools.sort_by(|a, b| a.name.cmp(&b.name));
    tools
}

/// How often the server looks for chunks to embed (a look costs what a search's freshness check does).
const EMBED_INTERVAL_SECONDS: u64 = 10;

/// Serves MCP over stdin/stdout until the client closes the connection.
pub fn serve(service: Service) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::new(ErrorKind::Internal, format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(async move {
        let interval = service.config().sync.interval_seconds;
        if interval > 0 && service.sync_remote().is_some() {
            let syncing = service.clone();
            tokio::spawn(async move {
                let mut ticks = tokio::time::interval(std::time::Duration::from_secs(interval));
                ticks.tick().await;
                loop {
                    ticks.tick().await;
                    let s = syncing.clone();
                    // Offline is normal: the next round tries again; the reason goes to stderr only.
                    if let Ok(Err(e)) = tokio::task::spawn_blocking(move || s.sync(Default::default())).await {
                        eprintln!("abathur mcp: background sync: {}", e.message);
                    }
                }
            });
        }
        // Chunks that searches leave unembedded (more than a search embeds at once: a first index,
        // a bulk import, another process's writes) are embedded here, so a search never waits for them.
        let embedding = service.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(std::time::Duration::from_secs(EMBED_INTERVAL_SECONDS));
            loop {
                ticks.tick().await;
                let s = embedding.clone();
                match tokio::task::spawn_blocking(move || s.index_in_background()).await {
                    Ok(Ok(Some(report))) if report.chunks_embedded > 0 => eprintln!(
                        "abathur mcp: embedded {} chunks in {:.1} s in the background",
                        report.chunks_embedded, report.total_seconds
                    ),
                    Ok(Err(e)) => eprintln!("abathur mcp: background embedding: {}", e.message),
                    _ => {}
                }
            }
        });
        // Client lines pass the framing check (frame.rs) before the server reads them; the server's
        // replies and the framing's error answers reach stdout as whole lines, one writer.
        let (to_server, server_in) = tokio::io::duplex(1 << 16);
        let (server_out, from_server) = tokio::io::duplex(1 << 16);
        let (answers, answered) = tokio::sync::mpsc::unbounded_channel();
        let reading = tokio::spawn(frame::filter(tokio::io::stdin(), to_server, answers));
        let writing = tokio::spawn(frame::merge(from_server, answered, tokio::io::stdout()));
        let server = AbathurServer::new(service.long_lived())
            .serve((server_in, server_out))
            .await
            .map_err(|e| Error::new(ErrorKind::Internal, format!("MCP initialisation failed: {e}")))?;
        server.waiting().await.map_err(|e| Error::new(ErrorKind::Internal, format!("MCP server stopped: {e}")))?;
        reading.abort();
        let _ = writing.await;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::for_agents;
    use crate::error::{Error, ErrorKind};

    #[test]
    fn hints_name_tools_for_agents() {
        let e = Error::new(ErrorKind::NotFound, "no task")
            .hint("`abathur task list` shows task ids")
            .hint("run `abathur model install`");
        let e = for_agents(e);
        assert_eq!(e.hints[0], "the `task_list` tool shows task ids");
        assert_eq!(e.hints[1], "a person at the command line: run `abathur model install`");
    }
}
