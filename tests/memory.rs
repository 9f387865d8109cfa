//! Project memory through the real binary: versions, tombstones, expiry, prune, and bad input.

use crate::common::{Repo, describe};

#[test]
fn updates_keep_history_and_delete_is_a_reusable_tombstone() {
    let repo = Repo::new();
    let added = repo.json(&["memory", "add", "Project", "Error-Codes", "Exit 3 means retry.", "--by", "rust-dev"]);
    assert_eq!(added["namespace"], "project:");
    assert_eq!(added["key"], "error-codes");
    assert_eq!(added["version"], 1);
    let again = repo.run(&["memory", "add", "project:", "error-codes", "twice"]);
    assert_eq!(again.status.code(), Some(3), "{}", describe(&again));

    repo.json(&["memory", "update", "project:", "error-codes", "Exit 3: retry. Exit 4: internal."]);
    let current = repo.json(&["memory", "get", "project:", "error-codes"]);
    assert_eq!(current["version"], 2);
    assert_eq!(current["value"], "Exit 3: retry. Exit 4: internal.");
    let first = repo.json(&["memory", "get", "project:", "error-codes", "--version", "1"]);
    assert_eq!(first["value"], "Exit 3 means retry.");
    assert_eq!(first["author"], "rust-dev");

    assert_eq!(repo.json(&["memory", "delete", "project:", "error-codes"])["version"], 3);
    let gone = repo.run(&["memory", "get", "project:", "error-codes"]);
    assert_eq!(gone.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&gone.stderr).contains("deleted in version 3"), "{}", describe(&gone));
    assert!(repo.json(&["memory", "list"])["entries"].as_array().unwrap().is_empty());

    let back = repo.json(&["memory", "add", "project:", "error-codes", "Back again"]);
    assert_eq!(back["version"], 4);
    let history = repo.json(&["memory", "history", "project:", "error-codes"]);
    let versions: Vec<i64> =
        history["versions"].as_array().unwrap().iter().map(|v| v["version"].as_i64().unwrap()).collect();
    assert_eq!(versions, [4, 3, 2, 1]);
    assert_eq!(history["versions"][1]["deleted"], true);
    // The current file is readable Markdown with TOML front matter.
    let text = std::fs::read_to_string(repo.path().join(".git/abathur/memory/project/error-codes.md")).unwrap();
    assert!(
        text.starts_with("+++\nnamespace = \"project:\"\nkey = \"error-codes\"\n") && text.ends_with("\nBack again\n"),
        "{text}"
    );
}

