//! Decision records, `check --staged` and the git hooks, with real git.

use std::process::Stdio;

use crate::common::{Repo, describe, hermetic};

#[test]
fn decisions_are_recorded_linked_superseded_and_searchable() {
    let repo = Repo::new();
    repo.ok(&["milestone", "add", "M1", "--title", "Core"]);
    let task = repo.add(&["Create the schema", "-m", "M1"]);
    let first = repo.json(&[
        "decision",
        "add",
        "Use SQLite for the cache",
        "--context",
        "We need a local index.",
        "--decision",
        "Embed SQLite.",
        "--consequences",
        "One more native dependency.",
        "--task",
        &task[..8],
        "-m",
        "M1",
        "--by",
        "architect",
    ]);
    let id1 = first["id"].as_str().unwrap().to_string();
    let path1 = first["path"].as_str().unwrap().to_string();
    assert!(
        path1.starts_with(".abathur/decisions/") && path1.ends_with(&format!("{id1}-use-sqlite-for-the-cache.md")),
        "{path1}"
    );
    let text = std::fs::read_to_string(repo.path().join(&path1)).unwrap();
    assert!(
        text.starts_with("+++\n")
            && text.contains("status = \"accepted\"")
            && text.contains("## Consequences\n\nOne more native dependency."),
        "{text}"
    );

    let second = repo.json(&[
        "decision",
        "add",
        "Use plain files for the cache",
        "--supersedes",
        &id1[..10],
        "--status",
        "proposed",
    ]);
    assert_eq!(second["superseded"][0], id1.as_str());
    let shown = repo.json(&["decision", "show", &id1]);
    assert_eq!(shown["status"], "superseded");
    assert_eq!(shown["superseded_by"], second["id"]);
    assert_eq!(shown["tasks"][0], task.as_str());
    let id2 = second["id"].as_str().unwrap();
    assert_eq!(repo.json(&["decision", "accept", id2])["status"], "accepted");
    let again = repo.run(&["decision", "reject", id2]);
    assert_eq!(again.status.code(), Some(3), "only proposed decisions are settled: {}", describe(&again));
    let listed = repo.json(&["decision", "list", "--status", "accepted"]);
    assert_eq!(listed["decisions"].as_array().unwrap().len(), 1);

    let hit = repo.json(&["search", "native dependency", "--kind", "decision", "--milestone", "M1"]);
    assert_eq!(hit["hits"][0]["id"], format!(".abathur/{}", path1.trim_start_matches(".abathur/")));
    assert_eq!(hit["hits"][0]["title"], "Use SQLite for the cache");

    for (args, needle) in [
        (vec!["decision", "add", ""], "title"),
        (vec!["decision", "add", "x", "--task", "zzzz"], "tasks"),
        (vec!["decision", "add", "x", "-m", "M9"], "milestones"),
        (vec!["decision", "add", "x", "--supersedes", &id1], "already superseded"),
        (vec!["decision", "add", "x", "--status", "rejected"], "status"),
    ] {
        let out = repo.run(&args);
        assert!(
            !out.status.success() && String::from_utf8_lossy(&out.stderr).contains(needle),
            "{args:?}: {}",
            describe(&out)
        );
    }
    assert_eq!(
        repo.json(&["decision", "list"])["decisions"].as_array().unwrap().len(),
        2,
        "refused adds wrote nothing"
    );
    repo.ok(&["check"]);
}

