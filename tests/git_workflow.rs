//! Decision records, `check` and `review`, with real git.

use crate::common::{Repo, describe};

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
        path1.contains("/.git/abathur/decisions/") && path1.ends_with(&format!("{id1}-use-sqlite-for-the-cache.md")),
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
    assert_eq!(hit["hits"][0]["id"], format!(".abathur/decisions/{}", path1.rsplit('/').next().unwrap()));
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
fn check_names_every_broken_link() {
    let repo = Repo::new();
    repo.ok(&["milestone", "add", "M1", "--title", "Core"]);
    let d = repo.json(&["decision", "add", "Keep it simple", "-m", "M1"]);
    let path = repo.path().join(d["path"].as_str().unwrap());
    repo.ok(&["check"]);
    let text = std::fs::read_to_string(&path).unwrap().replace("milestones = [\"M1\"]", "milestones = [\"M7\"]");
    std::fs::write(&path, &text).unwrap();
    std::fs::create_dir_all(repo.path().join(".git/abathur/memory/project")).unwrap();
    std::fs::write(repo.path().join(".git/abathur/memory/project/bad.md"), "no front matter\n").unwrap();
    let report = repo.run(&["--json", "check"]);
    assert_eq!(report.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&report.stdout).unwrap();
    let messages: Vec<String> =
        report["problems"].as_array().unwrap().iter().map(|p| format!("{} {}", p["file"], p["message"])).collect();
    assert!(messages.iter().any(|m| m.contains("decisions/") && m.contains("`milestones`: M7")), "{messages:?}");
    assert!(messages.iter().any(|m| m.contains("memory/project/bad.md") && m.contains("front matter")), "{messages:?}");
}

#[test]
fn review_summarises_a_range_for_a_pull_request() {
    let repo = Repo::new();
    repo.git(&["config", "user.name", "Test"]);
    repo.git(&["config", "user.email", "test@example.com"]);
    repo.ok(&["milestone", "add", "M1", "--title", "Core"]);
    let old = repo.add(&["Old task", "-m", "M1"]);
    let doomed = repo.add(&["Doomed task", "-m", "M1"]);
    let base = repo.git(&["rev-parse", "abathur-ledger"]).trim().to_string();

    let schema = repo.add(&["Create the schema", "-m", "M1"]);
    let tests = repo.add(&["Write the tests", "-m", "M1", "--after", &schema]);
    // The work is a code commit; the completion names it.
    std::fs::write(repo.path().join("schema.sql"), "create table parcels ();\n").unwrap();
    repo.git(&["add", "schema.sql"]);
    repo.git(&["commit", "-qm", "schema"]);
    let code = repo.git(&["rev-parse", "HEAD"]).trim().to_string();
    let lease = repo.json(&["task", "claim", "--task", &old])["lease_id"].as_str().unwrap().to_string();
    repo.ok(&["task", "complete", &old, "--lease", &lease]);
    repo.ok(&["task", "cancel", &doomed]);
    repo.json(&["decision", "add", "Use TOML", "-m", "M1"]);
    repo.json(&["memory", "add", "project:", "style", "Use rustfmt."]);
    repo.ok(&["gate", "approve", "M1", "-r", "done", "--unsigned"]);

    let md = repo.ok(&["review", &format!("{base}..abathur-ledger")]);
    for needle in [
        "### Tasks (2 added, 1 cancelled, 1 completed)",
        "| completed | M1 | Old task |",
        "```mermaid",
        &format!("t{schema} --> t{tests}"),
        "- M1: 0/2 → 1/4 tasks completed",
        "- M1: approve (UNSIGNED)",
        "Use TOML (accepted, recorded)",
        "- project:style added",
    ] {
        assert!(md.contains(needle), "{needle:?} missing from:\n{md}");
    }
    assert!(md.contains(&format!("| Old task | `{}` |", &code[..12])), "the commit that did it:\n{md}");
    let json = repo.json(&["review", &format!("{base}..abathur-ledger"), "--format", "json"]);
    assert_eq!(json["tasks"].as_array().unwrap().len(), 4);
    let done = json["tasks"].as_array().unwrap().iter().find(|t| t["id"] == old.as_str()).unwrap();
    assert_eq!(done["code_commit"], code.as_str(), "{done}");
    assert_eq!(json["gates"][0], "M1: approve (UNSIGNED)");
    let bad = repo.run(&["review", "nope..HEAD"]);
    assert_eq!(bad.status.code(), Some(1), "{}", describe(&bad));
}

