//! The ledger travels with git: outside every work tree, committed by abathur, synced through
//! remotes. Each test reproduces a way a team loses ledger writes with an in-tree ledger.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::common::{Repo, bin, describe, hermetic};

/// A bare repository standing in for the hosted remote.
struct Remote {
    dir: tempfile::TempDir,
}

impl Remote {
    fn new() -> Remote {
        let dir = tempfile::tempdir().unwrap();
        git_in(dir.path(), &["init", "-q", "--bare", "-b", "main"]);
        Remote { dir }
    }

    fn url(&self) -> String {
        self.dir.path().display().to_string()
    }
}

fn git_in(dir: &Path, args: &[&str]) -> String {
    let mut cmd = Command::new("git");
    cmd.args(args).current_dir(dir);
    hermetic(&mut cmd, dir);
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "git {args:?} in {}: {}", dir.display(), describe(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A project with one commit, a ledger, and `origin` pointing at `remote`.
fn project(remote: &Remote) -> Repo {
    let repo = Repo::new();
    std::fs::write(repo.path().join("README.md"), "# code\n").unwrap();
    repo.git(&["add", "README.md"]);
    repo.git(&["commit", "-qm", "code"]);
    repo.git(&["remote", "add", "origin", &remote.url()]);
    repo.git(&["push", "-q", "origin", "main"]);
    repo
}

/// A second clone of `remote`, as a teammate's laptop.
fn clone(remote: &Remote) -> Repo {
    let repo = Repo::empty();
    git_in(repo.path(), &["clone", "-q", &remote.url(), "."]);
    repo
}

fn abathur_in(dir: &Path, home: &Path, args: &[&str]) -> Value {
    let mut cmd = Command::new(bin());
    cmd.arg("--json").args(args).current_dir(dir).stdin(Stdio::null());
    hermetic(&mut cmd, home);
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "abathur {args:?} in {}: {}", dir.display(), describe(&out));
    serde_json::from_slice(&out.stdout).expect("JSON reply")
}

fn ledger_dir(repo: &Repo) -> PathBuf {
    repo.path().join(".git/abathur")
}

fn status(repo: &Repo, id: &str) -> String {
    repo.json(&["task", "get", id])["status"].as_str().unwrap().to_string()
}

fn complete(repo: &Repo, agent: &str) -> Option<String> {
    let claim = repo.json(&["task", "claim", "--agent", agent]);
    let task = claim["task"].as_object()?;
    let id = task["id"].as_str().unwrap().to_string();
    let lease = claim["lease_id"].as_str().unwrap().to_string();
    repo.json(&["task", "complete", &id, "--lease", &lease, "--result", "{\"ok\":true}"]);
    Some(id)
}

#[test]
fn no_write_touches_the_code_work_tree() {
    let repo = Repo::new();
    std::fs::write(repo.path().join("code.rs"), "fn main() {}\n").unwrap();
    repo.git(&["add", "code.rs"]);
    repo.git(&["commit", "-qm", "code"]);
    let a = repo.add(&["Schema", "-t", "impl"]);
    repo.add(&["Tests", "--after", &a]);
    complete(&repo, "impl-1").expect("a task to claim");
    repo.ok(&["memory", "add", "project:", "conventions", "Errors are JSON."]);
    repo.ok(&["decision", "add", "Use Postgres", "--context", "c", "--decision", "d"]);
    repo.ok(&["milestone", "add", "--example", "seed-plan"]);
    assert_eq!(repo.git(&["status", "--porcelain", "--untracked-files=all", "--ignored"]), "");
    assert!(ledger_dir(&repo).join("tasks").join(format!("{a}.toml")).is_file());
}

#[test]
fn durable_changes_are_commits_with_readable_history_and_heartbeats_are_not() {
    let repo = Repo::new();
    let a = repo.add(&["Write the parser"]);
    let commits = || repo.git(&["rev-list", "--count", "abathur-ledger"]).trim().parse::<usize>().unwrap();
    let after_add = commits();
    let claim = repo.json(&["task", "claim", "--agent", "impl-1"]);
    let lease = claim["lease_id"].as_str().unwrap().to_string();
    for _ in 0..3 {
        repo.json(&["task", "heartbeat", &a, "--lease", &lease]);
    }
    assert_eq!(commits(), after_add, "claims and heartbeats add no commit");
    repo.json(&["task", "complete", &a, "--lease", &lease, "--result", "{\"files\":[\"parser.rs\"]}"]);
    assert_eq!(commits(), after_add + 1);
    let log = repo.git(&["log", "-p", "-1", "abathur-ledger"]);
    assert!(log.contains(&format!("Abathur-Task: {a}")), "{log}");
    assert!(log.contains("running → completed") || log.contains("pending → completed"), "{log}");
    assert!(log.contains("+state = \"completed\""), "{log}");
    let status = repo.json(&["ledger", "status"]);
    assert_eq!(status["uncommitted"], serde_json::json!([]), "{status}");
}

#[test]
fn switching_branches_changes_nothing_in_the_queue() {
    let repo = Repo::new();
    std::fs::write(repo.path().join("a.txt"), "a").unwrap();
    repo.git(&["add", "a.txt"]);
    repo.git(&["commit", "-qm", "a"]);
    let ids: Vec<String> = (0..8).map(|i| repo.add(&[&format!("task {i}")])).collect();
    repo.git(&["checkout", "-q", "-b", "feature-x"]);
    for i in 0..8 {
        complete(&repo, &format!("agent-{i}")).unwrap();
    }
    repo.git(&["checkout", "-q", "main"]);
    repo.git(&["reset", "-q", "--hard"]);
    repo.git(&["clean", "-q", "-fdx"]);
    for id in &ids {
        assert_eq!(status(&repo, id), "completed", "task {id} after checkout, reset --hard and clean -fdx");
    }
}

#[test]
fn stash_pull_and_checkout_racing_agents_lose_no_acknowledged_write() {
    let remote = Remote::new();
    let repo = project(&remote);
    let ids: Vec<String> = (0..60).map(|i| repo.add(&[&format!("work {i}")])).collect();
    let teammate = clone(&remote);
    let path = repo.path().to_path_buf();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // A person's ordinary git use in the same clone while agents write.
    let person = {
        let (stop, path) = (stop.clone(), path.clone());
        std::thread::spawn(move || {
            let mut rounds = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) || rounds < 3 {
                std::fs::write(path.join("README.md"), format!("# code {rounds}\n")).unwrap();
                let _ = git_quiet(&path, &["stash"]);
                let _ = git_quiet(&path, &["pull", "-q", "--no-rebase", "origin", "main"]);
                let _ = git_quiet(&path, &["checkout", "-q", "-B", "side"]);
                let _ = git_quiet(&path, &["checkout", "-q", "main"]);
                let _ = git_quiet(&path, &["stash", "pop"]);
                let _ = git_quiet(&path, &["reset", "-q", "--hard"]);
                rounds += 1;
            }
        })
    };
    // The teammate pushes code, so pulls really merge.
    for i in 0..3 {
        std::fs::write(teammate.path().join(format!("t{i}.txt")), "t").unwrap();
        teammate.git(&["add", "-A"]);
        teammate.git(&["commit", "-qm", "teammate"]);
        teammate.git(&["push", "-q", "origin", "main"]);
    }
    let agents: Vec<_> = (0..6)
        .map(|n| {
            let path = path.clone();
            std::thread::spawn(move || work_until_none_is_ready(&path, &format!("agent-{n}"), "local"))
        })
        .collect();
    let mut acknowledged: Vec<String> = agents.into_iter().flat_map(|a| a.join().unwrap()).collect();
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    person.join().unwrap();
    acknowledged.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(acknowledged, expected, "every task was completed exactly once");
    for id in &ids {
        assert_eq!(status(&repo, id), "completed", "{id}");
    }
    assert_eq!(repo.json(&["ledger", "status"])["uncommitted"], serde_json::json!([]));
}

