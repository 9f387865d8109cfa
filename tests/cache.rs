//! The cache is disposable: deleting, corrupting or outdating it never changes an answer.

use crate::common::Repo;

fn answers(repo: &Repo) -> (serde_json::Value, serde_json::Value) {
    (repo.json(&["task", "list", "-n", "500"]), repo.json(&["task", "status"]))
}

fn busy_ledger() -> (Repo, Vec<String>) {
    let repo = Repo::new();
    let mut ids: Vec<String> = Vec::new();
    for i in 0..20 {
        let mut args = vec![format!("Task {i}"), "-p".into(), (i % 11).to_string()];
        if i % 3 == 2 {
            args.push("--after".into());
            args.push(ids[i - 1].clone());
        }
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        ids.push(repo.add(&refs));
    }
    for _ in 0..5 {
        let claim = repo.json(&["task", "claim"]);
        let id = claim["task"]["id"].as_str().unwrap().to_string();
        repo.ok(&["task", "complete", &id]);
    }
    (repo, ids)
}

#[test]
fn deleting_the_cache_changes_no_answer() {
    let (repo, _) = busy_ledger();
    let with_cache = answers(&repo);
    std::fs::remove_dir_all(repo.path().join(".git/abathur/cache")).unwrap();
    assert_eq!(answers(&repo), with_cache);
    assert!(repo.path().join(".git/abathur/cache/tasks.idx").exists(), "the cache is rebuilt");
    assert_eq!(answers(&repo), with_cache);
}

#[test]
fn a_corrupt_cache_is_ignored_and_rebuilt() {
    let (repo, _) = busy_ledger();
    let expected = answers(&repo);
    let cache = repo.path().join(".git/abathur/cache");
    std::fs::write(cache.join("tasks.idx"), b"garbage").unwrap();
    std::fs::write(cache.join("tasks.log"), vec![0xAB; 1000]).unwrap();
    assert_eq!(answers(&repo), expected);
}

#[test]
fn older_task_files_put_back_by_another_tool_are_seen_at_once() {
    let (repo, ids) = busy_ledger();
    let saved = save_tasks(&repo);
    let committed = answers(&repo);
    // Work moves on...
    let claim = repo.json(&["task", "claim"]);
    let id = claim["task"]["id"].as_str().unwrap().to_string();
    repo.ok(&["task", "complete", &id]);
    let waiting = repo.json(&["task", "list", "--status", "ready"]);
    repo.ok(&["task", "cancel", waiting["tasks"][0]["id"].as_str().unwrap()]);
    let _ = ids;
    assert_ne!(answers(&repo), committed);
    // ...and a tool puts the files back: the answers follow the files, not the cache.
    restore_tasks(&repo, &saved);
    assert_eq!(answers(&repo), committed);
}

#[test]
fn a_file_replaced_by_another_tool_is_seen() {
    let (repo, ids) = busy_ledger();
    let path = repo.tasks_dir().join(format!("{}.toml", ids[0]));
    let text = std::fs::read_to_string(&path).unwrap();
    let before = repo.json(&["task", "get", &ids[0]]);
    // Write-then-rename, as git, sed -i and most editors do.
    let tmp = repo.path().join("edit.tmp");
    let edited = regex_replace_priority(&text, 10);
    std::fs::write(&tmp, edited).unwrap();
    std::fs::rename(&tmp, &path).unwrap();
    let listed = repo.json(&["task", "list", "-n", "500"]);
    let row = listed["tasks"].as_array().unwrap().iter().find(|t| t["id"] == ids[0].as_str()).unwrap().clone();
    assert_eq!(row["base_priority"], 10);
    assert_ne!(row["calculated_priority"], before["calculated_priority"]);
}

#[test]
fn an_in_place_edit_is_seen_by_get_and_by_verify() {
    let (repo, ids) = busy_ledger();
    let path = repo.tasks_dir().join(format!("{}.toml", ids[0]));
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, regex_replace_priority(&text, 10)).unwrap(); // truncate + write, same inode
    assert_eq!(repo.json(&["task", "get", &ids[0]])["base_priority"], 10, "get reads the task's own file");
    let verified = repo.json(&["task", "list", "-n", "500", "--verify"]);
    let row = verified["tasks"].as_array().unwrap().iter().find(|t| t["id"] == ids[0].as_str()).unwrap().clone();
    assert_eq!(row["base_priority"], 10);
    // And once verified, the cache holds the new truth for plain readers too.
    let plain = repo.json(&["task", "list", "-n", "500"]);
    assert_eq!(plain["tasks"], verified["tasks"]);
}

