//! `abathur mcp` driven by a real MCP client we did not write: the official Python SDK (`pip install
//! mcp`; `.ci/run` installs it). The scripts live in tests/mcp/.

use crate::common::{Repo, bin, describe};

fn python(script: &str, args: &[&str]) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/mcp/");
    let out = std::process::Command::new("python3")
        .arg(format!("{path}{script}"))
        .args(args)
        .output()
        .expect("python3 runs (the MCP client tests need python3 with `pip install mcp`)");
    assert!(out.status.success(), "{script}: {}", describe(&out));
}

#[test]
fn the_seeds_workflow_through_the_official_python_client() {
    let repo = Repo::new();
    python("seed_workflow.py", &[bin(), repo.path().to_str().unwrap()]);
}

#[test]
fn fifty_two_servers_at_once_lose_nothing_and_claim_nothing_twice() {
    let repo = Repo::new();
    python("many_servers.py", &[bin(), repo.path().to_str().unwrap(), "52", "156"]);
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
