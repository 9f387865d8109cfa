//! `abathur mcp` driven by a real MCP client we did not write: the official Python SDK (`pip install
//! mcp`; `.ci/run` installs it). The scripts live in tests/mcp/.

use crate::common::{Repo, bin, describe, hermetic};

/// Runs a client script with the same hermetic environment as every other test: the servers it
/// spawns see no user or system git configuration.
fn python(repo: &Repo, script: &str, args: &[&str]) {
    python_output(repo, script, args);
}

/// Runs a client script, requires success, returns its stdout.
fn python_output(repo: &Repo, script: &str, args: &[&str]) -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/mcp/");
    let mut cmd = std::process::Command::new("python3");
    cmd.arg(format!("{path}{script}")).args(args);
    hermetic(&mut cmd, repo.path());
    let out = cmd.output().expect("python3 runs (the MCP client tests need python3 with `pip install mcp`)");
    assert!(out.status.success(), "{script}: {}", describe(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_seeds_workflow_through_the_official_python_client() {
    let repo = Repo::new();
    repo.git(&["config", "user.name", "Orchestrator"]);
    repo.git(&["config", "user.email", "orchestrator@example.com"]);
    repo.allow_unsigned();
    python(&repo, "seed_workflow.py", &[bin(), repo.path().to_str().unwrap()]);
    // Everything done over MCP is committed: a plain clone, once its ledger is checked out, shows
    // the same queue and gates (the in-tree ledger left all of it uncommitted).
    let clone = Repo { dir: tempfile::tempdir().unwrap() };
    clone.git(&["clone", "-q", "--no-local", repo.path().to_str().unwrap(), "."]);
    clone.ok(&["init"]);
    let counts = |r: &Repo| {
        let s = r.json(&["task", "status"]);
        (s["total_tasks"].clone(), s["completed"].clone(), s["cancelled"].clone())
    };
    assert_eq!(counts(&clone), counts(&repo));
    assert!(counts(&clone).1.as_u64().unwrap() > 0, "{:?}", counts(&clone));
    assert_eq!(clone.json(&["gate", "status"])["gates"], repo.json(&["gate", "status"])["gates"]);
    clone.ok(&["check"]);
}

#[test]
fn a_four_milestone_project_runs_through_mcp_alone_as_the_seed_describes() {
    let repo = crate::gate::planless_signed_repo();
    let junit = repo.path().join("junit.xml");
    std::fs::write(&junit, r#"<testsuite><testcase name="a"/><testcase name="b"/></testsuite>"#).unwrap();
    let out = python_output(&repo, "seed_project.py", &[bin(), repo.path().to_str().unwrap(), junit.to_str().unwrap()]);
    // The call counts, for docs/mcp.md and the note.
    eprintln!("{out}");
    let totals: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert!(totals["orchestrator"].as_u64().unwrap() < 75, "{totals}");
    repo.ok(&["check"]);
    assert_eq!(repo.json(&["gate", "verify", "--all"])["ok"], true);
}

#[test]
fn fifty_two_servers_at_once_lose_nothing_and_claim_nothing_twice() {
    let repo = Repo::new();
    python(&repo, "many_servers.py", &[bin(), repo.path().to_str().unwrap(), "52", "156"]);
    let status = repo.json(&["task", "status"]);
    assert_eq!(status["total_tasks"], 156);
    assert_eq!(status["completed"], 156);
    assert!(status.get("warnings").is_none(), "{status}");
    for file in std::fs::read_dir(repo.tasks_dir()).unwrap() {
        let path = file.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let text = std::fs::read_to_string(&path).unwrap();
            assert_eq!(text.matches("event = \"claimed\"").count(), 1, "{}", path.display());
        }
    }
}