#[test]
fn check_names_every_broken_link_and_staged_checks_only_what_is_staged() {
    let repo = Repo::new();
    repo.ok(&["milestone", "add", "M1", "--title", "Core"]);
    let d = repo.json(&["decision", "add", "Keep it simple", "-m", "M1"]);
    let path = repo.path().join(d["path"].as_str().unwrap());
    repo.git(&["add", "-A"]);
    repo.git(&["commit", "-qm", "ledger"]);
    repo.ok(&["check", "--staged"]);

    // Break the decision in the work tree only: the work tree fails, the staged ledger still passes.
    let text = std::fs::read_to_string(&path).unwrap().replace("milestones = [\"M1\"]", "milestones = [\"M7\"]");
    std::fs::write(&path, &text).unwrap();
    std::fs::create_dir_all(repo.path().join(".abathur/memory/project")).unwrap();
    std::fs::write(repo.path().join(".abathur/memory/project/bad.md"), "no front matter\n").unwrap();
    let report = repo.run(&["--json", "check"]);
    assert_eq!(report.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&report.stdout).unwrap();
    let messages: Vec<String> =
        report["problems"].as_array().unwrap().iter().map(|p| format!("{} {}", p["file"], p["message"])).collect();
    assert!(messages.iter().any(|m| m.contains("decisions/") && m.contains("`milestones`: M7")), "{messages:?}");
    assert!(messages.iter().any(|m| m.contains("memory/project/bad.md") && m.contains("front matter")), "{messages:?}");
    repo.ok(&["check", "--staged"]);
    repo.git(&["add", "-A"]);
    let staged = repo.run(&["check", "--staged"]);
    assert_eq!(staged.status.code(), Some(1), "{}", describe(&staged));
}

fn git_in(repo: &Repo, args: &[&str]) -> std::process::Output {
    let mut cmd = std::process::Command::new("git");
    cmd.args(args).current_dir(repo.path());
    hermetic(&mut cmd, repo.path());
    cmd.env("PATH", std::env::var("PATH").unwrap()).stdin(Stdio::null()).output().unwrap()
}

#[test]
fn hooks_block_invalid_commits_chain_existing_hooks_and_uninstall_cleanly() {
    let repo = Repo::new();
    repo.git(&["add", "-A"]);
    repo.git(&["commit", "-qm", "init"]);
    let hooks = repo.path().join(".git/hooks");
    std::fs::create_dir_all(&hooks).unwrap();
    let previous = "#!/bin/sh\necho chained >> \"$(git rev-parse --git-dir)/chained.log\"\n";
    std::fs::write(hooks.join("pre-commit"), previous).unwrap();
    std::fs::set_permissions(hooks.join("pre-commit"), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();

    let installed = repo.json(&["hooks", "install"]);
    assert_eq!(installed["hooks"][0]["outcome"], "chained (the previous hook runs first)");
    assert!(repo.json(&["hooks", "install"])["hooks"][0]["outcome"].as_str().unwrap().starts_with("unchanged"));

    // A valid ledger change commits; the chained hook ran.
    repo.add(&["A valid task"]);
    repo.git(&["add", "-A"]);
    let ok = git_in(&repo, &["commit", "-qm", "valid"]);
    assert!(ok.status.success(), "{}", describe(&ok));
    assert_eq!(std::fs::read_to_string(repo.path().join(".git/chained.log")).unwrap(), "chained\n");

    // A broken ledger file is refused at commit time, naming the file.
    std::fs::write(repo.path().join(".abathur/tasks/01jx0000000000000000000000.toml"), "id = 5\n").unwrap();
    repo.git(&["add", "-A"]);
    let refused = git_in(&repo, &["commit", "-qm", "broken"]);
    assert!(!refused.status.success(), "{}", describe(&refused));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("01jx0000000000000000000000.toml"),
        "{}",
        describe(&refused)
    );

    let removed = repo.json(&["hooks", "uninstall"]);
    assert_eq!(removed["hooks"][0]["outcome"], "removed; previous hook restored");
    assert_eq!(std::fs::read_to_string(hooks.join("pre-commit")).unwrap(), previous);
    assert!(!hooks.join("pre-push").exists());
    let now_ok = git_in(&repo, &["commit", "-qm", "broken but unhooked"]);
    assert!(now_ok.status.success(), "{}", describe(&now_ok));
}