fn regex_replace_priority(text: &str, to: u8) -> String {
    text.lines()
        .map(|l| if l.starts_with("base_priority = ") { format!("base_priority = {to}") } else { l.to_string() })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

#[test]
fn a_long_lived_service_sees_other_processes_and_git() {
    let (repo, _) = busy_ledger();
    let saved = save_tasks(&repo);
    // The service and the listings it is compared with judge priorities (which age) at one instant.
    let now = "2026-01-02T00:00:00Z";
    let ledger = abathur::ledger::Ledger::discover(repo.path()).unwrap();
    let clock = abathur::time::Clock::fixed(abathur::time::Timestamp::parse(now).unwrap());
    let service = abathur::Service::from_ledger(ledger, clock).unwrap();
    let list = |s: &abathur::Service| {
        let req = abathur::queue::api::ListRequest { limit: Some(500), ..Default::default() };
        serde_json::to_value(s.task_list(req).unwrap()).unwrap()
    };
    let listed = || repo.json_env(&["task", "list", "-n", "500"], "ABATHUR_NOW", now);
    let committed = list(&service);
    assert_eq!(committed, listed());
    // Another process writes: the long-lived service sees it on its next call.
    let id = repo.add(&["Added by another process", "-p", "10"]);
    let after_add = list(&service);
    assert!(after_add["tasks"].as_array().unwrap().iter().any(|t| t["id"] == id.as_str()), "{after_add}");
    assert_eq!(after_add, listed());
    // The service writes itself, and another tool rewrites the folder under it.
    let claimed = service.task_claim(Default::default()).unwrap().task.unwrap().id;
    assert_eq!(repo.json(&["task", "get", &claimed])["status"], "running");
    restore_tasks(&repo, &saved);
    assert_eq!(list(&service), committed);
}

/// Status counts, per-task status and dependents as the full read (`task list`) derives them.
fn full_read_figures(repo: &Repo) -> (std::collections::BTreeMap<String, u64>, Vec<(String, String)>) {
    let listed = repo.json(&["task", "list", "-n", "500"]);
    let mut counts = std::collections::BTreeMap::new();
    let mut statuses = Vec::new();
    for row in listed["tasks"].as_array().unwrap() {
        *counts.entry(row["status"].as_str().unwrap().to_string()).or_insert(0) += 1;
        statuses.push((row["id"].as_str().unwrap().to_string(), row["status"].as_str().unwrap().to_string()));
    }
    (counts, statuses)
}

#[test]
fn finished_tasks_read_from_snapshot_and_journal_agree_with_full_reads() {
    // `task get`, `task status` and `task claim` read tasks finished at snapshot time and tasks
    // journaled since; whatever mix of the two they read, they must say what a full read says.
    let (repo, ids) = busy_ledger();
    // A cancelled task with a cancelled dependent: both finished before the snapshot.
    let with_dependent = ids.iter().find(|id| {
        let got = repo.json(&["task", "get", id]);
        got["status"] == "ready" && !got["dependents"].as_array().unwrap().is_empty()
    });
    let cancelled = repo.json(&["task", "cancel", with_dependent.unwrap()]);
    assert!(cancelled["total_cancelled"].as_u64().unwrap() >= 2, "{cancelled}");
    std::fs::remove_dir_all(repo.path().join(".git/abathur/cache")).unwrap();
    let _ = repo.json(&["task", "list"]); // a fresh snapshot
    for _ in 0..3 {
        let claim = repo.json(&["task", "claim"]);
        repo.ok(&["task", "complete", claim["task"]["id"].as_str().unwrap()]); // journaled, not snapshotted
    }
    let open = ids.iter().rev().find(|id| repo.json(&["task", "get", id])["status"] == "ready").unwrap();
    repo.ok(&["task", "cancel", open]); // and its dependents, all journaled
    let check = |repo: &Repo| {
        let (counts, statuses) = full_read_figures(repo);
        let status = repo.json(&["task", "status"]);
        for (name, n) in &counts {
            assert_eq!(status[name.as_str()].as_u64(), Some(*n), "{name}: {status}");
        }
        assert_eq!(status["total_tasks"].as_u64(), Some(statuses.len() as u64));
        let got: Vec<serde_json::Value> = statuses.iter().map(|(id, _)| repo.json(&["task", "get", id])).collect();
        for ((id, listed), detail) in statuses.iter().zip(&got) {
            assert_eq!(detail["status"].as_str(), Some(listed.as_str()), "{id}");
            let mut dependents: Vec<&str> = got
                .iter()
                .filter(|other| other["prerequisites"].as_array().unwrap().iter().any(|p| p == id.as_str()))
                .map(|other| other["id"].as_str().unwrap())
                .collect();
            dependents.sort_unstable();
            let shown: Vec<&str> =
                detail["dependents"].as_array().unwrap().iter().map(|d| d.as_str().unwrap()).collect();
            assert_eq!(shown, dependents, "dependents of {id}");
        }
    };
    check(&repo);
    // A finished task reopened by hand, in place: `task get` reads the file and shows it waiting.
    let done = ids.iter().find(|id| repo.json(&["task", "get", id])["status"] == "completed").unwrap();
    let path = repo.tasks_dir().join(format!("{done}.toml"));
    let text = std::fs::read_to_string(&path).unwrap().replace("state = \"completed\"", "state = \"pending\"");
    std::fs::write(&path, text).unwrap();
    assert_ne!(repo.json(&["task", "get", done])["status"], "completed");
    repo.ok(&["task", "list", "--verify"]);
    check(&repo);
}

/// Every task file's name and bytes, to put back later as `git checkout` or `rsync` would.
fn save_tasks(repo: &Repo) -> Vec<(String, Vec<u8>)> {
    repo.snapshot_files()
}

/// Replaces the tasks folder's files with `saved`: new files removed, old content back.
fn restore_tasks(repo: &Repo, saved: &[(String, Vec<u8>)]) {
    for entry in std::fs::read_dir(repo.tasks_dir()).unwrap() {
        let entry = entry.unwrap();
        if !saved.iter().any(|(name, _)| entry.file_name().to_str() == Some(name.as_str())) {
            std::fs::remove_file(entry.path()).unwrap();
        }
    }
    for (name, bytes) in saved {
        let path = repo.tasks_dir().join(name);
        let tmp = repo.tasks_dir().join(format!(".{name}.restore"));
        std::fs::write(&tmp, bytes).unwrap();
        std::fs::rename(&tmp, &path).unwrap();
    }
}