/// An agent in the clone at `path`: claims and completes until nothing is ready; every claim must
/// be of `scope`. Returns the tasks it completed.
fn work_until_none_is_ready(path: &Path, agent: &str, scope: &str) -> Vec<String> {
    let mut done = Vec::new();
    loop {
        let claim = abathur_in(path, path, &["task", "claim", "--agent", agent]);
        let Some(task) = claim["task"].as_object() else { return done };
        assert_eq!(claim["scope"], scope, "{claim}");
        let id = task["id"].as_str().unwrap().to_string();
        let lease = claim["lease_id"].as_str().unwrap().to_string();
        abathur_in(path, path, &["task", "complete", &id, "--lease", &lease]);
        done.push(id);
    }
}

fn git_quiet(dir: &Path, args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new("git");
    cmd.args(args).current_dir(dir).stdin(Stdio::null());
    hermetic(&mut cmd, dir);
    cmd.output().unwrap()
}

#[test]
fn every_worktree_of_a_bare_repository_shares_one_ledger() {
    let remote = Remote::new();
    let seed = project(&remote);
    drop(seed);
    let top = tempfile::tempdir().unwrap();
    let bare = top.path().join("project.git");
    git_in(top.path(), &["clone", "-q", "--bare", &remote.url(), bare.to_str().unwrap()]);
    let (wt1, wt2) = (top.path().join("wt1"), top.path().join("wt2"));
    git_in(&bare, &["worktree", "add", "-q", wt1.to_str().unwrap(), "-b", "agent-1"]);
    git_in(&bare, &["worktree", "add", "-q", wt2.to_str().unwrap(), "-b", "agent-2"]);
    abathur_in(&wt1, top.path(), &["init"]);
    let id = abathur_in(&wt1, top.path(), &["task", "add", "Shared"])["task_id"].as_str().unwrap().to_string();
    let claim = abathur_in(&wt2, top.path(), &["task", "claim", "--agent", "wt2"]);
    assert_eq!(claim["task"]["id"], id.as_str(), "the second worktree claims from the same queue");
    let second = abathur_in(&wt1, top.path(), &["task", "claim", "--agent", "wt1"]);
    assert!(second["task"].is_null(), "no second holder: {second}");
    assert!(bare.join("abathur/tasks").join(format!("{id}.toml")).is_file());
    // From inside the bare repository too.
    assert_eq!(abathur_in(&bare, top.path(), &["task", "get", &id])["status"], "running");
}

