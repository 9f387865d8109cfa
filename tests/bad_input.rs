//! Bad input gets a clear error naming the file or field and what to do, and changes nothing; one
//! malformed file never hides the others.

use crate::common::Repo;

fn assert_unchanged(repo: &Repo, before: &[(String, Vec<u8>)]) {
    assert_eq!(repo.snapshot_files(), before, "a refused command must not write anything");
}

#[test]
fn invalid_fields_are_refused_with_the_field_named() {
    let repo = Repo::new();
    let existing = repo.add(&["Existing"]);
    let before = repo.snapshot_files();
    let long = "x".repeat(10_001);
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["task", "add", &long], "description is 10001 characters; at most 10000"),
        (vec!["task", "add", "   "], "description is required"),
        (vec!["task", "add", "x", "-p", "11"], "base_priority 11 is out of range; use 0 to 10"),
        (vec!["task", "add", "x", "--summary", &long[..141]], "summary is 141 characters; at most 140"),
        (vec!["task", "add", "x", "--deadline", "next tuesday"], "deadline"),
        (vec!["task", "add", "x", "--input", "{not json"], "--input is not valid JSON"),
        (vec!["task", "add", "x", "-t", "../../etc"], "agent_type"),
        (vec!["task", "add", "x", "-m", "1bad/milestone"], "milestone"),
        (vec!["task", "add", "x", "--after", "../x"], "not an id"),
        (vec!["task", "add", "x", "--after", "/etc/passwd"], "not an id"),
        (vec!["task", "add", "x", "--after", "01zzzzzzzzzzzzzzzzzzzzzzzz"], "prerequisites: no task matches"),
        (vec!["task", "get", "../../../etc/passwd"], "not an id"),
        (vec!["task", "get", &long[..300]], "too long for an id"),
        (vec!["task", "cancel", "01zzzzzzzzzzzzzzzzzzzzzzzz"], "no task matches"),
        (vec!["task", "fail", &existing, "-e", ""], "error_message cannot be empty"),
        (vec!["task", "fail", &existing, "-e", "boom"], "not running"),
    ];
    for (args, expected) in cases {
        let out = repo.run(&args);
        assert!(!out.status.success(), "{args:?} should fail");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expected), "{args:?}: expected {expected:?} in:\n{err}");
        assert_unchanged(&repo, &before);
    }
}

#[test]
fn json_errors_carry_error_type_and_message() {
    let repo = Repo::new();
    let out = repo.run(&["--json", "task", "get", "01zzzzzzzzzzzzzzzzzzzzzzzz"]);
    assert_eq!(out.status.code(), Some(1));
    let reply: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(reply["error"], "NotFoundError");
    assert!(reply["message"].as_str().unwrap().contains("no task matches"));
    let out = repo.run(&["--json", "task", "add", "x", "-p", "42"]);
    let reply: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(reply["error"], "ValidationError");
}

#[test]
fn a_malformed_file_is_reported_and_the_rest_still_list() {
    let repo = Repo::new();
    let good = repo.add(&["Good task"]);
    let bad = repo.add(&["Soon broken"]);
    let bad_path = repo.tasks_dir().join(format!("{bad}.toml"));
    let text = std::fs::read_to_string(&bad_path).unwrap().replace("base_priority = 5", "base_priority = \"high\"");
    std::fs::write(&bad_path, text).unwrap();
    // A rename-free edit is invisible to the folder stamp; --verify (and `abathur check`) catch it.
    let out = repo.run(&["--json", "task", "list", "--verify"]);
    assert!(out.status.success());
    let reply: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ids: Vec<&str> = reply["tasks"].as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec![good.as_str()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&format!("{bad}.toml")), "warning names the file: {stderr}");
    assert!(stderr.contains("base_priority"), "warning names the field: {stderr}");
    assert!(stderr.contains("line "), "warning names the line: {stderr}");

    let err = repo.fails(&["task", "get", &bad], 1);
    assert!(err.contains(&format!("{bad}.toml")) && err.contains("base_priority"), "{err}");
    assert!(err.contains("Hint:"), "says what to do: {err}");
}

