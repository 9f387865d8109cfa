//! Gates that cannot be bypassed, forged or half-made: each attack on a gate decision, tried the way
//! an attacker or a careless user would, with real keys, real git and real SIGKILLs.

use std::process::{Command, Stdio};

use crate::common::{Repo, describe, s};
use crate::gate::{add_ssh_key, signed_repo};

fn ledger(repo: &Repo) -> std::path::PathBuf {
    repo.path().join(".git/abathur")
}

/// The status of a task and why it is blocked, if it is.
fn gate_of(repo: &Repo, task: &str) -> (String, String) {
    let got = repo.json(&["task", "get", task]);
    (got["status"].as_str().unwrap().to_string(), got["blocked_by"].to_string())
}

fn gate_files(repo: &Repo) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(ledger(repo).join("gates"))
        .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn unsigned_hand_written_and_altered_decisions_open_nothing() {
    let repo = signed_repo();
    let m2 = repo.add(&["Memory tables", "-m", "M2"]);

    // An unsigned decision is pending a signature, in the task's reason and in `gate status`.
    let unsigned = repo.json(&["gate", "approve", "M1", "-r", "sign later", "--unsigned"]);
    assert_eq!(unsigned["next_milestone_opens"], false, "{unsigned}");
    let (status, why) = gate_of(&repo, &m2);
    assert_eq!(status, "blocked");
    assert!(why.contains("pending a signature"), "{why}");
    let gates = repo.json(&["gate", "status"]);
    assert!(gates["gates"][0]["verification"].as_str().unwrap().contains("pending a signature"), "{gates}");
    assert_eq!(repo.json(&["task", "claim"])["claimed"], false);

    // The same record edited to say it is signed: altered, so it still opens nothing.
    let record_path = repo.path().join(s(&unsigned, "report")).with_extension("toml");
    let record = std::fs::read_to_string(&record_path).unwrap();
    std::fs::write(&record_path, record.replace("signed = false", "signed = true")).unwrap();
    let (status, why) = gate_of(&repo, &m2);
    assert_eq!(status, "blocked");
    assert!(why.contains("altered after it was signed"), "{why}");
    std::fs::write(&record_path, &record).unwrap();

    // A hand-written approval under a fresh id, signed = true, with no tag: opens nothing.
    let id = s(&unsigned, "decision_id");
    let forged_id = format!("{}zzzz", &id[..22]);
    let forged = record.replace(id, &forged_id).replace("signed = false", "signed = true");
    std::fs::write(ledger(&repo).join(format!("gates/{forged_id}.toml")), &forged).unwrap();
    std::fs::write(ledger(&repo).join(format!("gates/{forged_id}.md")), "# approved, trust me\n").unwrap();
    let (status, why) = gate_of(&repo, &m2);
    assert_eq!(status, "blocked");
    assert!(why.contains("is missing"), "{why}");

    // ... nor with an unsigned annotated tag of that name on the ledger's tip.
    repo.git(&["tag", "-a", "-m", "Gate M1: approve", &format!("abathur/gate/M1/{forged_id}"), "abathur-ledger"]);
    let (status, why) = gate_of(&repo, &m2);
    assert_eq!(status, "blocked");
    assert!(why.contains("not in the signed commit"), "{why}");
    let check = repo.run(&["--json", "check"]);
    assert_eq!(check.status.code(), Some(1), "check reports the forgery: {}", describe(&check));
    assert!(String::from_utf8_lossy(&check.stdout).contains("says it is signed but does not verify"));
    std::fs::remove_file(ledger(&repo).join(format!("gates/{forged_id}.toml"))).unwrap();
    std::fs::remove_file(ledger(&repo).join(format!("gates/{forged_id}.md"))).unwrap();
    repo.git(&["tag", "-d", &format!("abathur/gate/M1/{forged_id}")]);

    // Solo use: the ledger may allow unsigned decisions, and then says so.
    repo.allow_unsigned();
    assert_eq!(gate_of(&repo, &m2).0, "ready");
    let gates = repo.json(&["gate", "status"]);
    assert!(gates["gates"][0]["verification"].as_str().unwrap().starts_with("unsigned"), "{gates}");
    assert_eq!(repo.run(&["gate", "verify"]).status.code(), Some(1), "gate verify still refuses unsigned decisions");
}

