//! The claim hint (`src/queue/hint.rs`): a claim that reuses the last full claim's ranking answers
//! exactly what a full claim would, and any change that could move the ranking sends it the full way.

use std::path::Path;
use std::process::Stdio;

use serde_json::Value;

use crate::common::{Repo, describe};

const ADDED: &str = "2026-06-01T10:00:00Z";
const CLAIMED: &str = "2026-06-01T11:00:00Z";

/// Claims in `dir` at `now` with the cache's debug notes on; the reply and whether the hint served it.
fn claim_in(repo: &Repo, dir: &Path, now: &str, extra: &[&str]) -> (Value, bool) {
    let mut args = vec!["--json", "task", "claim"];
    args.extend_from_slice(extra);
    let mut cmd = repo.cmd(&args);
    cmd.current_dir(dir).env("ABATHUR_NOW", now).env("ABATHUR_DEBUG_CACHE", "1").stdin(Stdio::null());
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    let through_hint = String::from_utf8_lossy(&out.stderr).contains("claim hint used");
    (serde_json::from_slice(&out.stdout).expect("JSON reply"), through_hint)
}

/// Brings the cache up to date: a claim leaves a hint only when its view came from the cache.
fn warm(repo: &Repo) {
    repo.ok(&["task", "status"]);
}

fn claim(repo: &Repo, now: &str) -> (Value, bool) {
    claim_in(repo, repo.path(), now, &[])
}

fn add(repo: &Repo, args: &[&str]) -> String {
    let mut all = vec!["--json", "task", "add"];
    all.extend_from_slice(args);
    let out = repo.cmd(&all).env("ABATHUR_NOW", ADDED).stdin(Stdio::null()).output().unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    let reply: Value = serde_json::from_slice(&out.stdout).unwrap();
    reply["task_id"].as_str().unwrap().to_string()
}

/// The claim's reply without the lease ids, which every claim draws afresh.
fn without_lease_ids(mut reply: Value) -> Value {
    reply.as_object_mut().unwrap().remove("lease_id");
    if let Some(lease) = reply.pointer_mut("/task/lease").and_then(Value::as_object_mut) {
        lease.remove("lease_id");
    }
    reply
}

fn claimed_id(reply: &Value) -> &str {
    reply["task"]["id"].as_str().unwrap_or("(nothing claimed)")
}

fn copy_tree(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn hint_file(dir: &Path) -> std::path::PathBuf {
    dir.join(".git/abathur/cache/claims.hint")
}

#[test]
fn a_claim_through_the_hint_answers_exactly_as_a_full_claim() {
    let repo = Repo::new();
    // Priorities that differ by base, source, deadline, downstream work and agent type.
    add(&repo, &["Refactor the parser", "-p", "5", "-t", "implementer"]);
    add(&repo, &["Ship the release", "-p", "8", "-t", "implementer", "--deadline", "2026-06-02T10:00:00Z"]);
    let reviewed = add(&repo, &["Review the design", "-p", "3", "-t", "reviewer"]);
    add(&repo, &["Act on the review", "-p", "6", "--after", &reviewed]);
    let base = add(&repo, &["Lay the foundation", "-p", "4", "-t", "implementer"]);
    add(&repo, &["Build on it", "-p", "4", "--after", &base]);
    add(&repo, &["Fix what the user reported", "-p", "2", "--source", "human", "-t", "reviewer"]);
    add(&repo, &["Tidy up", "-p", "1", "-t", "implementer"]);
    warm(&repo);
    let (first, via_hint) = claim(&repo, CLAIMED);
    assert!(!via_hint, "no hint exists before the first claim");
    assert!(hint_file(repo.path()).is_file(), "a full claim leaves its ranking");

    // A twin of the ledger that always claims the full way.
    let twin = tempfile::tempdir().unwrap();
    copy_tree(repo.path(), twin.path());
    let mut claimed = vec![claimed_id(&first).to_string()];
    for extra in [&[][..], &["-t", "reviewer"], &[], &["-t", "implementer"], &["-t", "nobody"], &[]] {
        let (hinted, via_hint) = claim_in(&repo, repo.path(), CLAIMED, extra);
        std::fs::remove_file(hint_file(twin.path())).ok();
        let (full, full_via_hint) = claim_in(&repo, twin.path(), CLAIMED, extra);
        assert!(!full_via_hint);
        assert_eq!(via_hint, hinted["claimed"] == true, "{extra:?}: the hint serves every claim it can");
        assert_eq!(without_lease_ids(hinted.clone()), without_lease_ids(full), "{extra:?}");
        claimed.push(claimed_id(&hinted).to_string());
    }
    // Nothing twice, and nothing for an agent type nobody has.
    let mut real: Vec<&String> = claimed.iter().filter(|c| !c.starts_with('(')).collect();
    assert!(real.len() >= 5, "{claimed:?}");
    real.sort();
    real.dedup();
    assert_eq!(real.len(), claimed.iter().filter(|c| !c.starts_with('(')).count(), "{claimed:?}");
}

#[test]
fn a_completion_sends_the_next_claim_the_full_way() {
    let repo = Repo::new();
    let first = add(&repo, &["Groundwork", "-p", "6"]);
    add(&repo, &["Something minor", "-p", "2"]);
    let urgent = add(&repo, &["Urgent follow-up", "-p", "10", "--after", &first]);
    warm(&repo);
    let (reply, _) = claim(&repo, CLAIMED);
    assert_eq!(claimed_id(&reply), first);
    let out = repo.cmd(&["task", "complete", &first]).env("ABATHUR_NOW", CLAIMED).output().unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    // The hint knows only "Something minor" as ready; the completion made the urgent task ready.
    let (reply, via_hint) = claim(&repo, CLAIMED);
    assert!(!via_hint);
    assert_eq!(claimed_id(&reply), urgent);
}

#[test]
fn a_lapsed_lease_sends_the_next_claim_the_full_way() {
    let repo = Repo::new();
    let best = add(&repo, &["Best", "-p", "9"]);
    let second = add(&repo, &["Second", "-p", "5"]);
    add(&repo, &["Last", "-p", "1"]);
    warm(&repo);
    let (reply, _) = claim_in(&repo, repo.path(), CLAIMED, &["--lease", "60s"]);
    assert_eq!(claimed_id(&reply), best);
    let (reply, via_hint) = claim_in(&repo, repo.path(), CLAIMED, &["--lease", "60s"]);
    assert!(via_hint, "only a claim happened since: the hint holds");
    assert_eq!(claimed_id(&reply), second);
    // Two minutes on, both leases have lapsed: the best task is claimable again, not "Last".
    let (reply, via_hint) = claim(&repo, "2026-06-01T11:02:00Z");
    assert!(!via_hint);
    assert_eq!(claimed_id(&reply), best);
}

#[test]
fn a_damaged_hint_is_ignored_and_replaced() {
    let repo = Repo::new();
    let best = add(&repo, &["Best", "-p", "9"]);
    let second = add(&repo, &["Second", "-p", "5"]);
    warm(&repo);
    claim(&repo, CLAIMED);
    let hint = hint_file(repo.path());
    let mut bytes = std::fs::read(&hint).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&hint, &bytes).unwrap();
    let (reply, via_hint) = claim(&repo, CLAIMED);
    assert!(!via_hint);
    assert_eq!(claimed_id(&reply), second, "the first claim took {best}");
    let fresh = std::fs::read(&hint).unwrap();
    assert_ne!(fresh, bytes, "the full claim wrote a fresh hint");
    // Torn, empty, or of another format: each is ignored the same way.
    let third = add(&repo, &["Third", "-p", "1"]);
    for damaged in [&fresh[..fresh.len() / 3], &b""[..], &b"ABHINT99 not this format"[..]] {
        std::fs::write(&hint, damaged).unwrap();
        let (reply, via_hint) = claim_in(&repo, repo.path(), CLAIMED, &["-t", "nobody"]);
        assert!(!via_hint && reply["claimed"] == false, "{reply}");
    }
    assert_eq!(claimed_id(&claim(&repo, CLAIMED).0), third);
}

