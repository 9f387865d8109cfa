//! `abathur init --claude`: registers the MCP server and installs agent definitions naming the real
//! tools; never replaces what a user changed without --force.

use crate::common::Repo;

#[test]
fn init_claude_registers_the_server_and_installs_agents() {
    let repo = Repo::bare_git();
    std::fs::write(repo.path().join(".mcp.json"), r#"{"mcpServers":{"other":{"command":"other-server"}}}"#).unwrap();
    let reply = repo.json(&["init", "--claude"]);
    assert_eq!(reply["claude"]["written"].as_array().unwrap().len(), 4, "{reply}");

    let mcp: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(repo.path().join(".mcp.json")).unwrap()).unwrap();
    assert_eq!(mcp["mcpServers"]["abathur"], serde_json::json!({"command": "abathur", "args": ["mcp"]}));
    assert_eq!(mcp["mcpServers"]["other"]["command"], "other-server", "other servers are kept");

    let tools = abathur::mcp::tool_catalog();
    assert!(tools.len() >= 10);
    for agent in ["implementation-orchestrator", "implementer"] {
        let text = std::fs::read_to_string(repo.path().join(format!(".claude/agents/{agent}.md"))).unwrap();
        assert!(text.starts_with(&format!("---\nname: {agent}\n")), "{agent}: front matter");
        // Claude Code's agent format: YAML front matter with name, description and a tools list.
        let front = text.strip_prefix("---\n").unwrap().split_once("\n---\n").unwrap().0;
        let fields: std::collections::BTreeMap<&str, &str> = front.lines().filter_map(|l| l.split_once(": ")).collect();
        assert_eq!(fields.keys().copied().collect::<Vec<_>>(), ["description", "name", "tools"], "{agent}: {front}");
        let granted: Vec<&str> = fields["tools"].split(", ").filter_map(|t| t.strip_prefix("mcp__abathur__")).collect();
        for tool in &tools {
            let may = agent == "implementation-orchestrator"
                || abathur::integrate::IMPLEMENTER_TOOLS.contains(&tool.name.as_str());
            assert_eq!(granted.contains(&tool.name.as_str()), may, "{agent} and {}", tool.name);
        }
        assert!(!text.contains("{{") && !text.contains("{%"), "{agent}: template fully rendered");
    }
    let implementer = std::fs::read_to_string(repo.path().join(".claude/agents/implementer.md")).unwrap();
    for forbidden in ["gate_decide", "task_cancel", "task_update", "memory_delete"] {
        assert!(!implementer.contains(&format!("mcp__abathur__{forbidden}")), "an implementer cannot {forbidden}");
    }
    let orchestrator =
        std::fs::read_to_string(repo.path().join(".claude/agents/implementation-orchestrator.md")).unwrap();
    assert!(!orchestrator.contains("Validate milestone"), "no validation task that blocks its own gate");
    for phrase in
        ["APPROVE", "CONDITIONAL", "REVISE", "ESCALATE", "Validation Report", "task_execution_plan", "gate resolve"]
    {
        assert!(orchestrator.contains(phrase), "orchestrator lacks {phrase}");
    }

    // Idempotent.
    let again = repo.json(&["init", "--claude"]);
    assert_eq!(again["claude"]["written"].as_array().unwrap().len(), 0);
    assert_eq!(again["claude"]["unchanged"].as_array().unwrap().len(), 4);
}

#[test]
fn settings_deny_the_command_line_ways_around_the_roles_and_hooks_are_opt_in() {
    let repo = Repo::new();
    std::fs::create_dir_all(repo.path().join(".claude")).unwrap();
    std::fs::write(
        repo.path().join(".claude/settings.json"),
        r#"{"model":"opus","permissions":{"deny":["Bash(rm -rf:*)"]}}"#,
    )
    .unwrap();
    repo.ok(&["init", "--claude", "--mcp-command", "/opt/bin/abathur"]);
    let read = |name: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(repo.path().join(name)).unwrap()).unwrap()
    };
    let settings = read(".claude/settings.json");
    assert_eq!(settings["model"], "opus", "other settings are kept");
    let deny: Vec<&str> =
        settings["permissions"]["deny"].as_array().unwrap().iter().map(|r| r.as_str().unwrap()).collect();
    for rule in ["Bash(rm -rf:*)", "Bash(abathur gate:*)", "Bash(abathur task cancel:*)", "Write(.git/abathur/**)"] {
        assert!(deny.contains(&rule), "{rule} in {deny:?}");
    }
    assert!(settings.get("hooks").is_none(), "hooks only when asked");
    assert_eq!(
        read(".mcp.json")["mcpServers"]["abathur"]["command"],
        "/opt/bin/abathur",
        "an absolute path when asked"
    );

    repo.ok(&["init", "--claude", "--hooks", "--force"]);
    let settings = read(".claude/settings.json");
    assert_eq!(settings["hooks"]["SessionStart"][0]["hooks"][0]["command"], "abathur context");
    assert_eq!(settings["hooks"]["Stop"][0]["hooks"][0]["command"], "abathur hook claude-stop");
    let deny = settings["permissions"]["deny"].as_array().unwrap();
    assert_eq!(deny.iter().filter(|r| *r == "Bash(abathur gate:*)").count(), 1, "no duplicates on a rerun");
}