#[test]
fn hooks_honour_core_hooks_path_refresh_the_index_and_guard_gate_pushes() {
    let repo = Repo::new();
    repo.git(&["config", "core.hooksPath", "githooks"]);
    let installed = repo.json(&["hooks", "install"]);
    assert!(installed["hooks_dir"].as_str().unwrap().ends_with("githooks"), "{installed}");
    assert!(repo.path().join("githooks/post-merge").exists());
    repo.git(&["add", "-A"]);
    repo.git(&["commit", "-qm", "init"]);

    // post-checkout refreshes the search index in the background.
    repo.json(&["memory", "add", "project:", "note", "The hedgehog protocol."]);
    repo.git(&["add", "-A"]);
    git_in(&repo, &["commit", "-qm", "memory"]);
    let out = git_in(&repo, &["checkout", "-q", "-b", "topic"]);
    assert!(out.status.success(), "{}", describe(&out));
    let state = repo.path().join(".abathur/cache/search/CURRENT");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !state.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(state.exists(), "the post-checkout hook built the index");

    // Pushing an unsigned gate decision is refused by pre-push; pushing plain work is not.
    let remote = tempfile::tempdir().unwrap();
    let init = std::process::Command::new("git").args(["init", "-q", "--bare"]).arg(remote.path()).output().unwrap();
    assert!(init.status.success());
    repo.git(&["remote", "add", "origin", remote.path().to_str().unwrap()]);
    let pushed = git_in(&repo, &["push", "-q", "origin", "topic"]);
    assert!(pushed.status.success(), "no gate in the range: {}", describe(&pushed));
    repo.git(&["config", "user.name", "Test"]);
    repo.git(&["config", "user.email", "test@example.com"]);
    repo.ok(&["milestone", "add", "M1", "--title", "Core"]);
    repo.ok(&["gate", "approve", "M1", "-r", "fine", "--unsigned"]);
    let refused = git_in(&repo, &["push", "-q", "origin", "topic", "--tags"]);
    assert!(!refused.status.success(), "{}", describe(&refused));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("push refused"), "{}", describe(&refused));
}

#[test]
fn abathur_commit_batches_ledger_changes_with_a_summary_and_provenance_trailers() {
    let repo = Repo::new();
    repo.git(&["config", "user.name", "Test"]);
    repo.git(&["config", "user.email", "test@example.com"]);
    std::fs::write(repo.path().join("unrelated.txt"), "user work\n").unwrap();
    repo.git(&["add", "unrelated.txt"]);
    let first = repo.json(&["commit"]);
    assert!(first["files"].as_array().unwrap().iter().any(|f| f == ".abathur/config.toml"), "{first}");
    let task = repo.add(&["Write the parser"]);
    repo.json(&["memory", "add", "project:", "style", "Use rustfmt."]);
    let decision = repo.json(&["decision", "add", "Use TOML"]);
    let dry = repo.json(&["commit", "--dry-run", "--agent", "impl-1"]);
    assert_eq!(dry["commit"], "");
    let committed = repo.json(&["commit", "--agent", "impl-1", "-m", "Parser groundwork."]);
    let message = committed["message"].as_str().unwrap();
    assert_eq!(message, dry["message"].as_str().unwrap().replace("\n\n- ", "\n\nParser groundwork.\n\n- "));
    assert!(message.starts_with("abathur: 1 decision, 1 memory entry, 1 task\n"), "{message}");
    for needle in [
        format!("- task {task} added: Write the parser"),
        "- memory project:style added".to_string(),
        format!("Abathur-Task: {task}"),
        format!("Abathur-Decision: {}", decision["id"].as_str().unwrap()),
        "Abathur-Agent: impl-1".to_string(),
    ] {
        assert!(message.contains(&needle), "{needle} missing from:\n{message}");
    }
    // Only ledger files were committed: the user's staged file is still staged, not committed.
    assert_eq!(repo.git(&["log", "-1", "--format=%(trailers:key=Abathur-Task,valueonly)"]).trim(), task);
    assert!(repo.git(&["show", "--name-only", "--format=", "HEAD"]).lines().all(|l| l.starts_with(".abathur/")));
    assert_eq!(repo.git(&["diff", "--cached", "--name-only"]).trim(), "unrelated.txt");
    // A state change and a deletion are described too.
    let lease = repo.json(&["task", "claim"])["lease_id"].as_str().unwrap().to_string();
    repo.ok(&["task", "complete", &task, "--lease", &lease]);
    std::fs::remove_file(repo.path().join(decision["path"].as_str().unwrap())).unwrap();
    let next = repo.json(&["commit"]);
    let message = next["message"].as_str().unwrap();
    assert!(message.contains(&format!("task {task} pending → completed")), "{message}");
    assert!(message.contains("decision") && message.contains("deleted"), "{message}");
    assert!(repo.git(&["status", "--porcelain", ".abathur"]).trim().is_empty());
    assert_eq!(repo.json(&["commit"])["files"].as_array().unwrap().len(), 0, "nothing left to commit");
}

