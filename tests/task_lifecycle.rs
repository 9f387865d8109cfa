//! The whole task lifecycle through the real binary: enqueue, list, get, status, plan, claim,
//! heartbeat, complete, fail (retry, backoff, final failure with cascade), cancel, lease expiry.

use crate::common::{Repo, s};

#[test]
fn enqueue_replies_with_the_seed_fields_and_derives_ready_or_blocked() {
    let repo = Repo::new();
    let a = repo.json(&[
        "task",
        "add",
        "Design the schema",
        "--source",
        "agent_planner",
        "-t",
        "schema-implementer",
        "-p",
        "7",
    ]);
    for field in ["task_id", "status", "calculated_priority", "dependency_depth", "submitted_at"] {
        assert!(a.get(field).is_some(), "enqueue reply lacks {field}: {a}");
    }
    assert_eq!(a["status"], "ready");
    let b = repo.json(&["task", "add", "Write the tests", "--after", s(&a, "task_id")]);
    assert_eq!(b["status"], "blocked");
    assert_eq!(b["dependency_depth"], 1);

    let got = repo.json(&["task", "get", s(&b, "task_id")]);
    assert_eq!(got["prerequisites"][0], a["task_id"]);
    // Typed, with the prerequisite's status as `task list` shows it (ready, not the stored "pending").
    let reason = &got["blocked_by"][0];
    assert_eq!(reason["reason"], "prerequisite");
    assert_eq!(reason["task_id"], a["task_id"]);
    assert_eq!(reason["status"], "ready");
    assert_eq!(reason["message"].as_str().unwrap(), format!("waiting on {} (ready)", s(&a, "task_id")));
    let got_a = repo.json(&["task", "get", s(&a, "task_id")]);
    assert_eq!(got_a["dependents"][0], b["task_id"]);
    assert_eq!(got_a["source"], "agent_planner");
    assert_eq!(got_a["agent_type"], "schema-implementer");
    assert_eq!(got_a["base_priority"], 7);
    assert!(
        got_a["calculated_priority"].as_f64().unwrap() > a["calculated_priority"].as_f64().unwrap(),
        "a task others wait on ranks higher than when it was alone"
    );
}

#[test]
fn work_already_done_is_recorded_completed_in_one_command() {
    let repo = Repo::new();
    let open = repo.add(&["Still to do"]);
    let before = repo.snapshot_files();
    // Done work cannot have waited on unfinished work; --result needs --completed. Nothing is written.
    let err = repo.fails(&["task", "add", "Done early", "--completed", "--after", &open], 3);
    assert!(err.contains("cannot have waited on unfinished work"), "{err}");
    repo.fails(&["task", "add", "Not done", "--result", "{}"], 2);
    repo.fails(&["task", "add", "Done", "--completed", "--result", "{not json"], 1);
    assert_eq!(repo.snapshot_files(), before);

    let done = repo.json(&[
        "task",
        "add",
        "Fixed the flaky test",
        "--completed",
        "--result",
        r#"{"commit":"abc123"}"#,
        "--created-by",
        "founding-engineer",
        "-m",
        "M1",
    ]);
    assert_eq!(done["status"], "completed");
    assert_eq!(done["calculated_priority"], 0.0);
    let id = s(&done, "task_id");
    let got = repo.json(&["task", "get", id]);
    assert_eq!(got["status"], "completed");
    assert_eq!(got["result_data"]["commit"], "abc123");
    let events: Vec<&str> = got["events"].as_array().unwrap().iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(events, ["created", "completed"]);
    assert!(got["completed_at"].is_string());
    // It counts as finished work: a task after it is ready at once, and it is never claimed.
    let next = repo.json(&["task", "add", "Build on it", "--after", id]);
    assert_eq!(next["status"], "ready");
    let status = repo.json(&["task", "status"]);
    assert_eq!(status["completed"], 1);
    let err = repo.fails(&["task", "claim", "--task", id, "--agent", "a"], 3);
    assert!(err.contains("it is completed"), "{err}");
}

#[test]
fn reference_worked_example_scores_32_5() {
    let repo = Repo::new();
    let reply = repo.json(&["task", "add", "Plain task", "--source", "human", "-p", "5"]);
    assert_eq!(reply["calculated_priority"], 32.5);
}

