//! Wiring abathur into agent clients: `abathur init --claude` registers the MCP server in the
//! project's `.mcp.json` and installs agent definitions into `.claude/agents/`.
//!
//! The agent definitions are rendered from minijinja templates built into the binary
//! (`templates/agents/`), which a project can override in `.abathur/templates/agents/`. They list the
//! MCP tools by asking the server's own tool router, so they always name the real tools.
//!
//! Nothing a user wrote is replaced without `--force`: every file is planned first, and if any
//! existing file would change, nothing at all is written and the error names the files.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, ErrorKind, Result};
use crate::ledger::atomic;

/// Name under which the server is registered, and the `mcp__<server>__` prefix of its tools.
pub const SERVER_NAME: &str = "abathur";

/// Each agent definition with the MCP tools its role may use (`None`: every tool).
const AGENT_TEMPLATES: [(&str, &str, Option<&[&str]>); 2] = [
    ("implementation-orchestrator", include_str!("../templates/agents/implementation-orchestrator.md.j2"), None),
    ("implementer", include_str!("../templates/agents/implementer.md.j2"), Some(&IMPLEMENTER_TOOLS)),
];

/// What an implementer needs to work its tasks and carry a hand-over session: it cannot decide
/// gates, cancel or re-plan others' work, delete memory or record decisions.
pub const IMPLEMENTER_TOOLS: [&str; 15] = [
    "context",
    "session_get",
    "session_append_event",
    "task_claim",
    "task_heartbeat",
    "task_complete",
    "task_fail",
    "task_get",
    "task_list",
    "task_enqueue",
    "search",
    "memory_get",
    "memory_list",
    "memory_add",
    "memory_update",
];

/// How `init --claude` wires the client.
#[derive(Clone, Debug)]
pub struct ClaudeOptions {
    /// Replace files and entries that were changed.
    pub force: bool,
    /// The command `.mcp.json` starts.
    pub mcp_command: String,
    /// Add the SessionStart and Stop hooks to `.claude/settings.json`.
    pub hooks: bool,
}

/// What agents are denied in `.claude/settings.json`: the command-line ways around their roles
/// (gate decisions, cancelling, committing policy changes) and hand edits of the ledger folder.
/// Both roles work through the MCP tools, which their definitions grant one by one.
pub const DENIED: [&str; 7] = [
    "Bash(abathur gate:*)",
    "Bash(abathur task cancel:*)",
    "Bash(abathur ledger commit:*)",
    "Bash(abathur-full:*)",
    "Edit(.git/abathur/**)",
    "Write(.git/abathur/**)",
    "Edit(.abathur/**)",
];

/// What `init --claude` did, by path relative to the work tree.
#[derive(Clone, Debug, Default, Serialize, schemars::JsonSchema)]
pub struct ClaudeReport {
    /// Files created or updated.
    pub written: Vec<String>,
    /// Files already as they should be.
    pub unchanged: Vec<String>,
}

/// One tool as the templates see it.
#[derive(Clone, Debug, Serialize)]
pub struct ToolInfo {
    /// MCP tool name.
    pub name: String,
    /// Its description.
    pub description: String,
}

/// Registers the MCP server and installs the agent definitions in `worktree`; overrides come from
/// `ledger_root/templates/agents/`.
pub fn install_claude(
    worktree: &Path,
    ledger_root: &Path,
    tools: &[ToolInfo],
    options: &ClaudeOptions,
) -> Result<ClaudeReport> {
    let force = options.force;
    let settings = worktree.join(".claude/settings.json");
    let mut plan: Vec<(PathBuf, Vec<u8>)> = vec![
        (worktree.join(".mcp.json"), mcp_json(&worktree.join(".mcp.json"), &options.mcp_command, force)?),
        (settings.clone(), settings_json(&settings, options.hooks)?),
    ];
    for (name, builtin, allowed) in AGENT_TEMPLATES {
        let role: Vec<ToolInfo> =
            tools.iter().filter(|t| allowed.is_none_or(|a| a.contains(&t.name.as_str()))).cloned().collect();
        let override_path = ledger_root.join("templates/agents").join(format!("{name}.md.j2"));
        let source = crate::ledger::codec::read_optional(&override_path)?.unwrap_or_else(|| builtin.to_string());
        let rendered = render(name, &source, &role, tools).map_err(|e| {
            Error::new(ErrorKind::Validation, format!("template {name}.md.j2: {e}"))
                .hint(format!("fix {} or delete it to use the built-in template", override_path.display()))
        })?;
        plan.push((worktree.join(".claude/agents").join(format!("{name}.md")), rendered.into_bytes()));
    }

    let rel = |p: &Path| p.strip_prefix(worktree).unwrap_or(p).display().to_string();
    let mut report = ClaudeReport::default();
    let mut conflicts = Vec::new();
    for (path, bytes) in &plan {
        match std::fs::read(path) // fs: Claude Code's files in the work tree, not the ledger
        {
            Ok(existing) if existing == *bytes => report.unchanged.push(rel(path)),
            Ok(_) if !force && !path.ends_with(".mcp.json") && !path.ends_with("settings.json") => {
                conflicts.push(rel(path))
            }
            _ => report.written.push(rel(path)),
        }
    }
    if !conflicts.is_empty() {
        return Err(Error::new(
            ErrorKind::Conflict,
            format!("these files exist with other content and were left alone: {}", conflicts.join(", ")),
        )
        .hint("review them, then rerun with --force to replace them (nothing was written)"));
    }
    for (path, bytes) in &plan {
        if report.written.contains(&rel(path)) {
            atomic::write(path, bytes)?;
        }
    }
    Ok(report)
}