#[test]
fn review_colours_tasks_by_state_keeps_unchanged_prerequisites_and_escapes_summaries() {
    let repo = Repo::new();
    let before = repo.add(&["Done before the range"]);
    let base = repo.git(&["rev-parse", "abathur-ledger"]).trim().to_string();
    let evil = repo.add(&["<img src=x onerror=alert(1)> | \"quoted\" `code`", "--after", &before]);
    let cascaded = repo.add(&["Waits on the evil one", "--after", &evil]);
    repo.ok(&["task", "cancel", &evil]);

    let md = repo.ok(&["review", &format!("{base}..abathur-ledger")]);
    // Added and cancelled (by the cascade) inside the range: shown as cancelled, not as added.
    let json = repo.json(&["review", &format!("{base}..abathur-ledger"), "--format", "json"]);
    let change = |id: &str| json["tasks"].as_array().unwrap().iter().find(|t| t["id"] == id).unwrap()["change"].clone();
    assert_eq!(change(&cascaded), "cancelled", "{json}");
    // The prerequisite the range did not touch is drawn, with its edge.
    assert!(md.contains(&format!("t{before} --> t{evil}")), "{md}");
    assert!(md.contains(&format!("class t{evil} cancelled")) && md.contains("classDef cancelled fill:"), "{md}");
    assert!(md.contains("stroke-dasharray"), "context nodes are dashed:\n{md}");
    // No raw HTML and no broken table cell from a summary.
    assert!(!md.contains("<img"), "{md}");
    assert!(md.contains("&lt;img src=x onerror=alert(1)&gt; \\| \"quoted\" \\`code\\`"), "{md}");
}

#[test]
fn check_reports_gates_decided_out_of_milestone_order() {
    let repo = Repo::new();
    repo.git(&["config", "user.name", "Test"]);
    repo.git(&["config", "user.email", "test@example.com"]);
    repo.ok(&["milestone", "add", "M1", "--title", "One"]);
    repo.ok(&["milestone", "add", "M2", "--title", "Two"]);
    repo.allow_unsigned();
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

#[test]
fn review_of_a_code_range_shows_what_the_ledger_did_while_that_code_was_written() {
    let repo = Repo::new();
    let at = |t: &str| ("ABATHUR_NOW", t.to_string());
    let add = |summary: &str, now: &str| {
        let out = repo.cmd(&["--json", "task", "add", summary]).env(at(now).0, at(now).1).output().unwrap();
        assert!(out.status.success(), "{}", describe(&out));
    };
    let code_commit = |name: &str, date: &str| code_commit(&repo, name, date);
    add("Before the branch", "2026-06-01T10:00:00Z");
    let base = code_commit("base.rs", "2026-06-01T10:00:30Z");
    add("During the branch", "2026-06-01T10:01:00Z");
    let head = code_commit("feature.rs", "2026-06-01T10:01:30Z");
    add("After the branch", "2026-06-01T10:02:00Z");
    let json = repo.json(&["review", &format!("{base}..{head}"), "--format", "json"]);
    let summaries: Vec<&str> =
        json["tasks"].as_array().unwrap().iter().map(|t| t["summary"].as_str().unwrap()).collect();
    assert_eq!(summaries, ["During the branch"], "{json}");
}

#[test]
fn review_of_a_code_range_shows_tasks_completed_at_its_commits_whenever_the_ledger_recorded_them() {
    let repo = Repo::new();
    let run = |args: &[&str], now: &str| {
        let out = repo.cmd(args).env("ABATHUR_NOW", now).output().unwrap();
        assert!(out.status.success(), "{}", describe(&out));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let code_commit = |name: &str, date: &str| code_commit(&repo, name, date);
    // Each agent commits its code, then completes its task a few seconds later.
    let finish = |summary: &str, now: &str| {
        run(&["--json", "task", "add", summary], now);
        let claim = run(&["--json", "task", "claim"], now);
        let id = claim["task"]["id"].as_str().unwrap();
        run(&["--json", "task", "complete", id, "--lease", claim["lease_id"].as_str().unwrap()], now);
    };
    let base = code_commit("base.rs", "2026-06-01T10:00:00Z");
    finish("Done by the base commit", "2026-06-01T10:00:05Z");
    let head = code_commit("feature.rs", "2026-06-01T10:01:00Z");
    finish("Done by the branch", "2026-06-01T10:01:05Z");
    let json = repo.json(&["review", &format!("{base}..{head}"), "--format", "json"]);
    let shown: Vec<(&str, &str, &str)> = json["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (t["summary"].as_str().unwrap(), t["change"].as_str().unwrap(), t["code_commit"].as_str().unwrap_or(""))
        })
        .collect();
    assert_eq!(shown, [("Done by the branch", "completed", head.as_str())], "{json}");
}

/// Commits a file `name` to the code branch at `date`; returns the commit id.
fn code_commit(repo: &Repo, name: &str, date: &str) -> String {
    std::fs::write(repo.path().join(name), name).unwrap();
    repo.git(&["add", name]);
    let mut cmd = std::process::Command::new("git");
    cmd.args(["commit", "-qm", name]).current_dir(repo.path());
    crate::common::hermetic(&mut cmd, repo.path());
    cmd.env("GIT_COMMITTER_DATE", date).env("GIT_AUTHOR_DATE", date);
    assert!(cmd.output().unwrap().status.success());
    repo.git(&["rev-parse", "HEAD"]).trim().to_string()
}
