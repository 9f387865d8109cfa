//! `abathur init --claude`: registers the MCP server and installs agent definitions naming the real
//! tools; never replaces what a user changed without --force.

use crate::common::Repo;

#[test]
fn init_claude_registers_the_server_and_installs_agents() {
    let repo = Repo::bare_git();
    std::fs::write(repo.path().join(".mcp.json"), r#"{"mcpServers":{"other":{"command":"other-server"}}}"#).unwrap();
    let reply = repo.json(&["init", "--claude"]);
    assert_eq!(reply["claude"]["written"].as_array().unwrap().len(), 3, "{reply}");

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
    assert_eq!(again["claude"]["unchanged"].as_array().unwrap().len(), 3);
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
