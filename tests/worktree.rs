//! Linked worktrees share the main worktree's live queue.

use crate::common::{Repo, bin, describe, hermetic};

#[test]
fn a_linked_worktree_sees_and_claims_from_the_same_queue() {
    let repo = Repo::new();
    std::fs::write(repo.path().join("README"), "x").unwrap();
    repo.git(&["add", "-A"]);
    repo.git(&["commit", "-qm", "init"]);
    let wt = repo.path().join("wt-agent");
    repo.git(&["worktree", "add", "-q", wt.to_str().unwrap(), "-b", "agent"]);
    let id = repo.add(&["Shared work"]);

    let mut cmd = std::process::Command::new(bin());
    cmd.args(["--json", "task", "claim", "--agent", "wt"]).current_dir(&wt);
    hermetic(&mut cmd, repo.path());
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    let reply: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(reply["task"]["id"], id.as_str(), "the worktree claimed from the main queue");
    // The main worktree sees the claim.
    assert_eq!(repo.json(&["task", "get", &id])["status"], "running");
    assert!(!wt.join(".git/abathur/tasks").join(format!("{id}.toml")).exists(), "no split queue in the worktree");
}