#[test]
fn json_values_round_trip_and_listing_filters_by_prefix() {
    let repo = Repo::new();
    repo.json(&["memory", "add", "task:01jx:", "plan", r#"{"steps": [1, 2], "owner": "a"}"#, "--json-value"]);
    repo.json(&["memory", "add", "agent:rust-dev:", "style", "Use thiserror.", "--type", "procedural"]);
    repo.json(&["memory", "add", "project:", "db", "Postgres."]);
    assert_eq!(repo.json(&["memory", "get", "task:01jx:", "plan"])["value"]["steps"][1], 2);
    let listed = repo.json(&["memory", "list", "agent:"]);
    assert_eq!(listed["total"], 1);
    assert_eq!(listed["entries"][0]["key"], "style");
    assert_eq!(repo.json(&["memory", "list", "--type", "semantic"])["total"], 2);
}

#[test]
fn episodic_entries_expire_and_prune_removes_them() {
    let repo = Repo::new();
    repo.json(&[
        "memory",
        "add",
        "session:s1:",
        "saw-flake",
        "test_x failed once",
        "--type",
        "episodic",
        "--ttl",
        "1h",
    ]);
    repo.json(&["memory", "update", "session:s1:", "saw-flake", "test_x failed twice"]);
    repo.json(&["memory", "add", "session:s1:", "long", "kept", "--type", "episodic"]);
    let later = "2099-01-01T00:00:00Z";
    let expired = repo.run_env(&["memory", "get", "session:s1:", "saw-flake"], "ABATHUR_NOW", later);
    assert_eq!(expired.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&expired.stderr).contains("expired at"), "{}", describe(&expired));
    let in_two_hours = "2099-01-01T00:00:00Z";
    let listed = repo.json_env(&["memory", "list"], "ABATHUR_NOW", in_two_hours);
    assert_eq!(listed["total"], 0, "both expired by 2099: {listed}");
    let pruned = repo.json_env(&["memory", "prune"], "ABATHUR_NOW", later);
    assert_eq!(pruned["pruned"].as_array().unwrap().len(), 2);
    assert_eq!(pruned["files_removed"], 3, "two current files and one history copy");
    assert!(!repo.path().join(".git/abathur/memory/session").exists(), "empty folders are removed");
    // Not yet expired: a fresh entry survives prune.
    repo.json(&["memory", "add", "session:s2:", "fresh", "now", "--type", "episodic", "--ttl", "1h"]);
    assert_eq!(repo.json(&["memory", "prune"])["pruned"].as_array().unwrap().len(), 0);
    assert_eq!(repo.json(&["memory", "get", "session:s2:", "fresh"])["value"], "now");
}

#[test]
fn bad_input_names_the_field_and_writes_nothing() {
    let repo = Repo::new();
    let memory = repo.path().join(".git/abathur/memory");
    let before = walk(&memory);
    let huge_file = repo.path().join("huge.md");
    std::fs::write(&huge_file, "x".repeat(300 * 1024)).unwrap();
    let huge = huge_file.to_str().unwrap();
    for (args, needle) in [
        (vec!["memory", "add", "../etc:", "k", "v"], "namespace"),
        (vec!["memory", "add", "a::b", "k", "v"], "namespace"),
        (vec!["memory", "add", "project:", ".hidden", "v"], "key"),
        (vec!["memory", "add", "project:", "a/b", "v"], "key"),
        (vec!["memory", "add", "project:", "k", ""], "value"),
        (vec!["memory", "add", "project:", "k", "--file", huge], "value"),
        (vec!["memory", "add", "project:", "k", "{not json", "--json-value"], "value"),
        (vec!["memory", "add", "project:", "k", "v", "--ttl", "7d"], "ttl"),
        (vec!["memory", "add", "project:", "k", "v", "--type", "episodic", "--ttl", "soon"], "ttl"),
    ] {
        let out = repo.run(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", describe(&out));
        assert!(String::from_utf8_lossy(&out.stderr).contains(needle), "{args:?}: {}", describe(&out));
    }
    assert_eq!(walk(&memory), before, "a refused write changed files");

    std::fs::create_dir_all(memory.join("project")).unwrap();
    std::fs::write(memory.join("project/broken.md"), "+++\nnamespace = \"project:\"\nkey = 5\n+++\nbody\n").unwrap();
    let out = repo.run(&["memory", "get", "project:", "broken"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("project/broken.md") && err.contains("front matter"), "{err}");
    std::fs::write(memory.join("project/nofence.md"), "just text\n").unwrap();
    let listed = repo.run(&["memory", "list"]);
    assert_eq!(listed.status.code(), Some(1), "a malformed entry is reported, not skipped: {}", describe(&listed));
}

fn walk(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push((path.display().to_string(), std::fs::read(&path).unwrap()));
        }
    }
    out.sort();
    out
}

#[test]
fn a_memory_list_pages_through_every_entry_once_with_a_cursor() {
    let repo = Repo::new();
    for i in 0..12 {
        repo.ok(&["memory", "add", "project:", &format!("k{i:02}"), &format!("value {i}")]);
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut args = vec!["memory", "list", "--limit", "5"];
        if let Some(c) = &cursor {
            args.extend(["--cursor", c.as_str()]);
        }
        let page = repo.json(&args);
        assert_eq!(page["total"], 12);
        seen.extend(page["entries"].as_array().unwrap().iter().map(|e| e["key"].as_str().unwrap().to_string()));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    let expected: Vec<String> = (0..12).map(|i| format!("k{i:02}")).collect();
    assert_eq!(seen, expected);
    let err = repo.fails(&["memory", "list", "--limit", "501"], 1);
    assert!(err.contains("out of range"), "{err}");
}