#[test]
fn a_fresh_clone_gets_the_whole_ledger_with_one_command() {
    let remote = Remote::new();
    let repo = project(&remote);
    let a = repo.add(&["Done on the first laptop"]);
    let b = repo.add(&["Still open"]);
    complete(&repo, "impl-1").unwrap();
    repo.ok(&["memory", "add", "project:", "stack", "Rust and git."]);
    let reply = repo.json(&["sync", "--remote", "origin"]);
    assert_eq!(reply["pushed"], true, "{reply}");

    let fresh = clone(&remote);
    fresh.ok(&["init"]);
    let done = fresh.json(&["task", "get", &a]);
    let open = fresh.json(&["task", "get", &b]);
    assert_eq!(
        (done["status"].as_str(), open["status"].as_str()),
        (Some("completed"), Some("ready")),
        "exactly one of the two was completed, and the clone knows which"
    );
    assert_eq!(fresh.json(&["memory", "get", "project:", "stack"])["value"], "Rust and git.");
}

#[test]
fn two_clones_sync_each_others_work_field_by_field() {
    let remote = Remote::new();
    let one = project(&remote);
    let ids: Vec<String> = (0..6).map(|i| one.add(&[&format!("task {i}")])).collect();
    one.json(&["sync", "--remote", "origin"]);
    let two = clone(&remote);
    two.json(&["sync", "--remote", "origin"]);
    // Each machine finishes a task (claims are compare-and-swaps on the remote, so two different
    // ones), and both change one other task's plan differently.
    let first = complete(&one, "one").unwrap();
    let second = complete(&two, "two").unwrap();
    assert_ne!(first, second, "the remote gave each machine its own task");
    let shared = ids.iter().find(|i| **i != first && **i != second).unwrap();
    one.json(&["task", "update", shared, "--priority", "9"]);
    two.json(&["task", "update", shared, "--agent-type", "reviewer"]);
    one.json(&["sync"]);
    let reply = two.json(&["sync"]);
    assert_eq!(reply["pushed"], true, "{reply}");
    one.json(&["sync"]);
    for repo in [&one, &two] {
        assert_eq!(status(repo, &first), "completed");
        assert_eq!(status(repo, &second), "completed");
        let task = repo.json(&["task", "get", shared]);
        assert_eq!(
            (task["base_priority"].as_i64(), task["agent_type"].as_str()),
            (Some(9), Some("reviewer")),
            "{task}"
        );
    }
    assert_eq!(
        one.git(&["rev-parse", "abathur-ledger"]),
        two.git(&["rev-parse", "abathur-ledger"]),
        "both clones end on the same ledger commit"
    );
    assert_eq!(two.json(&["check"])["problems"], serde_json::json!([]));
}

