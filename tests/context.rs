//! `abathur context`: an agent's start-up state in one bounded call.

use crate::gate::signed_repo;

#[test]
fn context_gives_an_agent_its_milestone_gate_handover_work_and_memory_in_one_bounded_reply() {
    let repo = signed_repo();
    for i in 0..3 {
        repo.add(&[&format!("Schema part {i}"), "-m", "M1", "-t", "database-schema-implementer"]);
    }
    for i in 0..100 {
        repo.add(&[
            &format!("Memory table {i}, with a long summary to make the listing heavier than it needs to be"),
            "-m",
            "M2",
            "-t",
            "memory-implementer",
        ]);
    }
    repo.add(&["Docs", "-m", "M2", "-t", "technical-writer"]);
    for i in 0..40 {
        repo.ok(&[
            "memory",
            "add",
            "project:",
            &format!("fact-{i:02}"),
            &format!("Fact number {i} about the project."),
        ]);
    }
    repo.json(&["decision", "add", "Use TOML for the ledger", "-m", "M1"]);
    // M1's work is done; its gate opens M2 and hands over context.
    for _ in 0..3 {
        let claim = repo.json(&["task", "claim", "-t", "database-schema-implementer"]);
        let id = claim["task"]["id"].as_str().unwrap();
        repo.ok(&["task", "complete", id, "--lease", claim["lease_id"].as_str().unwrap()]);
    }
    repo.ok(&["gate", "approve", "M1", "-r", "done", "--next-context", "Sessions first; reuse the schema's id type"]);
    let claim = repo.json(&["task", "claim", "-t", "memory-implementer", "--agent", "mem-1"]);

    let out = repo.run(&["--json", "context", "-t", "memory-implementer", "--agent", "mem-1"]);
    assert!(out.status.success(), "{}", crate::common::describe(&out));
    let c: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(c["milestone"]["id"], "M2", "{c}");
    assert_eq!(c["milestone"]["total"], 101);
    assert!(c["milestone"]["gate"].as_str().unwrap().starts_with("M2: undecided"), "{c}");
    assert_eq!(c["handover"], "Sessions first; reuse the schema's id type");
    assert!(c["gates"][0].as_str().unwrap().contains("M1: approve (verified)"), "{c}");
    assert_eq!(c["ready_total"], 99, "the other memory tables, not the writer's task");
    assert_eq!(c["ready"].as_array().unwrap().len(), 8, "capped");
    assert_eq!(c["holding"][0]["id"], claim["task"]["id"]);
    assert!(c["decisions"][0].as_str().unwrap().contains("Use TOML for the ledger"), "{c}");
    assert_eq!(c["memory_total"], 40);
    assert_eq!(c["memory"].as_array().unwrap().len(), 8, "capped");
    // Bounded: about 1,000 tokens (4 bytes a token) whatever the ledger's size.
    assert!(out.stdout.len() < 5000, "{} bytes", out.stdout.len());
    eprintln!("context reply: {} bytes, about {} tokens", out.stdout.len(), out.stdout.len() / 4);
}
