//! `abathur init`: in any git repository, from a subdirectory, idempotent, refused outside git.

use crate::common::{Repo, bin, describe, hermetic};

#[test]
fn init_creates_the_ledger_layout_outside_the_work_tree() {
    let repo = Repo::bare_git();
    let out = repo.json(&["init"]);
    let created: Vec<&str> = out["created"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    for path in ["tasks/", "memory/", "config.toml"] {
        assert!(created.contains(&path), "{path} not reported as created: {created:?}");
    }
    let root = repo.path().join(".git/abathur");
    assert_eq!(out["ledger"], root.display().to_string());
    assert!(root.join("tasks").is_dir() && root.join("config.toml").is_file());
    assert!(!repo.path().join(".abathur").exists(), "nothing in the work tree");
    assert_eq!(repo.git(&["status", "--porcelain", "--ignored"]), "");
    // The folders are committed on the ledger branch.
    let files = repo.git(&["ls-tree", "-r", "--name-only", "abathur-ledger"]);
    assert!(files.contains("tasks/.gitkeep") && files.contains("config.toml"), "{files}");
}

#[test]
fn init_twice_changes_nothing() {
    let repo = Repo::new();
    let before: Vec<(String, Vec<u8>, std::time::SystemTime)> = walk(repo.path());
    let out = repo.json(&["init"]);
    assert_eq!(out["created"].as_array().unwrap().len(), 0);
    assert_eq!(walk(repo.path()), before, "a second init must not touch any file");
}

#[test]
fn init_from_a_subdirectory_uses_the_repository_root() {
    let repo = Repo::bare_git();
    let sub = repo.path().join("src/deep");
    std::fs::create_dir_all(&sub).unwrap();
    let mut cmd = std::process::Command::new(bin());
    cmd.arg("init").current_dir(&sub);
    hermetic(&mut cmd, repo.path());
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    assert!(repo.path().join(".git/abathur/config.toml").exists());
    assert!(!sub.join(".abathur").exists());
    // And commands from the subdirectory find it.
    let mut cmd = std::process::Command::new(bin());
    cmd.args(["task", "status"]).current_dir(&sub);
    hermetic(&mut cmd, repo.path());
    assert!(cmd.output().unwrap().status.success());
}

#[test]
fn init_outside_git_is_refused_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new(bin());
    cmd.arg("init").current_dir(dir.path()).env("GIT_CEILING_DIRECTORIES", dir.path().parent().unwrap());
    hermetic(&mut cmd, dir.path());
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not inside a git repository"), "{err}");
    assert!(err.contains("git init"), "the error should say what to do: {err}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn commands_without_a_ledger_say_to_run_init() {
    let repo = Repo::bare_git();
    let err = repo.fails(&["task", "list"], 1);
    assert!(err.contains("abathur init"), "{err}");
}

fn walk(root: &std::path::Path) -> Vec<(String, Vec<u8>, std::time::SystemTime)> {
    let mut out = Vec::new();
    let mut stack = vec![root.join(".git/abathur")];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let e = e.unwrap();
            let meta = e.metadata().unwrap();
            if meta.is_dir() {
                stack.push(e.path());
            } else {
                out.push((e.path().display().to_string(), std::fs::read(e.path()).unwrap(), meta.modified().unwrap()));
            }
        }
    }
    out.sort();
    out
}
