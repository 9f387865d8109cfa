//! `abathur hook ...`: commands agent clients run at moments of their own (`init --claude --hooks`
//! installs them; docs/mcp.md).

use std::io::{IsTerminal, Read};

use clap::Subcommand;

use crate::cli::{Ui, write_stdout};
use crate::error::Result;
use crate::queue::api::ListRequest;
use crate::queue::task::Status;
use crate::service::Service;
use crate::words::plural;

/// Subcommands of `abathur hook`.
#[derive(Debug, Subcommand)]
pub enum HookCommand {
    /// Claude Code's Stop hook: asks the agent once to complete or fail the tasks still running
    ClaudeStop,
}

/// Dispatches one `hook` subcommand.
pub fn run(_ui: &Ui, service: &Service, cmd: HookCommand) -> Result<()> {
    match cmd {
        HookCommand::ClaudeStop => claude_stop(service),
    }
}

/// Blocks the first stop while tasks are running (Claude Code's `{"decision": "block"}`), saying
/// which and what to do; the second stop (`stop_hook_active`) always goes through, so an agent is
/// never trapped, and a lapsed lease returns a task to the queue by itself anyway.
fn claude_stop(service: &Service) -> Result<()> {
    let mut input = String::new();
    if !std::io::stdin().is_terminal() {
        let _ = std::io::stdin().take(1 << 20).read_to_string(&mut input);
    }
    let again = serde_json::from_str::<serde_json::Value>(&input)
        .ok()
        .and_then(|v| v.get("stop_hook_active")?.as_bool())
        .unwrap_or(false);
    if again {
        return Ok(());
    }
    let req = ListRequest { status: Some(Status::Running), limit: Some(500), ..Default::default() };
    let running = service.task_list(req)?.tasks;
    if running.is_empty() {
        return Ok(());
    }
    let tasks: Vec<String> = running
        .iter()
        .map(|t| format!("{} \"{}\" (held by {})", t.id, t.summary, t.lease_holder.as_deref().unwrap_or("?")))
        .collect();
    let reason = format!(
        "{} still running in the abathur ledger: {}. Before you stop, complete (task_complete) or fail \
         (task_fail) each one you hold; those other agents hold are theirs to finish.",
        plural(running.len(), "task is", "tasks are"),
        tasks.join("; ")
    );
    let reply = serde_json::json!({ "decision": "block", "reason": reason });
    write_stdout(format!("{reply}\n").as_bytes())
}
