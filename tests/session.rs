//! Agent sessions: an event log and a state as ledger files; concurrent appends lose nothing.

use std::process::Command;

use crate::common::{Repo, describe};

#[test]
fn fifty_agents_appending_at_once_lose_no_event_and_no_state_key() {
    let repo = Repo::new();
    let created = repo.json(&[
        "session",
        "create",
        "--app",
        "implementation-orchestrator",
        "--user",
        "lead",
        "--state",
        r#"{"phase": "debugging"}"#,
    ]);
    let id = created["id"].as_str().unwrap().to_string();
    let path = repo.path().to_path_buf();
    let agents: Vec<_> = (0..50)
        .map(|n| {
            let (path, id) = (path.clone(), id.clone());
            std::thread::spawn(move || {
                let mut cmd = Command::new(crate::common::bin());
                cmd.args(["--json", "session", "append", &id, &format!(r#"{{"step": {n}}}"#)])
                    .args(["--set", &format!(r#"{{"agent-{n}": "done"}}"#), "--author", &format!("agent-{n}")])
                    .current_dir(&path);
                crate::common::hermetic(&mut cmd, &path);
                let out = cmd.output().unwrap();
                assert!(out.status.success(), "{}", describe(&out));
            })
        })
        .collect();
    for a in agents {
        a.join().unwrap();
    }
    let got = repo.json(&["session", "show", &id, "--events", "500"]);
    assert_eq!(got["event_count"], 50, "{got}");
    let state = got["state"].as_object().unwrap();
    assert_eq!(state.len(), 51, "every agent's key and the initial one: {got}");
    assert_eq!(state["phase"], "debugging");
    assert_eq!(repo.json(&["ledger", "status"])["uncommitted"], serde_json::json!([]), "every append is committed");

    // A null removes a key; a task names the session; an ended session refuses appends.
    let after = repo.json(&["session", "append", &id, "handed over", "--set", r#"{"phase": null}"#]);
    assert!(after["state"].get("phase").is_none(), "{after}");
    let task = repo.json(&["task", "add", "Reproduce the crash", "--session", &id]);
    assert_eq!(repo.json(&["task", "get", task["task_id"].as_str().unwrap()])["session_id"], id.as_str());
    let err = repo.fails(&["task", "add", "Orphan", "--session", "01zzzzzzzzzzzzzzzzzzzzzzzz"], 1);
    assert!(err.contains("session"), "{err}");
    let ended = repo.json(&["session", "end", &id]);
    assert_eq!(ended["status"], "ended");
    let err = repo.fails(&["session", "append", &id, "too late"], 3);
    assert!(err.contains("has ended"), "{err}");
    let list = repo.json(&["session", "list", "--status", "ended"]);
    assert_eq!(list["sessions"][0]["id"], id.as_str());
    repo.fails(&["session", "append", &id, "x", "--set", "[1, 2]"], 1);
}