/// `.mcp.json` with the abathur server registered, keeping every other server the file lists.
fn mcp_json(path: &Path, command: &str, force: bool) -> Result<Vec<u8>> {
    let entry = serde_json::json!({ "command": command, "args": ["mcp"] });
    let mut doc = read_json_object(path)?;
    let servers = doc
        .as_object_mut()
        .ok_or_else(|| Error::new(ErrorKind::Validation, format!("{}: expected a JSON object", path.display())))?
        .entry("mcpServers")
        .or_insert_with(|| serde_json::json!({}));
    let servers = servers.as_object_mut().ok_or_else(|| {
        Error::new(ErrorKind::Validation, format!("{}: `mcpServers` must be an object", path.display()))
    })?;
    match servers.get(SERVER_NAME) {
        Some(existing) if *existing != entry && !force => {
            return Err(Error::new(
                ErrorKind::Conflict,
                format!("{}: the `{SERVER_NAME}` server is already registered differently: {existing}", path.display()),
            )
            .hint("rerun with --force to replace that entry (nothing was written)"));
        }
        _ => {
            servers.insert(SERVER_NAME.to_string(), entry);
        }
    }
    Ok((serde_json::to_string_pretty(&doc).expect("JSON values serialise") + "\n").into_bytes())
}

/// A JSON file abathur adds to and whose other content it keeps (`{}` when it does not exist).
fn read_json_object(path: &Path) -> Result<serde_json::Value> {
    let doc = match std::fs::read_to_string(path) // fs: Claude Code's settings in the work tree
    {
        Ok(text) => serde_json::from_str::<serde_json::Value>(&text).map_err(|e| {
            Error::new(ErrorKind::Validation, format!("{}: not valid JSON ({e})", path.display()))
                .hint("fix the file (abathur adds its entries to it and keeps everything else)")
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => serde_json::json!({}),
        Err(e) => return Err(Error::io(path, e)),
    };
    if !doc.is_object() {
        return Err(Error::new(ErrorKind::Validation, format!("{}: expected a JSON object", path.display())));
    }
    Ok(doc)
}

/// `.claude/settings.json` with abathur's denials added to `permissions.deny` (and, asked, its
/// hooks), keeping every other setting and rule.
fn settings_json(path: &Path, hooks: bool) -> Result<Vec<u8>> {
    let mut doc = read_json_object(path)?;
    let shape = |what: &str| {
        Error::new(ErrorKind::Validation, format!("{}: `{what}` has an unexpected shape", path.display()))
            .hint("fix the file; abathur adds to `permissions.deny` and `hooks` and keeps the rest")
    };
    let root = doc.as_object_mut().expect("checked to be an object");
    let permissions = root.entry("permissions").or_insert_with(|| serde_json::json!({}));
    let deny = permissions
        .as_object_mut()
        .ok_or_else(|| shape("permissions"))?
        .entry("deny")
        .or_insert_with(|| serde_json::json!([]))
        .as_array_mut()
        .ok_or_else(|| shape("permissions.deny"))?;
    for rule in DENIED {
        if !deny.iter().any(|r| r == rule) {
            deny.push(rule.into());
        }
    }
    if hooks {
        let all = root.entry("hooks").or_insert_with(|| serde_json::json!({}));
        let all = all.as_object_mut().ok_or_else(|| shape("hooks"))?;
        for (event, command) in [("SessionStart", "abathur context"), ("Stop", "abathur hook claude-stop")] {
            let entry = serde_json::json!({ "hooks": [{ "type": "command", "command": command }] });
            let list = all.entry(event).or_insert_with(|| serde_json::json!([]));
            let list = list.as_array_mut().ok_or_else(|| shape(&format!("hooks.{event}")))?;
            if !list.contains(&entry) {
                list.push(entry);
            }
        }
    }
    Ok((serde_json::to_string_pretty(&doc).expect("JSON values serialise") + "\n").into_bytes())
}

/// Renders an agent definition: `tools` are its role's tools, `all_tools` every tool the server has.
fn render(
    name: &str,
    source: &str,
    tools: &[ToolInfo],
    all: &[ToolInfo],
) -> std::result::Result<String, minijinja::Error> {
    let mut env = minijinja::Environment::new();
    env.add_template(name, source)?;
    let mut text = env.get_template(name)?.render(minijinja::context! {
        server => SERVER_NAME,
        tools => minijinja::value::Serde(tools),
        all_tools => minijinja::value::Serde(all),
    })?;
    text.push('\n'); // minijinja drops the template's final newline
    Ok(text)
}