#[test]
fn a_task_file_added_by_hand_sends_the_next_claim_the_full_way() {
    let repo = Repo::new();
    let first = add(&repo, &["Ordinary", "-p", "5"]);
    let template = add(&repo, &["Another", "-p", "4"]);
    add(&repo, &["A third", "-p", "3"]);
    warm(&repo);
    let (reply, _) = claim(&repo, CLAIMED);
    assert_eq!(claimed_id(&reply), first);
    // A copy of a waiting task under a new id, at top priority, as a merge or a hand edit brings it in.
    let text = std::fs::read_to_string(repo.tasks_dir().join(format!("{template}.toml"))).unwrap();
    let last = template.chars().last().unwrap();
    let copy_id = format!("{}{}", &template[..template.len() - 1], if last == 'z' { 'y' } else { 'z' });
    let pending = text.replace(&template, &copy_id).replace("base_priority = 4", "base_priority = 10");
    assert!(pending.contains("base_priority = 10"), "{pending}");
    std::fs::write(repo.tasks_dir().join(format!("{copy_id}.toml")), pending).unwrap();
    let (reply, via_hint) = claim(&repo, CLAIMED);
    assert!(!via_hint, "the tasks folder changed without a journal record");
    assert_eq!(claimed_id(&reply), copy_id);
}

#[test]
fn a_gate_decision_sends_the_next_claim_the_full_way() {
    let repo = Repo::new();
    repo.git(&["config", "user.name", "Lead"]);
    repo.git(&["config", "user.email", "lead@example.com"]);
    repo.git(&["commit", "--allow-empty", "-qm", "init"]);
    repo.ok(&["milestone", "add", "--example", "seed-plan"]);
    let now = add(&repo, &["First milestone work", "-p", "3", "-m", "M1"]);
    add(&repo, &["More of it", "-p", "2", "-m", "M1"]);
    let later = add(&repo, &["Second milestone work", "-p", "10", "-m", "M2"]);
    warm(&repo);
    let (reply, _) = claim(&repo, CLAIMED);
    assert_eq!(claimed_id(&reply), now, "M2 waits for M1's gate");
    repo.ok(&["gate", "approve", "M1", "-r", "Done", "--unsigned"]);
    let (reply, via_hint) = claim(&repo, CLAIMED);
    assert!(!via_hint, "the gate opened M2 without a journal record");
    assert_eq!(claimed_id(&reply), later);
}

#[test]
fn the_end_of_a_retry_backoff_sends_the_next_claim_the_full_way() {
    let repo = Repo::new();
    let flaky = add(&repo, &["Flaky", "-p", "9"]);
    let steady = add(&repo, &["Steady", "-p", "5"]);
    add(&repo, &["Minor", "-p", "1"]);
    warm(&repo);
    assert_eq!(claimed_id(&claim(&repo, CLAIMED).0), flaky);
    let out = repo.cmd(&["task", "fail", &flaky, "-e", "crashed"]).env("ABATHUR_NOW", CLAIMED).output().unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    // Backing off for 10 s: the full claim takes the next task and leaves a hint without "Flaky".
    assert_eq!(claimed_id(&claim(&repo, CLAIMED).0), steady);
    let (reply, via_hint) = claim(&repo, "2026-06-01T11:00:20Z");
    assert!(!via_hint, "the backoff ended after the hint was made");
    assert_eq!(claimed_id(&reply), flaky);
}