#[test]
fn a_merge_that_would_close_a_cycle_is_refused_with_its_path() {
    let remote = Remote::new();
    let one = project(&remote);
    let a = one.add(&["A"]);
    let b = one.add(&["B"]);
    one.json(&["sync", "--remote", "origin"]);
    let two = clone(&remote);
    two.json(&["sync", "--remote", "origin"]);
    one.json(&["task", "update", &a, "--after", &b]);
    two.json(&["task", "update", &b, "--after", &a]);
    one.json(&["sync"]);
    let out = two.run(&["sync"]);
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cycle") && stderr.contains(&a) && stderr.contains(&b), "{stderr}");
    // Nothing changed here: the local edit stands and the ledger is valid.
    assert_eq!(two.json(&["check"])["problems"], serde_json::json!([]));
    assert!(two.json(&["task", "get", &b])["prerequisites"].to_string().contains(&a));
}

#[test]
fn sync_works_over_git_daemon_on_loopback() {
    let remote = Remote::new();
    let one = project(&remote);
    let port = free_port();
    let base = remote.dir.path().parent().unwrap().to_path_buf();
    let mut daemon = Command::new("git")
        .args([
            "daemon",
            "--reuseaddr",
            "--export-all",
            "--enable=receive-pack",
            "--listen=127.0.0.1",
            &format!("--port={port}"),
            &format!("--base-path={}", base.display()),
        ])
        .arg(&base)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("git daemon");
    let _stop = KillOnDrop(&mut daemon);
    let url = format!("git://127.0.0.1:{port}/{}", remote.dir.path().file_name().unwrap().to_str().unwrap());
    wait_for_port(port);
    one.git(&["remote", "add", "daemon", &url]);
    let id = one.add(&["Over the daemon"]);
    one.json(&["sync", "--remote", "daemon"]);
    let two = clone(&remote);
    two.git(&["remote", "add", "daemon", &url]);
    two.json(&["sync", "--remote", "daemon"]);
    assert_eq!(status(&two, &id), "ready");
}

struct KillOnDrop<'a>(&'a mut std::process::Child);

impl Drop for KillOnDrop<'_> {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn wait_for_port(port: u16) {
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    panic!("git daemon did not listen on port {port}");
}

#[test]
fn migrate_moves_an_in_tree_ledger_and_keeps_its_history() {
    let repo = Repo::bare_git();
    std::fs::write(repo.path().join("code.rs"), "fn main() {}\n").unwrap();
    let old = repo.path().join(".abathur");
    std::fs::create_dir_all(old.join("tasks")).unwrap();
    std::fs::create_dir_all(old.join("cache")).unwrap();
    let id = "01m8rvjncb0000000000000000";
    let task = format!(
        "id = \"{id}\"\nsummary = \"old task\"\ndescription = \"old task\"\nsource = \"human\"\nagent_type = \"x\"\nbase_priority = 5\nmax_retries = 3\nlease_timeout_seconds = 600\nsubmitted_at = \"2026-11-24T08:30:00.000Z\"\nlast_updated_at = \"2026-11-24T08:30:00.000Z\"\nstate = \"pending\"\nretry_count = 0\n"
    );
    std::fs::write(old.join("tasks").join(format!("{id}.toml")), &task).unwrap();
    std::fs::write(old.join("config.toml"), "").unwrap();
    std::fs::write(old.join("cache/tasks.idx"), "junk").unwrap();
    repo.git(&["add", "code.rs", ".abathur/tasks", ".abathur/config.toml"]);
    repo.git(&["commit", "-qm", "old layout"]);
    let err = repo.fails(&["task", "list"], 1);
    assert!(err.contains("abathur ledger migrate"), "{err}");
    let reply = repo.json(&["ledger", "migrate"]);
    assert_eq!(reply["files"], 2, "{reply}");
    assert!(!old.exists());
    assert_eq!(repo.git(&["status", "--porcelain"]), "");
    assert_eq!(repo.json(&["task", "get", id])["summary"], "old task");
    let removal = reply["removal_commit"].as_str().unwrap();
    let history = repo.git(&["log", "--oneline", &format!("{removal}~1"), "--", ".abathur"]);
    assert!(history.contains("old layout"), "the old history stays readable: {history}");
    // And people can open the files where they used to.
    repo.json(&["ledger", "mount"]);
    assert!(repo.path().join(".git/abathur/tasks").join(format!("{id}.toml")).is_file());
    assert_eq!(repo.git(&["status", "--porcelain"]), "", "the mount is ignored by git");
}

