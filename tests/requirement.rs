//! Project requirements and the signed completion report.

use crate::common::s;
use crate::gate::signed_repo;

#[test]
fn requirements_are_tracked_and_the_completion_report_is_signed_like_a_gate() {
    let repo = signed_repo();
    let task = repo.add(&["Core schema", "-m", "M1"]);
    repo.json(&["requirement", "set", "R1", "--title", "Reads under 50 ms", "-m", "M1", "--task", &task]);
    repo.json(&["requirement", "set", "R2", "--title", "Semantic search"]);
    repo.json(&["requirement", "set", "R10", "--title", "Ten"]);
    let r1 = repo.json(&[
        "requirement",
        "set",
        "R1",
        "--status",
        "met",
        "--evidence",
        "bench: 12 ms p99",
        "--criterion",
        "M1:1",
    ]);
    assert_eq!(r1["status"], "met");
    assert_eq!(r1["criteria"][0], "M1:1");
    repo.fails(&["requirement", "set", "R1", "--criterion", "M1:99"], 1);
    assert_eq!(
        repo.json(&["milestone", "show", "M1"])["requirements"][0],
        "R1 (met)",
        "the milestone shows what it delivers"
    );
    assert_eq!(r1["tasks"][0], task.as_str());
    let list = repo.json(&["requirement", "list"]);
    let ids: Vec<&str> = list["requirements"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["R1", "R2", "R10"], "in natural order");
    assert_eq!(list["counts"]["met"], 1);
    assert_eq!(list["counts"]["open"], 2);
    repo.fails(&["requirement", "set", "R3"], 1); // a new requirement needs a title
    repo.fails(&["requirement", "set", "R3", "--title", "x", "-m", "M9"], 1);

    repo.ok(&["gate", "approve", "M1", "-r", "done"]);
    let reply = repo.json(&["report"]);
    assert_eq!(reply["signed"], true);
    assert_eq!(reply["unmet"].as_array().unwrap().len(), 2, "{reply}");
    let text = std::fs::read_to_string(s(&reply, "report")).unwrap();
    for part in [
        "# Project Completion Report",
        "### M1:",
        "Gate: approve (verified)",
        "Validation report: `gates/",
        "[x] **R1** Reads under 50 ms: met",
        "evidence: bench: 12 ms p99",
        "R2: Semantic search",
    ] {
        assert!(text.contains(part), "report lacks {part}: {text}");
    }
    // Sealed: plain git accepts the signed tag and commit, and the report is committed in it.
    let mut cmd = std::process::Command::new("git");
    cmd.args(["verify-tag", s(&reply, "tag")]).current_dir(repo.path());
    crate::common::hermetic(&mut cmd, repo.path());
    assert!(cmd.output().unwrap().status.success());
    let id = s(&reply, "id");
    assert_eq!(repo.git(&["show", &format!("{}:reports/{id}.md", s(&reply, "commit"))]), text);
    repo.ok(&["check"]);
}
