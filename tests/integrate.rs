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
        for tool in &tools {
            assert!(text.contains(&format!("mcp__abathur__{}", tool.name)), "{agent} does not grant {}", tool.name);
        }
        assert!(!text.contains("{{") && !text.contains("{%"), "{agent}: template fully rendered");
    }
    let orchestrator =
        std::fs::read_to_string(repo.path().join(".claude/agents/implementation-orchestrator.md")).unwrap();
    for phrase in ["APPROVE", "CONDITIONAL", "REVISE", "ESCALATE", "Validation Report", "task_execution_plan"] {
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
        "---\nname: implementer\n---\nTools: {% for t in tools %}{{ t.name }} {% endfor %}\n",
    )
    .unwrap();
    repo.ok(&["init", "--claude"]);
    let text = std::fs::read_to_string(repo.path().join(".claude/agents/implementer.md")).unwrap();
    assert!(
        text.contains("Tools: decision_record gate_check gate_decide gate_status memory_add memory_delete"),
        "{text}"
    );
    assert!(text.contains(" search task_cancel task_claim"), "{text}");
    std::fs::write(dir.join("implementer.md.j2"), "{% for %}").unwrap();
    let err = repo.fails(&["init", "--claude", "--force"], 1);
    assert!(err.contains("implementer.md.j2"), "{err}");
}