#[test]
fn full_lifecycle_claim_heartbeat_complete_unblocks_dependents() {
    let repo = Repo::new();
    let a = repo.add(&["A", "-t", "builder"]);
    let b = repo.add(&["B", "--after", &a, "-t", "builder"]);
    let c = repo.add(&["C", "--after", &a, "--after", &b, "-t", "builder"]);

    let claim = repo.json(&["task", "claim", "-t", "builder", "--agent", "agent-1"]);
    assert_eq!(claim["claimed"], true);
    assert_eq!(claim["task"]["id"], a.as_str());
    assert_eq!(claim["task"]["status"], "running");
    let lease = s(&claim, "lease_id").to_string();

    // Nothing else is ready while A runs.
    let none = repo.json(&["task", "claim", "-t", "builder"]);
    assert_eq!(none["claimed"], false);
    assert!(s(&none, "message").contains("no task is ready"));

    let hb = repo.json(&["task", "heartbeat", &a, "--lease", &lease]);
    assert!(s(&hb, "lease_expires_at") >= s(&claim, "lease_expires_at"));
    let wrong = repo.fails(&["task", "heartbeat", &a, "--lease", "01aaaaaaaaaaaaaaaaaaaaaaaa"], 3);
    assert!(wrong.contains("another lease"), "{wrong}");

    let done =
        repo.json(&["task", "complete", &a, "--lease", &lease, "--result", r#"{"files":["schema.sql"],"ok":true}"#]);
    assert_eq!(done["status"], "completed");
    assert_eq!(done["unblocked_task_ids"], serde_json::json!([b]));
    let got = repo.json(&["task", "get", &a]);
    assert_eq!(got["result_data"], serde_json::json!({"files": ["schema.sql"], "ok": true}));
    let events: Vec<&str> = got["events"].as_array().unwrap().iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(events, ["created", "claimed", "completed"]);

    // A finished task cannot change.
    let again = repo.fails(&["task", "complete", &a], 3);
    assert!(again.contains("already completed"), "{again}");
    let cancel = repo.fails(&["task", "cancel", &a], 3);
    assert!(cancel.contains("already completed"), "{cancel}");

    let claim_b = repo.json(&["task", "claim", "--agent", "agent-2"]);
    assert_eq!(claim_b["task"]["id"], b.as_str());
    repo.ok(&["task", "complete", &b]);
    assert_eq!(repo.json(&["task", "get", &c])["status"], "ready");
}

#[test]
fn completing_a_task_that_is_not_running_is_refused() {
    let repo = Repo::new();
    let a = repo.add(&["A"]);
    let err = repo.fails(&["task", "complete", &a], 3);
    assert!(err.contains("not running"), "{err}");
    let err = repo.fails(&["task", "fail", &a, "-e", "boom"], 3);
    assert!(err.contains("not running"), "{err}");
}

#[test]
fn failure_retries_with_backoff_then_fails_and_cancels_dependents() {
    let repo = Repo::new();
    let a = repo.add(&["Flaky", "--max-retries", "1"]);
    let b = repo.add(&["Needs flaky", "--after", &a]);
    let c = repo.add(&["Needs B", "--after", &b]);
    let t0 = "2030-01-01T00:00:00Z";

    repo.json_env(&["task", "claim"], "ABATHUR_NOW", t0);
    let first = repo.json_env(&["task", "fail", &a, "-e", "timeout talking to db"], "ABATHUR_NOW", t0);
    assert_eq!(first["status"], "pending");
    assert_eq!(first["retry_count"], 1);
    assert_eq!(s(&first, "retry_at"), "2030-01-01T00:00:10.000Z", "first backoff is the configured 10 s");
    // During backoff it is pending and not claimable.
    let during = repo.json_env(&["task", "get", &a], "ABATHUR_NOW", "2030-01-01T00:00:05Z");
    assert_eq!(during["status"], "pending");
    assert_eq!(repo.json_env(&["task", "claim"], "ABATHUR_NOW", "2030-01-01T00:00:05Z")["claimed"], false);
    // After it, claimable again.
    let t1 = "2030-01-01T00:00:11Z";
    assert_eq!(repo.json_env(&["task", "claim"], "ABATHUR_NOW", t1)["task"]["id"], a.as_str());
    let last = repo.json_env(&["task", "fail", &a, "-e", "still broken"], "ABATHUR_NOW", t1);
    assert_eq!(last["status"], "failed");
    let mut cascaded: Vec<&str> =
        last["cascaded_task_ids"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    cascaded.sort();
    let mut expected = vec![b.as_str(), c.as_str()];
    expected.sort();
    assert_eq!(cascaded, expected);
    assert_eq!(repo.json(&["task", "get", &c])["status"], "cancelled");
    assert_eq!(repo.json(&["task", "get", &a])["error_message"], "still broken");
}

#[test]
fn an_expired_lease_returns_the_task_and_the_late_holder_is_refused() {
    let repo = Repo::new();
    let a = repo.add(&["Long job", "--lease-timeout", "60s", "--max-retries", "1"]);
    let t0 = "2030-01-01T00:00:00Z";
    let first = repo.json_env(&["task", "claim", "--agent", "slow"], "ABATHUR_NOW", t0);
    let lease = s(&first, "lease_id").to_string();

    // Every reader sees the expiry at once, without any daemon.
    let later = "2030-01-01T00:02:00Z";
    let seen = repo.json_env(&["task", "get", &a], "ABATHUR_NOW", later);
    assert_eq!(seen["status"], "ready");
    assert_eq!(seen["retry_count"], 1);
    let status = repo.json_env(&["task", "status"], "ABATHUR_NOW", later);
    assert_eq!(status["expired_leases"], 1);
    assert_eq!(status["active_leases"], 0);

    // The next claimant takes it over; the old holder can no longer complete it.
    let second = repo.json_env(&["task", "claim", "--agent", "fast"], "ABATHUR_NOW", later);
    assert_eq!(second["task"]["id"], a.as_str());
    let err = repo.fails(&["task", "complete", &a, "--lease", &lease], 3);
    assert!(err.contains("lapsed and the task was claimed again, by fast"), "{err}");
    // A lease id that is someone else's current one, or no lease id at all, is said to be so.
    let err = repo.fails(&["task", "complete", &a, "--lease", "wrong"], 1);
    assert!(err.contains("`wrong` is not a lease id") && err.contains("held by fast"), "{err}");

    // Expiring again past max_retries fails it for good.
    let much_later = "2030-01-01T00:10:00Z";
    assert_eq!(repo.json_env(&["task", "get", &a], "ABATHUR_NOW", much_later)["status"], "failed");
}

#[test]
fn a_lease_lapsing_past_max_retries_fails_the_task_for_good_and_cascades_like_task_fail() {
    let repo = Repo::new();
    let a = repo.add(&["Job that dies with its agent", "--lease-timeout", "60s", "--max-retries", "0"]);
    let b = repo.add(&["Waits on it", "--after", &a]);
    let c = repo.add(&["Waits on that", "--after", &b]);
    let other = repo.add(&["Unrelated", "-p", "1"]);
    repo.json_env(&["task", "claim", "--task", &a, "--agent", "doomed"], "ABATHUR_NOW", "2030-01-01T00:00:00Z");
    // The next claim, after the lease lapsed, settles it: failed in its file, dependents cancelled.
    let later = "2030-01-01T00:05:00Z";
    let next = repo.json_env(&["task", "claim"], "ABATHUR_NOW", later);
    assert_eq!(next["task"]["id"], other.as_str());
    let file = std::fs::read_to_string(repo.tasks_dir().join(format!("{a}.toml"))).unwrap();
    assert!(file.contains("state = \"failed\""), "{file}");
    for dependent in [&b, &c] {
        let got = repo.json_env(&["task", "get", dependent], "ABATHUR_NOW", later);
        assert_eq!(got["status"], "cancelled", "{got}");
        assert!(got.to_string().contains(&format!("prerequisite {a} failed")), "{got}");
    }
    repo.ok(&["check"]);
}

#[test]
fn cancel_cascades_to_unfinished_dependents_and_reports_them() {
    let repo = Repo::new();
    let a = repo.add(&["A"]);
    let b = repo.add(&["B", "--after", &a]);
    let done = repo.add(&["Done before"]);
    repo.ok(&["task", "claim"]); // claims the higher-priority A or Done; complete whichever we got
    let c = repo.add(&["C", "--after", &b]);
    let reply = repo.json(&["task", "cancel", &a, "--reason", "scope cut"]);
    assert_eq!(reply["cancelled_task_id"], a.as_str());
    assert_eq!(reply["total_cancelled"], 3);
    let cascaded = reply["cascaded_task_ids"].as_array().unwrap();
    assert!(cascaded.contains(&serde_json::json!(b)) && cascaded.contains(&serde_json::json!(c)));
    assert!(!cascaded.contains(&serde_json::json!(done)));
    let got = repo.json(&["task", "get", &a]);
    assert_eq!(got["status"], "cancelled");
    assert_eq!(got["events"].as_array().unwrap().last().unwrap()["note"], "scope cut");
    // Enqueueing after a cancelled task is refused: it could never run.
    let err = repo.fails(&["task", "add", "D", "--after", &a], 3);
    assert!(err.contains("cancelled"), "{err}");
}

#[test]
fn execution_plan_batches_layers_and_rejects_unknown_ids() {
    let repo = Repo::new();
    let a = repo.add(&["A", "-m", "M1"]);
    let b = repo.add(&["B", "--after", &a, "-m", "M1"]);
    let c = repo.add(&["C", "--after", &a, "-m", "M1"]);
    let d = repo.add(&["D", "--after", &b, "--after", &c, "-m", "M1"]);
    let plan = repo.json(&["task", "plan", &d, &c, &b, &a]);
    assert_eq!(plan["total_batches"], 3);
    assert_eq!(plan["max_parallelism"], 2);
    assert_eq!(plan["batches"][0], serde_json::json!([a]));
    let middle: Vec<&str> = plan["batches"][1].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert!(middle.contains(&b.as_str()) && middle.contains(&c.as_str()));
    assert_eq!(plan["batches"][2], serde_json::json!([d]));
    // A subset leaves no empty batch even though B and C sit between A and D.
    let subset = repo.json(&["task", "plan", &a, &d]);
    assert_eq!(subset["batches"], serde_json::json!([[a], [d]]));
    // By milestone.
    assert_eq!(repo.json(&["task", "plan", "-m", "M1"])["total_batches"], 3);
    let err = repo.fails(&["task", "plan", &a, "01zzzzzzzzzzzzzzzzzzzzzzzz"], 1);
    assert!(err.contains("no task matches"), "{err}");
}

#[test]
fn cycles_are_rejected_with_their_path() {
    let repo = Repo::new();
    let a = repo.add(&["A"]);
    let b = repo.add(&["B", "--after", &a]);
    let c = repo.add(&["C", "--after", &b]);
    let before = repo.snapshot_files();
    let err = repo.fails(&["task", "update", &a, "--after", &c], 1);
    assert!(err.contains("dependency cycle"), "{err}");
    assert!(err.contains(&format!("{a} -> {c} -> {b} -> {a}")), "{err}");
    assert_eq!(repo.snapshot_files(), before, "a refused update writes nothing");
    let out = repo.run(&["--json", "task", "update", &a, "--after", &a]);
    let reply: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(reply["error"], "CircularDependencyError");
}

#[test]
fn list_filters_orders_and_limits() {
    let repo = Repo::new();
    let low = repo.add(&["Low", "-p", "1", "-t", "docs"]);
    let high = repo.add(&["High", "-p", "9", "-t", "builder", "-m", "M2"]);
    let mid = repo.add(&["Mid", "-p", "5", "-t", "builder", "--source", "agent_implementation"]);
    let blocked = repo.add(&["Blocked", "--after", &low]);
    let all = repo.json(&["task", "list"]);
    let ids: Vec<&str> = all["tasks"].as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap()).collect();
    assert_eq!(ids[0], high, "highest calculated priority first");
    assert_eq!(ids.len(), 4);
    assert_eq!(all["total_matching"], 4);
    let only = |args: &[&str]| -> Vec<String> {
        let mut a = vec!["task", "list"];
        a.extend_from_slice(args);
        repo.json(&a)["tasks"].as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(only(&["--status", "blocked"]), vec![blocked.clone()]);
    assert_eq!(only(&["--exclude-status", "ready"]), vec![blocked.clone()]);
    assert_eq!(only(&["-t", "docs"]), vec![low.clone()]);
    assert_eq!(only(&["-m", "M2"]), vec![high.clone()]);
    assert_eq!(only(&["--source", "agent_implementation"]), vec![mid.clone()]);
    assert_eq!(only(&["-n", "1"]).len(), 1);
    let err = repo.fails(&["task", "list", "-n", "0"], 1);
    assert!(err.contains("limit"), "{err}");
    let err = repo.fails(&["task", "list", "-n", "501"], 1);
    assert!(err.contains("1 to 500"), "{err}");
    // Equal priority: the older task first.
    let twin1 = repo.add(&["Twin", "-p", "3", "-t", "twin"]);
    let twin2 = repo.add(&["Twin", "-p", "3", "-t", "twin"]);
    assert_eq!(only(&["-t", "twin"]), vec![twin1, twin2]);
}

#[test]
fn queue_status_counts_and_reports_the_seed_fields() {
    let repo = Repo::new();
    let a = repo.add(&["A"]);
    let _b = repo.add(&["B", "--after", &a]);
    let c = repo.add(&["C"]);
    repo.ok(&["task", "cancel", &c]);
    let status = repo.json(&["task", "status"]);
    for field in [
        "total_tasks",
        "pending",
        "blocked",
        "ready",
        "running",
        "completed",
        "failed",
        "cancelled",
        "avg_priority",
        "max_depth",
        "oldest_pending",
        "newest_task",
        "active_leases",
    ] {
        assert!(status.get(field).is_some(), "status lacks {field}: {status}");
    }
    assert_eq!(status["total_tasks"], 3);
    assert_eq!(status["ready"], 1);
    assert_eq!(status["blocked"], 1);
    assert_eq!(status["cancelled"], 1);
    assert_eq!(status["max_depth"], 2);
    assert_eq!(status["oldest_pending_task_id"], a.as_str());
    assert_eq!(status["newest_task_id"], c.as_str());
    repo.ok(&["task", "claim"]);
    assert_eq!(repo.json(&["task", "status"])["active_leases"], 1);
}

#[test]
fn unique_prefixes_are_accepted_everywhere_and_ambiguity_is_explained() {
    let repo = Repo::new();
    let a = repo.add(&["A"]);
    let b = repo.add(&["B"]);
    let common = a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count();
    let short_a = &a[..common + 1];
    assert_eq!(repo.json(&["task", "get", short_a])["id"], a.as_str());
    assert_eq!(repo.json(&["task", "get", &short_a.to_uppercase()])["id"], a.as_str());
    let err = repo.fails(&["task", "get", &a[..common]], 1);
    assert!(err.contains("ambiguous"), "{err}");
    let c = repo.add(&["C", "--after", short_a]);
    assert_eq!(repo.json(&["task", "get", &c])["prerequisites"][0], a.as_str());
    // The human list shows short ids that are unique.
    let table = repo.ok(&["task", "list"]);
    assert!(!table.contains(&a) && table.contains(&a[..8]), "{table}");
}

#[test]
fn resaving_an_unchanged_task_changes_no_byte_and_files_are_canonical() {
    let repo = Repo::new();
    let a = repo.add(&["A", "--input", r#"{"z":1,"a":[null,2.5,"x"],"nested":{"k":"v"}}"#, "--deadline", "2031-05-01"]);
    let path = repo.tasks_dir().join(format!("{a}.toml"));
    let before = std::fs::read(&path).unwrap();
    let ledger = abathur::ledger::Ledger::discover(repo.path()).unwrap();
    let store = abathur::queue::store::TaskStore::new(&ledger);
    let id = abathur::id::Id::parse(&a).unwrap();
    let record = store.read(&id).unwrap();
    assert!(!store.write(&record).unwrap(), "an unchanged record is not rewritten");
    assert_eq!(std::fs::read(&path).unwrap(), before);
    assert_eq!(record.to_toml().as_bytes(), before.as_slice());
    // input_data is kept exactly as given, key order and null included.
    assert_eq!(
        repo.json(&["task", "get", &a])["input_data"].to_string(),
        r#"{"z":1,"a":[null,2.5,"x"],"nested":{"k":"v"}}"#
    );
}

#[test]
fn update_changes_priority_and_records_it() {
    let repo = Repo::new();
    let a = repo.add(&["A", "-p", "2"]);
    let b = repo.add(&["B", "-p", "3"]);
    assert_eq!(repo.json(&["task", "list"])["tasks"][0]["id"], b.as_str());
    let updated = repo.json(&["task", "update", &a, "-p", "9"]);
    assert_eq!(updated["base_priority"], 9);
    assert_eq!(repo.json(&["task", "list"])["tasks"][0]["id"], a.as_str());
    assert_eq!(updated["events"].as_array().unwrap().last().unwrap()["event"], "updated");
}

#[test]
fn a_named_task_can_be_claimed_and_refusals_say_why() {
    let repo = Repo::new();
    let a = repo.add(&["A", "-p", "1"]);
    let b = repo.add(&["B", "-p", "9"]);
    let c = repo.add(&["C", "--after", &b]);
    let claim = repo.json(&["task", "claim", "--task", &a[..12], "--agent", "me"]);
    assert_eq!(claim["task"]["id"], a.as_str(), "the named task, not the best one");
    let err = repo.fails(&["task", "claim", "--task", &a], 3);
    assert!(err.contains("another agent holds its lease"), "{err}");
    let err = repo.fails(&["task", "claim", "--task", &c], 3);
    assert!(err.contains("blocked") && err.contains(&b), "{err}");
}

#[test]
fn complete_lists_a_dependent_whose_other_prerequisite_finished_earlier() {
    let repo = Repo::new();
    let x = repo.add(&["X", "-p", "9"]);
    let a = repo.add(&["A"]);
    let d = repo.add(&["Needs both", "--after", &x, "--after", &a]);
    let lone = repo.add(&["Needs A only", "--after", &a]);
    let lease = |id: &str| repo.json(&["task", "claim", "--task", id])["lease_id"].as_str().unwrap().to_string();
    let lx = lease(&x);
    assert!(repo.json(&["task", "complete", &x, "--lease", &lx])["unblocked_task_ids"].as_array().unwrap().is_empty());
    let la = lease(&a);
    let done = repo.json(&["task", "complete", &a, "--lease", &la]);
    let mut unblocked: Vec<String> =
        done["unblocked_task_ids"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
    unblocked.sort();
    let mut expected = vec![d, lone];
    expected.sort();
    assert_eq!(unblocked, expected);
}

#[test]
fn a_waiting_claim_takes_the_task_that_becomes_ready_instead_of_polling() {
    let repo = Repo::new();
    let empty = repo.json(&["task", "claim", "--wait", "200ms"]);
    assert_eq!(empty["claimed"], false, "nothing appeared within the wait: {empty}");
    let first = repo.add(&["First step"]);
    let second = repo.add(&["Second step", "--after", &first]);
    let lease = repo.json(&["task", "claim"])["lease_id"].as_str().unwrap().to_string();
    // An implementer waits for work; it arrives when the first step completes in another process.
    let mut waiting = repo
        .cmd(&["--json", "task", "claim", "--wait", "60s", "--agent", "patient"])
        .env("ABATHUR_DEBUG_CACHE", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Once it says it waits (it found nothing ready), the work arrives.
    let mut stderr = std::io::BufReader::new(waiting.stderr.take().unwrap());
    let mut line = String::new();
    while !line.contains("waiting for the ledger to change") {
        line.clear();
        assert!(std::io::BufRead::read_line(&mut stderr, &mut line).unwrap() > 0, "the claim never waited");
    }
    repo.ok(&["task", "complete", &first, "--lease", &lease]);
    let out = waiting.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", crate::common::describe(&out));
    let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(got["claimed"], true, "{got}");
    assert_eq!(got["task"]["id"], second.as_str());
    let err = repo.fails(&["--json", "task", "claim", "--wait", "11m"], 1);
    assert!(err.contains("wait_seconds must be between 0 and 600"), "{err}");
}

#[test]
fn a_list_pages_through_every_task_once_with_a_cursor() {
    let repo = Repo::new();
    let mut ids = Vec::new();
    for i in 0..30 {
        ids.push(repo.add(&[&format!("Task {i}"), "-p", &(i % 10).to_string()]));
    }
    let mut seen: Vec<String> = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut args = vec!["task", "list", "-n", "7"];
        if let Some(c) = &cursor {
            args.extend(["--cursor", c.as_str()]);
        }
        let page = repo.json(&args);
        assert_eq!(page["total_matching"], 30 + pages.min(1), "{page}");
        seen.extend(page["tasks"].as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap().to_string()));
        pages += 1;
        if pages == 1 {
            // The ledger changes between pages: a task is added; the walk still shows each task once.
            repo.add(&["Added while paging", "-p", "10"]);
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(pages, 5, "30 tasks, 7 a page");
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), seen.len(), "no task twice");
    for id in &ids {
        assert!(seen.contains(id), "{id} was skipped");
    }
    let err = repo.fails(&["task", "list", "--cursor", "c1.nonsense"], 1);
    assert!(err.contains("not a cursor"), "{err}");
}
