//! Many real processes at once on one repository: nothing lost, nothing claimed twice.

use std::process::Stdio;

use crate::common::{Repo, describe};

/// Reads a claim's JSON reply on stdin and prints the task id and lease id (nothing when none).
const CLAIMED_FIELDS: &str =
    "import json, sys\nr = json.load(sys.stdin)\nif r.get('task'): print(r['task']['id'], r['lease_id'])";

/// 64 worker processes each add tasks, then claim, heartbeat and complete until the queue is empty.
#[test]
fn sixty_four_processes_add_claim_heartbeat_and_complete() {
    const WORKERS: usize = 64;
    const ADDS_PER_WORKER: usize = 3;
    let repo = Repo::new();
    let script = r#"
        set -u
        for i in 1 2 3; do
            "$BIN" --json task add "work $WORKER/$i" -t worker > /dev/null || exit 10
        done
        while true; do
            out=$("$BIN" --json task claim -t worker --agent "w$WORKER") || exit 11
            read -r id lease <<< "$(printf '%s' "$out" | python3 -c "$FIELDS")"
            if [ -z "$id" ]; then
                # Nothing ready: done once every worker has added its tasks and the queue is drained.
                remaining=$("$BIN" --json task list -t worker --exclude-status completed -n 500 | grep -c '"id"')
                [ "$remaining" = "0" ] && exit 0
                continue
            fi
            "$BIN" task heartbeat "$id" --lease "$lease" > /dev/null || exit 12
            "$BIN" task complete "$id" --lease "$lease" --agent "w$WORKER" > /dev/null || exit 13
            echo "$id" >> "$LOG"
        done
    "#;
    let log_dir = tempfile::tempdir().unwrap();
    let children: Vec<_> = (0..WORKERS)
        .map(|w| {
            let mut cmd = std::process::Command::new("bash");
            cmd.arg("-c").arg(script).current_dir(repo.path());
            crate::common::hermetic(&mut cmd, repo.path());
            cmd.env("BIN", crate::common::bin())
                .env("FIELDS", CLAIMED_FIELDS)
                .env("WORKER", w.to_string())
                .env("LOG", log_dir.path().join(format!("w{w}.log")))
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn worker")
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "worker failed: {}", describe(&out));
    }

    // Nothing lost: every added task exists, parses and is completed.
    let status = repo.json(&["task", "status"]);
    assert_eq!(status["total_tasks"], WORKERS * ADDS_PER_WORKER, "{status}");
    assert_eq!(status["completed"], WORKERS * ADDS_PER_WORKER, "{status}");
    assert!(status.get("warnings").is_none(), "every file parses: {status}");

    // Nothing claimed twice: each completion was logged by exactly one worker...
    let mut completed: Vec<String> = Vec::new();
    for entry in std::fs::read_dir(log_dir.path()).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        completed.extend(text.lines().map(str::to_string));
    }
    let total = completed.len();
    completed.sort();
    completed.dedup();
    assert_eq!(total, completed.len(), "a task was completed by two workers");
    assert_eq!(total, WORKERS * ADDS_PER_WORKER);
    // ...and each task's own history shows exactly one claim and one completion.
    for file in std::fs::read_dir(repo.tasks_dir()).unwrap() {
        let path = file.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let text = std::fs::read_to_string(&path).unwrap();
            assert_eq!(text.matches("event = \"claimed\"").count(), 1, "{}", path.display());
            assert_eq!(text.matches("event = \"completed\"").count(), 1, "{}", path.display());
        }
    }
    // And the cache agrees with the files.
    let cached = repo.json(&["task", "list", "-n", "500"]);
    std::fs::remove_dir_all(repo.path().join(".git/abathur/cache")).unwrap();
    assert_eq!(repo.json(&["task", "list", "-n", "500"]), cached);
}

/// Many claimants racing for fewer tasks than there are claimants: each task goes to one of them.
#[test]
fn racing_claimants_never_share_a_task() {
    let repo = Repo::new();
    for i in 0..10 {
        repo.add(&[&format!("prize {i}")]);
    }
    let children: Vec<_> = (0..40)
        .map(|i| {
            repo.cmd(&["--json", "task", "claim", "--agent", &format!("racer{i}")])
                .stdout(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut won = Vec::new();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", describe(&out));
        let reply: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        if reply["claimed"] == true {
            won.push(reply["task"]["id"].as_str().unwrap().to_string());
        }
    }
    assert_eq!(won.len(), 10, "every task claimed exactly once: {won:?}");
    won.sort();
    won.dedup();
    assert_eq!(won.len(), 10);
}