#[test]
fn the_stop_hook_asks_once_to_finish_running_tasks() {
    use std::io::Write;
    let repo = Repo::new();
    let hook = |input: &str| {
        let mut child = repo
            .cmd(&["hook", "claude-stop"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", crate::common::describe(&out));
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(hook(r#"{"stop_hook_active": false}"#), "", "nothing running: stop");
    let id = repo.add(&["Write the parser", "-t", "implementer"]);
    repo.json(&["task", "claim", "-t", "implementer", "--agent", "impl-1"]);
    let block: serde_json::Value = serde_json::from_str(&hook(r#"{"stop_hook_active": false}"#)).unwrap();
    assert_eq!(block["decision"], "block");
    let reason = block["reason"].as_str().unwrap();
    assert!(reason.contains(&id) && reason.contains("held by impl-1") && reason.contains("task_complete"), "{reason}");
    assert_eq!(hook(r#"{"stop_hook_active": true}"#), "", "the second stop goes through");
    assert_eq!(hook("not json"), hook(r#"{"stop_hook_active": false}"#), "unreadable input: ask once");
}

#[test]
fn user_changes_are_never_replaced_without_force() {
    let repo = Repo::bare_git();
    repo.ok(&["init", "--claude"]);
    let agent = repo.path().join(".claude/agents/implementer.md");
    std::fs::write(&agent, "my own implementer\n").unwrap();
    std::fs::remove_file(repo.path().join(".claude/agents/implementation-orchestrator.md")).unwrap();
    let err = repo.fails(&["init", "--claude"], 3);
    assert!(err.contains(".claude/agents/implementer.md") && err.contains("--force"), "{err}");
    assert_eq!(std::fs::read_to_string(&agent).unwrap(), "my own implementer\n");
    assert!(!repo.path().join(".claude/agents/implementation-orchestrator.md").exists(), "all or nothing");

    std::fs::write(
        repo.path().join(".mcp.json"),
        r#"{"mcpServers":{"abathur":{"command":"/opt/abathur","args":["mcp"]}}}"#,
    )
    .unwrap();
    std::fs::write(&agent, "my own implementer\n").unwrap();
    let err = repo.fails(&["init", "--claude"], 3);
    assert!(err.contains("already registered differently"), "{err}");

    repo.ok(&["init", "--claude", "--force"]);
    assert!(std::fs::read_to_string(&agent).unwrap().contains("name: implementer"));
}

#[test]
fn a_project_can_override_the_agent_templates() {
    let repo = Repo::new();
    let dir = repo.path().join(".git/abathur/templates/agents");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("implementer.md.j2"),
        "---\nname: implementer\n---\nTools: {% for t in tools %}{{ t.name }} {% endfor %}\nAll: {% for t in all_tools %}{{ t.name }} {% endfor %}\n",
    )
    .unwrap();
    repo.ok(&["init", "--claude"]);
    let text = std::fs::read_to_string(repo.path().join(".claude/agents/implementer.md")).unwrap();
    assert!(
        text.contains("Tools: context memory_add memory_get memory_list memory_update search session_append_event"),
        "{text}"
    );
    let all = text.lines().find_map(|l| l.strip_prefix("All: ")).unwrap();
    assert_eq!(all.split_whitespace().count(), abathur::mcp::tool_catalog().len(), "{text}");
    assert!(all.contains("gate_decide"), "{text}");
    std::fs::write(dir.join("implementer.md.j2"), "{% for %}").unwrap();
    let err = repo.fails(&["init", "--claude", "--force"], 1);
    assert!(err.contains("implementer.md.j2"), "{err}");
}
