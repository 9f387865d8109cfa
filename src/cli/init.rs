//! `abathur init`.

use std::path::Path;

use serde::Serialize;

use crate::cli::Ui;
use crate::error::Result;
use crate::integrate::{ClaudeReport, ToolInfo};
use crate::ledger::{InitReport, current_worktree};

/// Create the ledger (.abathur/) in this git repository; running it again changes nothing
#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// Also register the MCP server in .mcp.json and install agent definitions in .claude/agents/
    #[arg(long)]
    pub claude: bool,
    /// With --claude: replace agent definitions and the .mcp.json entry even if they were changed
    #[arg(long, requires = "claude")]
    pub force: bool,
    /// With --claude: the command .mcp.json starts (default `abathur`, found on the client's PATH;
    /// give an absolute path when the client's PATH lacks the install folder)
    #[arg(long, value_name = "COMMAND", requires = "claude")]
    pub mcp_command: Option<String>,
    /// With --claude: also add hooks to .claude/settings.json: each session starts with
    /// `abathur context`, and stopping with tasks still running is questioned once
    #[arg(long, requires = "claude")]
    pub hooks: bool,
}

#[derive(Serialize)]
struct InitReply {
    #[serde(flatten)]
    ledger: InitReport,
    #[serde(skip_serializing_if = "Option::is_none")]
    claude: Option<ClaudeReport>,
}

/// Creates whatever part of the ledger is missing, and with `--claude` the client integration, which
/// names the MCP server's `tools` (given only then: listing them needs the engine, see `engine`).
pub fn cmd_init(ui: &Ui, cwd: &Path, args: &InitArgs, tools: Option<&[ToolInfo]>) -> Result<()> {
    let (service, report) = crate::service::Service::init(cwd)?;
    if report.created.is_empty() {
        ui.status(format!("Ledger already set up in {}; nothing changed.", report.ledger));
    } else {
        ui.status(format!("Created the ledger in {}", report.ledger));
    }
    let claude = if let Some(tools) = tools {
        let worktree = current_worktree(cwd)?;
        let options = crate::integrate::ClaudeOptions {
            force: args.force,
            mcp_command: args.mcp_command.clone().unwrap_or_else(|| crate::integrate::SERVER_NAME.to_string()),
            hooks: args.hooks,
        };
        let done = crate::integrate::install_claude(&worktree, service.ledger().root(), tools, &options)?;
        ui.status(format!(
            "Claude Code: {} written, {} already up to date; MCP server `{}` registered in .mcp.json.",
            crate::words::plural(done.written.len(), "file", "files"),
            done.unchanged.len(),
            crate::integrate::SERVER_NAME
        ));
        Some(done)
    } else {
        None
    };
    let reply = InitReply { ledger: report, claude };
    ui.reply(&reply, |r| {
        let mut out: String = r.ledger.created.iter().map(|c| format!("created {c}\n")).collect();
        if let Some(c) = &r.claude {
            out.extend(c.written.iter().map(|w| format!("wrote {w}\n")));
        }
        out
    })
}