#[test]
fn a_writer_killed_before_its_commit_has_the_write_committed_by_the_next() {
    let repo = Repo::new();
    let id = repo.add(&["Survives"]);
    // Stand in for a writer killed after its file write and before its commit: the record of
    // uncommitted writes names a file that differs from the ledger branch.
    let path = ledger_dir(&repo).join("tasks").join(format!("{id}.toml"));
    let text = std::fs::read_to_string(&path).unwrap().replace("base_priority = 5", "base_priority = 7");
    std::fs::write(&path, text).unwrap();
    std::fs::write(ledger_dir(&repo).join("cache/uncommitted"), format!("tasks/{id}.toml\n")).unwrap();
    assert_eq!(repo.json(&["ledger", "status"])["uncommitted"].as_array().unwrap().len(), 1);
    repo.add(&["Next write"]);
    assert_eq!(repo.json(&["ledger", "status"])["uncommitted"], serde_json::json!([]));
    let shard = format!("{}/{}", &id[25..], &id[24..25]);
    let shown = repo.git(&["show", &format!("abathur-ledger:tasks/{shard}/{id}.toml")]);
    assert!(shown.contains("base_priority = 7"), "{shown}");
}

/// `clones` clones of one remote with `agents` concurrent agents each and a sync loop per clone:
/// no task is ever held by two machines, and every acknowledged completion reaches every clone.
fn many_machines(clones: usize, agents: usize, tasks: usize) {
    let remote = Remote::new();
    let first = project(&remote);
    let ids: Vec<String> = (0..tasks).map(|i| first.add(&[&format!("work {i}")])).collect();
    first.json(&["sync", "--remote", "origin"]);
    let mut machines = vec![first];
    for _ in 1..clones {
        let m = clone(&remote);
        m.json(&["sync", "--remote", "origin"]);
        machines.push(m);
    }
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let syncers: Vec<_> = machines
        .iter()
        .map(|m| {
            let (path, stop) = (m.path().to_path_buf(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                    let mut cmd = Command::new(bin());
                    cmd.args(["--quiet", "sync"]).current_dir(&path).stdin(Stdio::null());
                    hermetic(&mut cmd, &path);
                    let _ = cmd.output();
                }
            })
        })
        .collect();
    let workers: Vec<_> = machines
        .iter()
        .enumerate()
        .flat_map(|(m, machine)| {
            let path = machine.path().to_path_buf();
            (0..agents).map(move |a| {
                let path = path.clone();
                std::thread::spawn(move || work_until_none_is_ready(&path, &format!("m{m}-a{a}"), "remote origin"))
            })
        })
        .collect();
    let mut acknowledged: Vec<String> = workers.into_iter().flat_map(|w| w.join().unwrap()).collect();
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    for s in syncers {
        s.join().unwrap();
    }
    acknowledged.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(acknowledged, expected, "each task was claimed and completed by exactly one agent on one machine");
    for _ in 0..2 {
        for m in &machines {
            m.json(&["sync"]);
        }
    }
    for m in &machines {
        let status = m.json(&["task", "status"]);
        assert_eq!(status["completed"], tasks, "{status}");
        for id in &ids {
            let text = std::fs::read_to_string(m.tasks_dir().join(format!("{id}.toml"))).unwrap();
            assert_eq!(text.matches("event = \"claimed\"").count(), 1, "{id} claimed once: {text}");
        }
        assert_eq!(m.json(&["check"])["problems"], serde_json::json!([]));
    }
}