#[test]
fn hostile_files_in_the_tasks_folder_are_reported_not_followed() {
    let repo = Repo::new();
    let good = repo.add(&["Good"]);
    let dir = repo.tasks_dir();
    std::fs::write(dir.join("notes.txt"), "hello").unwrap();
    std::fs::write(dir.join("01zzzzzzzzzzzzzzzzzzzzzzzz.toml"), "id = \"01aaaaaaaaaaaaaaaaaaaaaaaa\"\n").unwrap();
    std::fs::write(dir.join("01yyyyyyyyyyyyyyyyyyyyyyyy.toml"), vec![b'#'; 2 * 1024 * 1024]).unwrap();
    std::fs::write(dir.join("01xxxxxxxxxxxxxxxxxxxxxxxx.toml"), [0xff, 0xfe, 0x00]).unwrap();
    let text = std::fs::read_to_string(dir.join(format!("{good}.toml"))).unwrap();
    std::fs::write(
        dir.join("01wwwwwwwwwwwwwwwwwwwwwwww.toml"),
        text.replace(&good, "01wwwwwwwwwwwwwwwwwwwwwwww") + "surprise = 1\n",
    )
    .unwrap();
    let out = repo.run(&["--json", "task", "list"]);
    assert!(out.status.success());
    let reply: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(reply["tasks"].as_array().unwrap().len(), 1);
    let warnings = reply["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 5, "{warnings:?}");
    let all = warnings.iter().map(|w| w.as_str().unwrap()).collect::<Vec<_>>().join("\n");
    for needle in ["notes.txt", "file is 2097152 bytes", "not UTF-8", "unknown field `surprise`", "missing field"] {
        assert!(all.contains(needle), "{needle} missing from {all}");
    }
}

#[test]
fn a_bad_config_is_refused_with_its_path() {
    let repo = Repo::new();
    let path = repo.path().join(".git/abathur/config.toml");
    let text = std::fs::read_to_string(&path).unwrap().replace("base = 0.30", "base = 0.50");
    std::fs::write(&path, text).unwrap();
    let err = repo.fails(&["task", "list"], 1);
    assert!(err.contains("config.toml") && err.contains("sum to"), "{err}");
    std::fs::write(&path, "[queue]\nlease_timout_seconds = 5\n").unwrap();
    let err = repo.fails(&["task", "list"], 1);
    assert!(err.contains("lease_timout_seconds"), "{err}");
}

#[test]
fn usage_errors_exit_2() {
    let repo = Repo::new();
    repo.fails(&["task", "add"], 2);
    repo.fails(&["task", "list", "--status", "sleeping"], 2);
    repo.fails(&["task", "add", "x", "-p", "300"], 2);
}

#[test]
fn check_reports_every_problem_with_file_and_field() {
    let repo = Repo::new();
    let a = repo.add(&["A"]);
    let b = repo.add(&["B", "--after", &a]);
    let c = repo.add(&["C", "--after", &b]);
    let out = repo.run(&["check"]);
    assert!(out.status.success(), "a fresh ledger is valid: {}", crate::common::describe(&out));

    // A hand edit (in place, as an editor would) closes a cycle; another names a missing task.
    let path_a = repo.tasks_dir().join(format!("{a}.toml"));
    let text = std::fs::read_to_string(&path_a).unwrap();
    std::fs::write(&path_a, text.replacen("max_retries", &format!("prerequisites = [\"{c}\"]\nmax_retries"), 1))
        .unwrap();
    let path_d = repo.tasks_dir().join(format!("{}.toml", repo.add(&["D"])));
    let text = std::fs::read_to_string(&path_d).unwrap();
    std::fs::write(
        &path_d,
        text.replacen("max_retries", "prerequisites = [\"01zzzzzzzzzzzzzzzzzzzzzzzz\"]\nmax_retries", 1),
    )
    .unwrap();
    std::fs::write(repo.tasks_dir().join("notes.md"), "stray").unwrap();
    std::fs::write(repo.tasks_dir().join(".abathur-tmp-x1"), "partial").unwrap();

    let out = repo.run(&["--json", "check"]);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON document on stdout");
    let all = serde_json::to_string(&report["problems"]).unwrap();
    assert!(all.contains("dependency cycle"), "{all}");
    assert!(all.contains("01zzzzzzzzzzzzzzzzzzzzzzzz names no task"), "{all}");
    assert!(all.contains("notes.md"), "{all}");
    assert!(all.contains("interrupted writer"), "{all}");
    assert_eq!(report["problems"].as_array().unwrap().len(), 4, "{all}");
    let text = repo.fails(&["check"], 1);
    assert!(text.contains("4 problems in the ledger"), "{text}");
}

#[test]
fn temporary_files_a_killed_writer_left_are_swept_by_the_next_writer() {
    let repo = Repo::new();
    let staging = repo.path().join(".git/abathur/cache/tmp");
    std::fs::create_dir_all(&staging).unwrap();
    let (old, young) = (staging.join(".abathur-tmp-old"), staging.join(".abathur-tmp-young"));
    std::fs::write(&old, "partial").unwrap();
    std::fs::write(&young, "a write in flight").unwrap();
    let two_minutes_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(120);
    std::fs::File::options().write(true).open(&old).unwrap().set_modified(two_minutes_ago).unwrap();
    let out = repo.run(&["--json", "check"]);
    assert_eq!(out.status.code(), Some(1), "{}", crate::common::describe(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(".abathur-tmp-old") && text.contains("the next abathur write removes it"), "{text}");
    assert!(!text.contains(".abathur-tmp-young"), "a file young enough to be in flight is left alone: {text}");
    repo.add(&["Any write"]);
    assert!(!old.exists(), "swept");
    assert!(young.exists(), "not swept while it could be in flight");
    repo.ok(&["check"]);
}

#[test]
fn output_that_cannot_be_written_is_an_error_but_a_closed_pipe_is_not() {
    let repo = Repo::new();
    repo.add(&["Something to list"]);
    let full = std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
    let out = repo.cmd(&["--json", "task", "list"]).stdout(full).output().unwrap();
    assert_eq!(out.status.code(), Some(4), "lost output is not success: {}", crate::common::describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot write the output"));
    // A reader that stops early (`| head -1`): exit 0, no panic.
    let mut child = repo.cmd(&["completions", "bash"]).stdout(std::process::Stdio::piped()).spawn().unwrap();
    let mut first = [0u8; 16];
    std::io::Read::read_exact(child.stdout.as_mut().unwrap(), &mut first).unwrap();
    drop(child.stdout.take());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "a closed pipe ends quietly");
}

#[test]
fn escape_sequences_in_ledger_text_never_reach_the_terminal() {
    let repo = Repo::new();
    repo.add(&["evil \u{1b}]0;pwned\u{7} \u{1b}[31mred"]);
    repo.ok(&["memory", "add", "project:", "evil", "value \u{1b}[2J cleared"]);
    for args in [&["task", "list"][..], &["memory", "get", "project:", "evil"]] {
        let text = repo.ok(args);
        assert!(!text.contains('\u{1b}') && !text.contains('\u{7}'), "{args:?}: {text:?}");
    }
    // JSON keeps the text exactly (escaped by JSON itself).
    let json = repo.json(&["memory", "get", "project:", "evil"]);
    assert!(json.to_string().contains("\\u001b[2J"), "{json}");
}

#[test]
fn a_missing_path_the_user_gave_is_exit_1_with_what_was_done_and_its_cause() {
    let repo = Repo::new();
    repo.ok(&["milestone", "add", "M1", "--title", "One"]);
    for (args, doing) in [
        (&["task", "add", "x", "--input-file", "/nonexistent/input.json"][..], "--input-file"),
        (&["-C", "/nonexistent/dir", "task", "list"], "-C"),
        (&["gate", "check", "M1", "--junit", "/nonexistent/junit.xml"], "test report"),
    ] {
        let err = repo.fails(args, 1);
        assert!(err.contains("Error: cannot ") && err.contains(doing), "{args:?}: {err}");
        assert!(err.contains("Caused by: /nonexistent/") && err.contains("No such file"), "{args:?}: {err}");
    }
    // Under --json the cause is a field.
    let out = repo.run(&["--json", "task", "add", "x", "--input-file", "/nonexistent/input.json"]);
    let reply: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(reply["causes"][0].as_str().unwrap().starts_with("/nonexistent/input.json: "), "{reply}");
}

#[test]
fn a_record_that_cannot_be_read_is_reported_by_its_reader_and_never_overwritten() {
    let repo = Repo::new();
    repo.ok(&["requirement", "set", "R1", "--title", "Works offline"]);
    let ledger = repo.path().join(".git/abathur");
    // A requirement file that exists but is not UTF-8: an update is refused and the file stays.
    let r1 = ledger.join("requirements/R1.toml");
    std::fs::write(&r1, [0xff, 0xfe, b'\n']).unwrap();
    let err = repo.fails(&["requirement", "set", "R1", "--title", "Works offline, really"], 1);
    assert!(err.contains("R1.toml") && err.contains("not UTF-8"), "{err}");
    assert_eq!(std::fs::read(&r1).unwrap(), [0xff, 0xfe, b'\n'], "the unreadable file was overwritten");

    // A milestone behind a symbolic link is named, not followed, and its gate is not opened by it.
    repo.ok(&["milestone", "add", "M1", "--title", "First"]);
    let outside = repo.path().join("outside.toml");
    std::fs::copy(ledger.join("milestones/M1.toml"), &outside).unwrap();
    std::fs::write(&outside, std::fs::read_to_string(&outside).unwrap().replace("M1", "M2")).unwrap();
    std::os::unix::fs::symlink(&outside, ledger.join("milestones/M2.toml")).unwrap();
    let check = repo.run(&["check"]);
    assert!(!check.status.success());
    let stdout = String::from_utf8_lossy(&check.stdout);
    assert!(stdout.contains("M2.toml") && stdout.contains("symbolic link"), "{stdout}");
    let list = repo.json(&["milestone", "list"]);
    assert!(!list.to_string().contains("\"M2\""), "a linked milestone was read: {list}");
}