#[test]
fn the_policy_comes_from_signed_history_never_from_the_folder() {
    let repo = signed_repo();
    let m2 = repo.add(&["Memory tables", "-m", "M2"]);
    let lead_key = repo.git(&["config", "user.signingkey"]).trim().to_string();
    let policy = ledger(&repo).join("allowed_signers");
    let verify = repo.run(&["--json", "gate", "verify"]);
    let report: serde_json::Value = serde_json::from_slice(&verify.stdout).unwrap();
    assert!(report["policy"].as_str().unwrap().contains("trusted on first use"), "{report}");

    // An intruder lists their own key in the folder and approves: nothing opens.
    let (intruder, public) = add_ssh_key(&repo, "intruder_key");
    let mut text = std::fs::read_to_string(&policy).unwrap();
    text.push_str(&format!("intruder@example.com namespaces=\"git\" {public}"));
    std::fs::write(&policy, &text).unwrap();
    repo.git(&["config", "user.email", "intruder@example.com"]);
    repo.git(&["config", "user.signingkey", intruder.to_str().unwrap()]);
    repo.ok(&["gate", "approve", "M1", "-r", "looks fine to me"]);
    let (status, why) = gate_of(&repo, &m2);
    assert_eq!(status, "blocked", "{why}");
    assert!(why.contains("rejected by the policy in force"), "{why}");
    let out = repo.run(&["--json", "gate", "verify"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("differs from the policy in force"), "{}", describe(&out));

    // Committing it unsigned, or signed with the intruder's own key, does not make it count.
    repo.ok(&["ledger", "commit", "-m", "add me"]);
    std::fs::write(&policy, format!("{text}\n")).unwrap();
    repo.ok(&["ledger", "commit", "--sign", "-m", "add me, signed by me"]);
    repo.ok(&["gate", "approve", "M1", "-r", "looks fine to me, again"]);
    let (status, why) = gate_of(&repo, &m2);
    assert_eq!(status, "blocked", "{why}");
    let out = repo.run(&["--json", "gate", "verify"]);
    let text_out = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(text_out.matches("does not count").count() >= 2, "{text_out}");

    // The lead signs a change that allows the intruder: only decisions made after it count.
    repo.git(&["config", "user.email", "lead@example.com"]);
    repo.git(&["config", "user.signingkey", &lead_key]);
    std::fs::write(&policy, format!("{text}\n\n")).unwrap();
    repo.ok(&["ledger", "commit", "--sign", "-m", "The intruder may decide after all"]);
    assert_eq!(gate_of(&repo, &m2).0, "blocked", "the intruder's earlier decision stays unverified");
    repo.git(&["config", "user.email", "intruder@example.com"]);
    repo.git(&["config", "user.signingkey", intruder.to_str().unwrap()]);
    repo.ok(&["gate", "approve", "M1", "-r", "now allowed"]);
    assert_eq!(gate_of(&repo, &m2).0, "ready");
}

#[test]
fn decided_by_must_name_the_key_that_signed() {
    let repo = signed_repo();
    let m2 = repo.add(&["Memory tables", "-m", "M2"]);
    repo.git(&["config", "user.email", "someone-else@example.com"]);
    repo.ok(&["gate", "approve", "M1", "-r", "signed with the lead's key"]);
    let (status, why) = gate_of(&repo, &m2);
    assert_eq!(status, "blocked");
    assert!(why.contains("decided_by Lead <someone-else@example.com> is not lead@example.com"), "{why}");
}

/// Runs git in the repository with its own configuration (signing included).
fn git_with(repo: &Repo, args: &[&str], env: &[(&str, &str)]) -> String {
    let mut cmd = Command::new("git");
    cmd.args(args).current_dir(repo.path());
    crate::common::hermetic(&mut cmd, repo.path());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "git {args:?}: {}", describe(&out));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn a_re_pointed_tag_or_a_decision_commit_that_changes_a_task_opens_nothing() {
    let repo = signed_repo();
    let m1 = repo.add(&["Core schema", "-m", "M1"]);
    let m2 = repo.add(&["Memory tables", "-m", "M2"]);
    let reply = repo.json(&["gate", "approve", "M1", "-r", "ok"]);
    assert_eq!(gate_of(&repo, &m2).0, "ready");
    let tag = s(&reply, "tag").to_string();
    let decision = s(&reply, "commit").to_string();

    // A signed commit holding the decision's files and, sneaked in, a task completed by hand.
    let index = repo.path().join("forged.index");
    let env = [("GIT_INDEX_FILE", index.to_str().unwrap())];
    git_with(&repo, &["read-tree", &decision], &env);
    let sharded = format!("tasks/{}/{}/{m1}.toml", &m1[25..], &m1[24..25]);
    let task = git_with(&repo, &["show", &format!("{decision}:{sharded}")], &[]);
    let blob_file = repo.path().join("forged.toml");
    std::fs::write(&blob_file, task.replace("state = \"pending\"", "state = \"completed\"")).unwrap();
    let blob = git_with(&repo, &["hash-object", "-w", blob_file.to_str().unwrap()], &[]);
    git_with(&repo, &["update-index", "--cacheinfo", &format!("100644,{blob},{sharded}")], &env);
    let tree = git_with(&repo, &["write-tree"], &env);
    let forged =
        git_with(&repo, &["commit-tree", "-S", &tree, "-p", &format!("{decision}^"), "-m", "Gate M1: approve"], &[]);
    git_with(&repo, &["tag", "-f", "-s", "-m", "Gate M1: approve", &tag, &forged], &[]);
    let (status, why) = gate_of(&repo, &m2);
    assert_eq!(status, "blocked", "{why}");
    assert!(why.contains(&format!("also changes tasks/{m1}.toml")), "{why}");

    // The tag re-pointed, signed, at a commit that does not hold the decision.
    git_with(&repo, &["tag", "-f", "-s", "-m", "Gate M1: approve", &tag, &format!("{decision}^")], &[]);
    let (status, why) = gate_of(&repo, &m2);
    assert_eq!(status, "blocked", "{why}");
    assert!(why.contains("not in the signed commit"), "{why}");
    assert_eq!(repo.run(&["gate", "verify"]).status.code(), Some(1));

    // An unsigned annotated tag under the same name, on the right commit.
    git_with(&repo, &["tag", "-f", "-a", "-m", "Gate M1: approve", &tag, &decision], &[]);
    let (status, why) = gate_of(&repo, &m2);
    assert_eq!(status, "blocked", "{why}");
    assert!(why.contains("verify-tag: not signed"), "{why}");

    // Put back, it counts again (the verdict depends on nothing else).
    git_with(&repo, &["tag", "-f", "-s", "-m", "Gate M1: approve", &tag, &decision], &[]);
    assert_eq!(gate_of(&repo, &m2).0, "ready");
}

#[test]
fn removing_the_latest_decision_and_its_tag_is_detected_and_reopens_nothing() {
    let repo = signed_repo();
    repo.ok(&["gate", "approve", "M1", "-r", "ok"]);
    let latest = repo.json(&["gate", "revise", "M1", "-r", "not so fast", "--issue", "high: gaps"]);
    let m2 = repo.add(&["Memory tables", "-m", "M2"]);
    assert_eq!(gate_of(&repo, &m2).0, "blocked");
    assert_eq!(repo.json(&["gate", "verify", "--all"])["ok"], true);
    // Cut the chain: the revise and its tag vanish, so the approve is the latest again.
    let id = s(&latest, "decision_id");
    for ext in ["md", "toml"] {
        std::fs::remove_file(ledger(&repo).join(format!("gates/{id}.{ext}"))).unwrap();
    }
    repo.ok(&["ledger", "commit", "-m", "nothing to see"]);
    repo.git(&["tag", "-d", s(&latest, "tag")]);
    let out = repo.run(&["--json", "gate", "verify", "--all"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("decision {id}")), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("was removed from the ledger"), "{}", describe(&out));
    // Its revision task is left behind, claimable: check names it as an orphan.
    let check = repo.run(&["--json", "check"]);
    assert_eq!(check.status.code(), Some(1), "{}", describe(&check));
    let text = String::from_utf8_lossy(&check.stdout);
    assert!(text.contains(&format!("made by gate decision {id}, which is not in the ledger")), "{text}");
}

/// A signed repository with a bare remote, and a second clone of it signing with the same key.
fn two_clones() -> (tempfile::TempDir, Repo, Repo) {
    let remote = tempfile::tempdir().unwrap();
    let bare = remote.path().join("project.git");
    assert!(Command::new("git").args(["init", "-q", "--bare"]).arg(&bare).status().unwrap().success());
    let one = signed_repo();
    one.git(&["remote", "add", "origin", bare.to_str().unwrap()]);
    one.git(&["push", "-q", "origin", "main"]);
    one.json(&["sync", "--remote", "origin"]);
    let two = Repo::empty();
    two.git(&["clone", "-q", bare.to_str().unwrap(), "."]);
    two.json(&["sync", "--remote", "origin"]);
    for key in ["user.name", "user.email", "gpg.format", "user.signingkey"] {
        let value = one.git(&["config", key]);
        two.git(&["config", key, value.trim()]);
    }
    (remote, one, two)
}

#[test]
fn a_decision_made_on_one_clone_counts_on_the_other_and_in_a_linked_worktree() {
    let (_remote, one, two) = two_clones();
    let m2 = one.add(&["Memory tables", "-m", "M2"]);
    one.ok(&["gate", "approve", "M1", "-r", "approved on one"]);
    one.json(&["sync"]);
    two.json(&["sync"]);
    // The tag and the policy travel with the ledger: the other clone verifies it for itself.
    assert_eq!(gate_of(&two, &m2).0, "ready", "{:?}", gate_of(&two, &m2));
    assert_eq!(two.json(&["gate", "verify", "--all"])["ok"], true);
    let worktree = two.path().join("wt");
    two.git(&["worktree", "add", "-q", "--detach", worktree.to_str().unwrap(), "origin/main"]);
    let mut cmd = Command::new(crate::common::bin());
    cmd.args(["--json", "task", "get", &m2]).current_dir(&worktree);
    crate::common::hermetic(&mut cmd, two.path());
    let out = cmd.output().unwrap();
    let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(got["status"], "ready", "the worktree sees the same verified gate: {}", describe(&out));
}

#[test]
fn two_machines_deciding_one_gate_cannot_both_stand() {
    let (_remote, one, two) = two_clones();
    one.ok(&["gate", "approve", "M1", "-r", "approved on one"]);
    two.ok(&["gate", "revise", "M1", "-r", "revised on two", "--issue", "high: gaps"]);
    one.json(&["sync"]);
    let before = two.git(&["rev-parse", "abathur-ledger"]);
    let out = two.run(&["--json", "sync"]);
    assert_eq!(out.status.code(), Some(3), "the second decision on the gate is refused: {}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("forks"), "{}", describe(&out));
    assert_eq!(two.git(&["rev-parse", "abathur-ledger"]), before, "nothing merged");
    assert_eq!(two.json(&["gate", "status"])["gates"][0]["state"], "revise", "its own ledger is as it was");
}

/// A signing program that signs the first payload (the commit) and fails on the second (the tag).
fn failing_on_the_tag(repo: &Repo) -> std::path::PathBuf {
    let script = repo.path().join("sign-once.sh");
    let count = repo.path().join("sign-count");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nn=$(cat {c} 2>/dev/null || echo 0); echo $((n + 1)) > {c}\n[ \"$n\" -ge 1 ] && {{ echo 'the token was pulled' >&2; exit 1; }}\nexec ssh-keygen \"$@\"\n",
            c = count.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    script
}

#[test]
fn a_signer_failing_on_the_tag_leaves_nothing_behind() {
    let repo = signed_repo();
    let m2 = repo.add(&["Memory tables", "-m", "M2"]);
    let script = failing_on_the_tag(&repo);
    repo.git(&["config", "gpg.ssh.program", script.to_str().unwrap()]);
    let head = repo.git(&["rev-parse", "abathur-ledger"]);
    let files = repo.snapshot_files();
    let err = repo.fails(&["gate", "conditional", "M1", "-r", "minor gaps", "--issue", "low: docs"], 1);
    assert!(err.contains("the token was pulled"), "{err}");
    assert_eq!(repo.git(&["rev-parse", "abathur-ledger"]), head, "no commit on the ledger branch");
    assert_eq!(repo.git(&["tag", "-l", "abathur/*"]), "", "no tag");
    assert_eq!(repo.snapshot_files(), files, "no file: no record, report or follow-up task");
    assert_eq!(gate_of(&repo, &m2).0, "blocked");
    repo.ok(&["check"]);
}

#[test]
fn a_decision_killed_at_any_instant_is_all_or_nothing() {
    let repo = signed_repo();
    for i in 0..5 {
        repo.add(&[&format!("M1 work {i}"), "-m", "M1"]);
    }
    let rounds: u64 = std::env::var("ABATHUR_KILL_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(200);
    // Deterministic, so a failing round can be replayed.
    let mut next = abathur::queue::synthetic::xorshift(0x5eed);
    let mut below = move |n: u64| next() % n;
    let mut escalated = false;
    let (mut killed, mut finished, mut interrupted) = (0, 0, 0);
    for round in 0..rounds {
        let args: Vec<&str> = if escalated {
            vec!["gate", "resolve", "M1", "-r", "a human resolved it"]
        } else {
            match below(4) {
                0 => vec!["gate", "approve", "M1", "-r", "ok"],
                1 => vec!["gate", "conditional", "M1", "-r", "minor", "--issue", "low: a", "--issue", "medium: b"],
                2 => vec!["gate", "revise", "M1", "-r", "gaps", "--issue", "high: c"],
                _ => vec!["gate", "escalate", "M1", "-r", "fundamental"],
            }
        };
        let mut child = repo.cmd(&args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(below(90)));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
            killed += 1;
        } else {
            finished += 1;
        }
        child.wait().unwrap();
        if ledger(&repo).join("cache/applying.toml").exists() {
            interrupted += 1;
        }
        // The next writer finishes whatever was left applying; then everything is whole or absent.
        repo.ok(&["ledger", "commit"]);
        assert_whole(&repo, round);
        escalated = repo.json(&["gate", "status"])["paused"].is_string();
    }
    eprintln!("{rounds} rounds: {killed} killed ({interrupted} while applying), {finished} finished first");
    let verify = repo.run(&["--json", "gate", "verify", "--all"]);
    assert!(verify.status.success(), "{}", describe(&verify));
    repo.ok(&["check"]);
    assert!(killed >= rounds / 4, "most rounds must be killed to mean anything: {killed} of {rounds}");
}

/// Every decision in the ledger has its record, report, tag, commit and follow-up tasks; every task
/// a decision made belongs to a decision that exists; nothing is left uncommitted.
fn assert_whole(repo: &Repo, round: u64) {
    let dir = ledger(repo);
    let files = gate_files(repo);
    let tags = repo.git(&["tag", "-l", "abathur/gate/*"]);
    let committed = repo.git(&["ls-tree", "-r", "--name-only", "abathur-ledger", "gates/"]);
    let mut ids = Vec::new();
    for name in files.iter().filter(|n| n.ends_with(".toml")) {
        let id = name.trim_end_matches(".toml");
        ids.push(id.to_string());
        assert!(files.contains(&format!("{id}.md")), "round {round}: {id} has no report");
        assert!(tags.contains(id), "round {round}: {id} has no tag");
        assert!(committed.contains(name), "round {round}: {id} is not committed");
        let record = std::fs::read_to_string(dir.join("gates").join(name)).unwrap();
        let record: toml::Value = toml::from_str(&record).unwrap();
        for task in record.get("follow_up_task_ids").and_then(|v| v.as_array()).into_iter().flatten() {
            let task = task.as_str().unwrap();
            assert!(dir.join(format!("tasks/{task}.toml")).exists(), "round {round}: {task} of {id} is missing");
        }
    }
    assert_eq!(tags.lines().count(), ids.len(), "round {round}: a tag without a record: {tags}");
    for entry in std::fs::read_dir(dir.join("tasks")).unwrap().flatten() {
        let text = std::fs::read_to_string(entry.path()).unwrap();
        if let Some(at) = text.find("gate_decision") {
            let rest = &text[at..];
            let gate = rest.split(|c: char| !c.is_ascii_alphanumeric()).find(|w| w.len() == 26).unwrap();
            assert!(ids.iter().any(|i| i == gate), "round {round}: {:?} is an orphan of {gate}", entry.path());
        }
    }
    let status = repo.json(&["ledger", "status"]);
    assert_eq!(status["uncommitted"], serde_json::json!([]), "round {round}: {status}");
}

#[test]
fn claims_racing_a_revise_or_a_failing_signature_never_take_a_task_it_shuts() {
    for failing in [false, true] {
        let repo = signed_repo();
        for i in 0..100 {
            repo.add(&[&format!("M2 work {i}"), "-m", "M2"]);
        }
        if failing {
            let script = failing_on_the_tag(&repo);
            repo.git(&["config", "gpg.ssh.program", script.to_str().unwrap()]);
        } else {
            repo.ok(&["gate", "approve", "M1", "-r", "ok"]);
        }
        let (claimers, first_claim) = crate::gate::claimers(&repo, 8, 13);
        first_claim.recv().unwrap();
        let running = || repo.json(&["task", "list", "-m", "M2", "-s", "running"])["tasks"].as_array().unwrap().len();
        if failing {
            repo.fails(&["gate", "approve", "M1", "-r", "ok"], 1);
        } else {
            repo.ok(&["gate", "revise", "M1", "-r", "not so fast", "--issue", "high: gaps"]);
        }
        let at_decision = running();
        for c in claimers {
            c.join().unwrap();
        }
        assert_eq!(running(), at_decision, "no claim of M2 work once the decision shut it (failing: {failing})");
        if failing {
            assert_eq!(at_decision, 0, "M2 never opened");
        }
    }
}