#[test]
fn two_clones_with_25_agents_each_never_share_a_task() {
    many_machines(2, 25, 60);
}

#[test]
fn three_clones_with_25_agents_each_never_share_a_task() {
    many_machines(3, 25, 60);
}

#[test]
fn the_loser_of_a_remote_race_is_told_at_once_and_a_finished_task_stays_finished() {
    let remote = Remote::new();
    let one = project(&remote);
    let id = one.add(&["Contested"]);
    one.json(&["sync", "--remote", "origin"]);
    let two = clone(&remote);
    two.json(&["sync", "--remote", "origin"]);
    let won = one.json(&["task", "claim", "--agent", "one"]);
    assert_eq!((won["claimed"].as_bool(), won["scope"].as_str()), (Some(true), Some("remote origin")), "{won}");
    // The second machine has not synced: locally the task looks ready, the remote says no.
    let lost = two.json(&["task", "claim", "--agent", "two"]);
    assert_eq!(lost["claimed"], false, "{lost}");
    let lease = won["lease_id"].as_str().unwrap();
    one.json(&["task", "heartbeat", &id, "--lease", lease]);
    one.json(&["task", "complete", &id, "--lease", lease]);
    assert_eq!(two.json(&["task", "claim", "--agent", "two"])["claimed"], false, "finished elsewhere");
    // Without a remote, a claim says it is local.
    let solo = Repo::new();
    solo.add(&["Alone"]);
    assert_eq!(solo.json(&["task", "claim"])["scope"], "local");
}

