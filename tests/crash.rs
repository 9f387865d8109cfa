//! Writers killed with SIGKILL at random moments: every file still parses and no completed work is lost.

use std::os::unix::process::CommandExt;
use std::process::Stdio;
use std::time::Duration;

use crate::common::Repo;

#[test]
fn sigkill_at_random_moments_loses_nothing() {
    let repo = Repo::new();
    let log_dir = tempfile::tempdir().unwrap();
    // Each writer loops: add, claim, complete; it logs an id only after `complete` reported success.
    let script = r#"
        n=0
        while true; do
            n=$((n+1))
            "$BIN" task add "crash work $WORKER/$n" -t crash > /dev/null 2>&1
            # The claim's plain output to a pipe: one "field value" line each (`task <id>` first).
            id=$("$BIN" task claim -t crash --agent "c$WORKER" 2>/dev/null | awk '$1 == "task" { print $2 }')
            [ -n "$id" ] || continue
            if "$BIN" task complete "$id" > /dev/null 2>&1; then echo "$id" >> "$LOG"; fi
        done
    "#;
    let mut next = abathur::queue::synthetic::xorshift(0x9E37_79B9_7F4A_7C15);
    let mut random = move |below: u64| next() % below;
    for round in 0..6 {
        let children: Vec<_> = (0..8)
            .map(|w| {
                let mut cmd = std::process::Command::new("bash");
                cmd.arg("-c").arg(script).current_dir(repo.path()).process_group(0);
                crate::common::hermetic(&mut cmd, repo.path());
                cmd.env("BIN", crate::common::bin())
                    .env("WORKER", format!("{round}-{w}"))
                    .env("LOG", log_dir.path().join(format!("r{round}w{w}.log")))
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for child in children {
            std::thread::sleep(Duration::from_millis(50 + random(250)));
            // Kill the whole process group: the bash loop and whichever abathur it is running.
            let pgid = child.id() as i32;
            kill_group(-pgid);
            let mut child = child;
            let _ = child.wait();
        }
    }

    // Every file parses, and the cache (rebuilt or not) agrees with the files.
    let status = repo.json(&["task", "status"]);
    assert!(status.get("warnings").is_none(), "a file was torn: {status}");
    assert!(status["total_tasks"].as_u64().unwrap() > 0);
    let verified = repo.json(&["task", "list", "-n", "500", "--verify"]);
    assert!(verified.get("warnings").is_none(), "{verified}");
    std::fs::remove_dir_all(repo.path().join(".git/abathur/cache")).unwrap();
    assert_eq!(repo.json(&["task", "list", "-n", "500"]), verified);

    // No acknowledged completion was lost.
    let mut acknowledged = 0;
    for entry in std::fs::read_dir(log_dir.path()).unwrap() {
        for id in std::fs::read_to_string(entry.unwrap().path()).unwrap().lines() {
            acknowledged += 1;
            assert_eq!(repo.json(&["task", "get", id])["status"], "completed", "completion of {id} was lost");
        }
    }
    assert!(acknowledged > 0, "the writers should have completed some work before being killed");

    // The queue still works: interrupted claims expire and can be claimed again.
    let later = "2100-01-01T00:00:00Z";
    let reclaimed = repo.json_env(&["task", "claim", "-t", "crash"], "ABATHUR_NOW", later);
    let ready_or_none =
        reclaimed["claimed"] == true || repo.json_env(&["task", "status"], "ABATHUR_NOW", later)["ready"] == 0;
    assert!(ready_or_none);
}

fn kill_group(pid: i32) {
    // bash's builtin kill: no dependency on procps, and it takes a negative pid for a process group.
    let status = std::process::Command::new("bash").args(["-c", &format!("kill -9 -- {pid}")]).status().unwrap();
    assert!(status.success());
}