#[test]
fn review_summarises_a_range_for_a_pull_request() {
    let repo = Repo::new();
    repo.git(&["config", "user.name", "Test"]);
    repo.git(&["config", "user.email", "test@example.com"]);
    repo.ok(&["milestone", "add", "M1", "--title", "Core"]);
    let old = repo.add(&["Old task", "-m", "M1"]);
    let doomed = repo.add(&["Doomed task", "-m", "M1"]);
    repo.json(&["commit"]);
    let base = repo.git(&["rev-parse", "HEAD"]).trim().to_string();

    let schema = repo.add(&["Create the schema", "-m", "M1"]);
    let tests = repo.add(&["Write the tests", "-m", "M1", "--after", &schema]);
    let lease = repo.json(&["task", "claim", "--task", &old])["lease_id"].as_str().unwrap().to_string();
    repo.ok(&["task", "complete", &old, "--lease", &lease]);
    repo.ok(&["task", "cancel", &doomed]);
    repo.json(&["decision", "add", "Use TOML", "-m", "M1"]);
    repo.json(&["memory", "add", "project:", "style", "Use rustfmt."]);
    repo.ok(&["gate", "approve", "M1", "-r", "done", "--unsigned"]);
    repo.json(&["commit"]);

    let md = repo.ok(&["review", &format!("{base}..HEAD")]);
    for needle in [
        "### Tasks (2 added, 1 cancelled, 1 completed)",
        "| completed | M1 | Old task |",
        "```mermaid",
        &format!("t{} --> t{}", &schema[..10], &tests[..10]),
        "- M1: 0/2 → 1/4 tasks completed",
        "- M1: approve (UNSIGNED)",
        "Use TOML (accepted, recorded)",
        "- project:style added",
    ] {
        assert!(md.contains(needle), "{needle:?} missing from:\n{md}");
    }
    let json = repo.json(&["review", &base, "--format", "json"]);
    assert_eq!(json["tasks"].as_array().unwrap().len(), 4);
    assert_eq!(json["gates"][0], "M1: approve (UNSIGNED)");
    let bad = repo.run(&["review", "nope..HEAD"]);
    assert_eq!(bad.status.code(), Some(1), "{}", describe(&bad));
}

#[test]
fn check_reports_gates_decided_out_of_milestone_order() {
    let repo = Repo::new();
    repo.git(&["config", "user.name", "Test"]);
    repo.git(&["config", "user.email", "test@example.com"]);
    repo.ok(&["milestone", "add", "M1", "--title", "One"]);
    repo.ok(&["milestone", "add", "M2", "--title", "Two"]);
    let m1 = repo.json(&["gate", "approve", "M1", "-r", "ok", "--unsigned"]);
    repo.json(&["gate", "approve", "M2", "-r", "ok", "--unsigned"]);
    repo.ok(&["check"]);
    // A merge or a hand edit that loses M1's decision leaves M2 decided out of order.
    let report = repo.path().join(m1["report"].as_str().unwrap());
    std::fs::remove_file(report.with_extension("toml")).unwrap();
    let out = repo.run(&["check"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("gate order: M2 was decided while the gate of the earlier milestone M1 had not opened"),
        "{}",
        describe(&out)
    );
}