#[test]
fn a_completion_that_beats_a_cancel_reopens_the_cascade_and_two_completions_keep_both_results() {
    let remote = Remote::new();
    let one = project(&remote);
    let x = one.add(&["X"]);
    let dependent = one.add(&["Needs X", "--after", &x]);
    let y = one.add(&["Y"]);
    one.json(&["sync", "--remote", "origin"]);
    let two = clone(&remote);
    two.json(&["sync", "--remote", "origin"]);
    // The second machine works on X while a person on the first cancels it (cascading to its
    // dependent); the second finishes anyway, after the cancel.
    two.json(&["task", "claim", "--task", &x, "--agent", "two"]);
    let cancel = one.json(&["task", "cancel", &x]);
    assert_eq!(cancel["cascaded_task_ids"][0], dependent.as_str());
    two.json(&["task", "complete", &x, "--result", "{\"by\":\"two\"}"]);
    // Both machines complete Y with different results: the second works offline, so its claim is
    // local and says so.
    let lease = one.json(&["task", "claim", "--task", &y, "--agent", "one"])["lease_id"].as_str().unwrap().to_string();
    one.json(&["task", "complete", &y, "--lease", &lease, "--result", "{\"by\":\"one\"}"]);
    two.git(&["remote", "set-url", "origin", "/nonexistent/remote.git"]);
    let offline = two.json(&["task", "claim", "--task", &y, "--agent", "two"]);
    assert!(offline["scope"].as_str().unwrap().starts_with("local (remote origin unreachable"), "{offline}");
    let lease = offline["lease_id"].as_str().unwrap().to_string();
    two.json(&["task", "complete", &y, "--lease", &lease, "--result", "{\"by\":\"two\"}"]);
    two.git(&["remote", "set-url", "origin", &remote.url()]);
    one.json(&["sync"]);
    let reply = two.json(&["sync"]);
    assert_eq!(reply["reopened"], serde_json::json!([dependent]), "{reply}");
    assert_eq!(reply["conflicts"], serde_json::json!([]), "{reply}");
    assert_eq!(status(&two, &x), "completed");
    assert_eq!(status(&two, &dependent), "ready", "its only prerequisite is completed after all");
    let y_file = std::fs::read_to_string(two.tasks_dir().join(format!("{y}.toml"))).unwrap();
    assert!(y_file.contains(r#"{"by":"one"}"#) && y_file.contains(r#"{"by":"two"}"#), "both results kept:\n{y_file}");
    two.ok(&["check"]);
}

#[test]
fn a_task_left_waiting_on_a_prerequisite_cancelled_elsewhere_is_reported() {
    let remote = Remote::new();
    let one = project(&remote);
    let x = one.add(&["X"]);
    let y = one.add(&["Y"]);
    one.json(&["sync", "--remote", "origin"]);
    let two = clone(&remote);
    two.json(&["sync", "--remote", "origin"]);
    one.json(&["task", "cancel", &x]);
    two.json(&["task", "update", &y, "--after", &x]);
    one.json(&["sync"]);
    let reply = two.json(&["sync"]);
    let warnings = reply["warnings"].to_string();
    assert!(warnings.contains(&y) && warnings.contains("cancelled"), "{reply}");
    let out = two.run(&["--json", "check"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("can never run"), "{}", describe(&out));
}

#[test]
fn the_mcp_server_syncs_by_itself() {
    use std::io::Write;
    let remote = Remote::new();
    let one = project(&remote);
    one.json(&["sync", "--remote", "origin"]);
    let two = clone(&remote);
    two.json(&["sync", "--remote", "origin"]);
    let config = ledger_dir(&two).join("config.toml");
    let text = std::fs::read_to_string(&config).unwrap().replace("interval_seconds = 60", "interval_seconds = 1");
    std::fs::write(&config, text).unwrap();
    let mut server =
        two.cmd(&["mcp"]).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let mut stdin = server.stdin.take().unwrap();
    writeln!(stdin, r#"{{"jsonrpc":"2.0","id":1,"method":"initialize","params":{{"protocolVersion":"2025-06-18","capabilities":{{}},"clientInfo":{{"name":"t","version":"0"}}}}}}"#).unwrap();
    writeln!(stdin, r#"{{"jsonrpc":"2.0","method":"notifications/initialized"}}"#).unwrap();
    // Work on the first laptop, published: the second's server brings it in without being asked.
    let id = one.add(&["Arrives by itself"]);
    one.json(&["sync"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let arrived = loop {
        if two.run(&["task", "get", &id]).status.success() {
            break true;
        }
        if std::time::Instant::now() > deadline {
            break false;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    drop(stdin);
    let _ = server.kill();
    let _ = server.wait();
    assert!(arrived, "the MCP server's background sync brought the task within 30 s");
}

#[test]
fn sync_and_claims_work_over_smart_http_on_loopback() {
    use std::io::BufRead;
    let remote = Remote::new();
    let one = project(&remote);
    let base = remote.dir.path().parent().unwrap().to_path_buf();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/http/git_http_backend.py");
    let mut server = Command::new("python3")
        .arg(script)
        .arg(&base)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 serves git http-backend");
    let mut port = String::new();
    std::io::BufReader::new(server.stdout.take().unwrap()).read_line(&mut port).unwrap();
    let _stop = KillOnDrop(&mut server);
    let name = remote.dir.path().file_name().unwrap().to_str().unwrap();
    let url = format!("http://127.0.0.1:{}/{name}", port.trim());
    one.git(&["remote", "add", "web", &url]);
    let id = one.add(&["Over HTTP"]);
    one.json(&["sync", "--remote", "web"]);
    let two = clone(&remote);
    two.git(&["remote", "add", "web", &url]);
    two.json(&["sync", "--remote", "web"]);
    assert_eq!(status(&two, &id), "ready");
    let won = one.json(&["task", "claim", "--agent", "one"]);
    assert_eq!(won["scope"], "remote web", "{won}");
    assert_eq!(two.json(&["task", "claim", "--agent", "two"])["claimed"], false, "the remote said no over HTTP");
}

#[test]
fn hand_edits_are_committed_by_ledger_commit() {
    let repo = Repo::new();
    let policy = ledger_dir(&repo).join("allowed_signers");
    std::fs::write(&policy, "lead@example.com namespaces=\"git\" ssh-ed25519 AAAA\n").unwrap();
    assert_eq!(repo.json(&["ledger", "status"])["uncommitted"], serde_json::json!(["allowed_signers"]));
    let reply = repo.json(&["ledger", "commit", "-m", "Who may sign"]);
    assert_eq!(reply["files"], serde_json::json!(["allowed_signers"]), "{reply}");
    assert_eq!(repo.git(&["log", "-1", "--format=%s", "abathur-ledger"]).trim(), "Who may sign", "-m sets the subject");
    assert!(
        repo.git(&["log", "-1", "--format=%b", "abathur-ledger"]).contains("allowed_signers"),
        "the body names the file"
    );
    assert_eq!(repo.git(&["show", "abathur-ledger:allowed_signers"]), std::fs::read_to_string(&policy).unwrap());
    assert_eq!(repo.json(&["ledger", "status"])["uncommitted"], serde_json::json!([]));

    // A hand edit that leaves conflict markers in a task file is never committed (sync records hand
    // edits through the same code).
    let id = repo.add(&["Edited by hand"]);
    let task = ledger_dir(&repo).join("tasks").join(format!("{id}.toml"));
    let text = std::fs::read_to_string(&task).unwrap();
    std::fs::write(&task, format!("<<<<<<< ours\n{text}=======\n{text}>>>>>>> theirs\n")).unwrap();
    let tip = repo.git(&["rev-parse", "abathur-ledger"]);
    let err = repo.fails(&["ledger", "commit", "-m", "oops"], 1);
    assert!(err.contains(&format!("{id}.toml")) && err.contains("changed by hand and is not valid"), "{err}");
    assert!(err.contains("line 1"), "the error says where: {err}");
    assert_eq!(repo.git(&["rev-parse", "abathur-ledger"]), tip, "nothing committed");
}

#[test]
fn a_write_through_a_symbolic_link_is_refused_and_changes_nothing() {
    let repo = Repo::new();
    let id = repo.add(&["Linked"]);
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("elsewhere.toml");
    let file = ledger_dir(&repo).join("tasks").join(format!("{id}.toml"));
    std::fs::copy(&file, &target).unwrap();
    std::fs::remove_file(&file).unwrap();
    std::os::unix::fs::symlink(&target, &file).unwrap();
    let before = std::fs::read(&target).unwrap();
    let err = repo.fails(&["task", "update", &id, "-p", "9"], 1);
    assert!(err.contains("symbolic link"), "{err}");
    assert_eq!(std::fs::read(&target).unwrap(), before, "the link's target is untouched");
}

#[test]
fn a_task_this_clone_gave_back_can_be_claimed_again_after_a_sync() {
    let remote = Remote::new();
    let one = project(&remote);
    let config = ledger_dir(&one).join("config.toml");
    let text =
        std::fs::read_to_string(&config).unwrap().replace("retry_backoff_seconds = 10", "retry_backoff_seconds = 0");
    std::fs::write(&config, text).unwrap();
    let id = one.add(&["Retried"]);
    one.json(&["sync", "--remote", "origin"]);
    let lease = one.json(&["task", "claim", "--agent", "first"])["lease_id"].as_str().unwrap().to_string();
    // The sync fetches the remote's claim refs: this clone's own claim, held.
    one.json(&["sync"]);
    one.json(&["task", "fail", &id, "--lease", &lease, "-e", "flaky"]);
    let again = one.json(&["task", "claim", "--agent", "second"]);
    assert_eq!(again["task"]["id"], id.as_str(), "the released claim is free again: {again}");
    assert_eq!(again["scope"], "remote origin");
}

#[test]
fn a_merge_bringing_an_undefined_milestone_is_taken_and_reported_not_refused() {
    let remote = Remote::new();
    let one = project(&remote);
    one.ok(&["milestone", "add", "M1", "--title", "Core"]);
    let id = one.add(&["Core work", "-m", "M1"]);
    one.json(&["sync", "--remote", "origin"]);
    let two = clone(&remote);
    two.json(&["sync", "--remote", "origin"]);
    // A hand edit on the first laptop names a milestone nobody defined.
    let file = ledger_dir(&one).join("tasks").join(format!("{id}.toml"));
    std::fs::write(&file, std::fs::read_to_string(&file).unwrap().replace("milestone = \"M1\"", "milestone = \"M9\""))
        .unwrap();
    one.json(&["sync"]);
    two.add(&["Other work"]);
    let reply = two.json(&["sync"]);
    assert!(reply["warnings"].to_string().contains("M9 is not a milestone"), "{reply}");
    assert_eq!(status(&two, &id), "blocked", "it stays blocked where it arrived");
}
