//! Gate decisions with real keys made by the test (ssh-keygen; gpg where installed), checked by real
//! `git verify-commit` and `git verify-tag`; every decision's effect on the ledger; signing failures.

use std::process::Command;

use crate::common::{Repo, describe, s};

/// A repository with the seed's milestones, an identity, an ssh signing key git is configured for,
/// and a committed policy that allows it.
pub(crate) fn signed_repo() -> Repo {
    let repo = signed_repo_without_policy();
    let allowed = std::fs::read_to_string(repo.path().join("allowed_signers")).unwrap();
    commit_policy(&repo, &allowed);
    repo
}

/// Writes the ledger's policy (allowed_signers) and commits it, as a person does.
pub(crate) fn commit_policy(repo: &Repo, text: &str) {
    std::fs::write(repo.path().join(".git/abathur/allowed_signers"), text).unwrap();
    repo.ok(&["ledger", "commit", "-m", "Who may sign gate decisions"]);
}

pub(crate) fn signed_repo_without_policy() -> Repo {
    let repo = keyed_repo();
    repo.ok(&["milestone", "add", "--example", "seed-plan"]);
    repo
}

/// A repository with an identity and an ssh signing key git is configured for, its policy committed,
/// and nothing planned yet.
pub(crate) fn planless_signed_repo() -> Repo {
    let repo = keyed_repo();
    let allowed = std::fs::read_to_string(repo.path().join("allowed_signers")).unwrap();
    commit_policy(&repo, &allowed);
    repo
}

fn keyed_repo() -> Repo {
    let repo = Repo::new();
    repo.git(&["config", "user.name", "Lead"]);
    repo.git(&["config", "user.email", "lead@example.com"]);
    let key = repo.path().join("lead_key");
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "lead", "-f"])
        .arg(&key)
        .status()
        .unwrap();
    assert!(status.success());
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    let allowed = repo.path().join("allowed_signers");
    std::fs::write(&allowed, format!("lead@example.com namespaces=\"git\" {public}")).unwrap();
    repo.git(&["config", "gpg.format", "ssh"]);
    repo.git(&["config", "user.signingkey", key.to_str().unwrap()]);
    repo.git(&["config", "gpg.ssh.allowedSignersFile", allowed.to_str().unwrap()]);
    std::fs::write(repo.path().join(".gitignore"), "lead_key*\nallowed_signers\n").unwrap();
    repo.git(&["add", "-A"]);
    repo.git(&["commit", "-qm", "init"]);
    repo
}

fn verify(repo: &Repo, what: &str, name: &str) -> bool {
    let mut cmd = Command::new("git");
    cmd.args([what, name]).current_dir(repo.path());
    crate::common::hermetic(&mut cmd, repo.path());
    cmd.output().unwrap().status.success()
}

#[test]
fn approve_is_a_signed_commit_and_tag_that_git_verifies_and_opens_the_next_milestone() {
    let repo = signed_repo();
    let m2 = repo.add(&["Memory tables", "-m", "M2"]);
    assert_eq!(repo.json(&["task", "get", &m2])["status"], "blocked");
    assert!(
        repo.json(&["task", "get", &m2])["blocked_by"][0]["message"].as_str().unwrap().contains("gate M1 is undecided")
    );
    let shut = repo.json(&["task", "claim"]);
    assert_eq!(shut["claimed"], false, "M2 work is not claimable before gate M1");
    assert!(shut["message"].as_str().unwrap().contains("gate M1 is undecided"), "the closed gate is named: {shut}");

    let reply = repo.json(&[
        "gate",
        "approve",
        "M1",
        "--rationale",
        "All criteria met",
        "--next-context",
        "Start with sessions",
    ]);
    assert_eq!(reply["signed"], true);
    assert!(verify(&repo, "verify-commit", s(&reply, "commit")), "git verify-commit accepts the decision commit");
    assert!(verify(&repo, "verify-tag", s(&reply, "tag")), "git verify-tag accepts the decision tag");
    let log = repo.git(&["log", "-1", "--format=%G?%n%B", "abathur-ledger"]);
    assert!(log.starts_with("G\n"), "{log}");
    for trailer in ["Abathur-Decision: approve", "Abathur-Milestone: M1", "Abathur-Gate: "] {
        assert!(log.contains(trailer), "{log}");
    }
    let files = repo.git(&["show", "--name-only", "--format=", "abathur-ledger"]);
    assert!(files.contains(".toml") && files.contains(".md"), "report and record in one commit: {files}");
    let report = std::fs::read_to_string(repo.path().join(s(&reply, "report"))).unwrap();
    for section in [
        "# Milestone M1 Validation Report",
        "**Decision:** APPROVE",
        "## Acceptance Criteria Review",
        "## Quality Metrics",
        "## Issues Identified",
        "## Recommendations",
        "## Next Milestone Context",
        "Start with sessions",
    ] {
        assert!(report.contains(section), "report lacks {section}");
    }
    assert_eq!(repo.json(&["task", "get", &m2])["status"], "ready");
    let claim = repo.json(&["task", "claim"]);
    assert_eq!(claim["task"]["id"], m2.as_str());
    assert_eq!(claim["milestone_context"], "Start with sessions", "the context is handed over: {claim}");
    assert_eq!(repo.json(&["gate", "status"])["gates"][0]["state"], "approve");
    assert_eq!(repo.json(&["milestone", "show", "M1"])["gate"], "approve");
}

#[test]
fn conditional_revise_and_escalate_change_the_ledger_as_the_seed_says() {
    let repo = signed_repo();
    repo.add(&["Schema", "-m", "M1", "-t", "database-schema-implementer"]);
    repo.add(&["Indexes", "-m", "M1", "-t", "database-schema-implementer"]);
    repo.add(&["Docs", "-m", "M1", "-t", "technical-writer"]);
    let m2 = repo.add(&["M2 work", "-m", "M2"]);
    let m3 = repo.add(&["M3 work", "-m", "M3"]);
    // Gates are decided in order.
    let err = repo.fails(&["gate", "approve", "M2", "-r", "too early"], 3);
    assert!(err.contains("decide M1 first"), "{err}");
    let err = repo.fails(&["gate", "conditional", "M1", "-r", "no issues named"], 1);
    assert!(err.contains("lists its issues"), "{err}");

    // conditional: the next milestone opens, each issue becomes a follow-up task.
    let cond = repo.json(&[
        "gate",
        "conditional",
        "M1",
        "-r",
        "Minor gaps",
        "--issue",
        "high: coverage is 88%",
        "--issue",
        "docs missing",
    ]);
    let follow = cond["follow_up_task_ids"].as_array().unwrap();
    assert_eq!(follow.len(), 2);
    let first = repo.json(&["task", "get", follow[0].as_str().unwrap()]);
    assert_eq!(first["agent_type"], "database-schema-implementer", "the type of the milestone's own work: {first}");
    assert_eq!(first["milestone"], "M1");
    assert_eq!(first["base_priority"], 8, "a high issue gets a high priority");
    assert!(first["summary"].as_str().unwrap().contains("(high): coverage is 88%"));
    assert_eq!(first["input_data"]["gate_decision"], cond["decision_id"]);
    assert_eq!(repo.json(&["task", "get", &m2])["status"], "ready");
    assert_eq!(repo.json(&["task", "get", &m3])["status"], "blocked");

    // revise: revision tasks in M2; M3 stays shut. An agent deciding names itself and the type.
    let revise = repo.json(&[
        "gate",
        "revise",
        "M2",
        "-r",
        "Significant gaps",
        "--issue",
        "critical: versioning overwrites",
        "--agent-type",
        "memory-implementer",
        "--agent",
        "orchestrator-7",
    ]);
    assert_eq!(revise["next_milestone_opens"], false);
    assert!(revise["next_step"].as_str().unwrap().contains("decide gate M2 again"), "{revise}");
    let revision = repo.json(&["task", "get", revise["follow_up_task_ids"][0].as_str().unwrap()]);
    assert_eq!(revision["milestone"], "M2");
    assert_eq!(revision["agent_type"], "memory-implementer");
    assert_eq!(revision["created_by"], "orchestrator-7");
    let record = std::fs::read_to_string(repo.path().join(s(&revise, "report")).with_extension("toml")).unwrap();
    assert!(record.contains("agent = \"orchestrator-7\""), "the record names the deciding agent: {record}");
    assert_eq!(revision["source"], "agent_planner");
    assert_eq!(revision["base_priority"], 10);
    assert_eq!(repo.json(&["task", "get", &m3])["status"], "blocked");

    // escalate: every claim pauses until a human resolves it.
    repo.ok(&["gate", "escalate", "M2", "-r", "Fundamental design problem"]);
    let status = repo.json(&["gate", "status"]);
    assert!(status["paused"].as_str().unwrap().contains("abathur gate resolve M2"), "{status}");
    let claim = repo.json(&["task", "claim"]);
    assert_eq!(claim["claimed"], false);
    assert!(claim["paused"].as_str().unwrap().contains("Fundamental design problem"), "said plainly: {claim}");
    assert_eq!(repo.json(&["task", "get", &m2])["status"], "blocked");
    assert_eq!(repo.json(&["task", "claim"])["claimed"], false, "escalation pauses every claim, M1's too");
    let err = repo.fails(&["gate", "resolve", "M1", "-r", "x"], 3);
    assert!(err.contains("not escalated"), "{err}");
    let resolved = repo.json(&["gate", "resolve", "M2", "-r", "Redesigned with the lead"]);
    assert!(verify(&repo, "verify-tag", s(&resolved, "tag")));
    assert_eq!(repo.json(&["task", "claim"])["claimed"], true, "claims resume");
    assert_eq!(repo.json(&["gate", "status"])["gates"][1]["state"], "resolved");
    assert_eq!(repo.json(&["task", "get", &m3])["status"], "blocked", "M3 still waits for an opening decision on M2");
}

#[test]
fn signing_failures_fail_fast_and_write_nothing() {
    let repo = signed_repo();
    let before = repo.git(&["rev-parse", "abathur-ledger"]);
    let count = || std::fs::read_dir(repo.path().join(".git/abathur/gates")).unwrap().count();
    let files = count();

    // No key configured.
    repo.git(&["config", "--unset", "user.signingkey"]);
    let err = repo.fails(&["gate", "approve", "M1", "-r", "x"], 1);
    assert!(err.contains("no signing key") && err.contains("--unsigned"), "{err}");
    // A key that does not exist.
    repo.git(&["config", "user.signingkey", "/nonexistent/key"]);
    let err = repo.fails(&["gate", "approve", "M1", "-r", "x"], 1);
    assert!(err.contains("signer"), "{err}");
    // A signer that hangs (as one waiting for a passphrase would) is cut off.
    let hang = repo.path().join("hanging-signer");
    let pid_file = repo.path().join("signer.pid");
    std::fs::write(&hang, format!("#!/bin/sh\necho $$ > {}\nexec sleep 30\n", pid_file.display())).unwrap();
    Command::new("chmod").arg("+x").arg(&hang).status().unwrap();
    repo.git(&["config", "gpg.ssh.program", hang.to_str().unwrap()]);
    let out = repo.run_env(&["gate", "approve", "M1", "-r", "x"], "ABATHUR_SIGN_TIMEOUT_MS", "1000");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("did not finish"), "{}", crate::common::describe(&out));
    let pid = std::fs::read_to_string(&pid_file).unwrap();
    assert!(!std::path::Path::new(&format!("/proc/{}", pid.trim())).exists(), "the hung signer was killed and reaped");

    assert_eq!(repo.git(&["rev-parse", "abathur-ledger"]), before, "no commit");
    assert_eq!(count(), files, "no decision files");
    assert!(repo.git(&["tag"]).is_empty(), "no tag");

    // --unsigned records it, marked as such.
    let reply = repo.json(&["gate", "approve", "M1", "-r", "Signed later", "--unsigned"]);
    assert_eq!(reply["signed"], false);
    assert!(repo.git(&["log", "-1", "--format=%G?", "abathur-ledger"]).starts_with('N'));
    let record = std::fs::read_to_string(repo.path().join(s(&reply, "report")).with_extension("toml")).unwrap();
    assert!(record.contains("signed = false"), "{record}");
}

#[test]
fn openpgp_signatures_from_gpg_verify_too() {
    if Command::new("gpg").arg("--version").output().is_err() {
        eprintln!("gpg is not installed; .ci/run installs it");
        return;
    }
    let repo = Repo::new();
    let home = repo.path().join("gnupg");
    std::fs::create_dir_all(&home).unwrap();
    Command::new("chmod").args(["700"]).arg(&home).status().unwrap();
    let gpg = |args: &[&str]| {
        let out = Command::new("gpg")
            .env("GNUPGHOME", &home)
            .args(["--batch", "--passphrase", ""])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "gpg {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    gpg(&["--quick-gen-key", "Lead <lead@example.com>", "ed25519", "sign", "never"]);
    let listing = gpg(&["--with-colons", "--list-secret-keys"]);
    let fpr = listing.lines().find(|l| l.starts_with("fpr:")).unwrap().split(':').nth(9).unwrap().to_string();
    repo.git(&["config", "user.name", "Lead"]);
    repo.git(&["config", "user.email", "lead@example.com"]);
    repo.git(&["config", "user.signingkey", &fpr]);
    repo.git(&["add", "-A"]);
    repo.git(&["commit", "-qm", "init"]);
    repo.ok(&["milestone", "add", "M1", "--title", "One"]);
    // The policy names OpenPGP keys by fingerprint.
    commit_policy(&repo, &format!("lead@example.com openpgp {fpr}\n"));
    let out = repo.cmd(&["--json", "gate", "approve", "M1", "-r", "ok"]).env("GNUPGHOME", &home).output().unwrap();
    assert!(out.status.success(), "{}", crate::common::describe(&out));
    let reply: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for (what, name) in [("verify-commit", s(&reply, "commit")), ("verify-tag", s(&reply, "tag"))] {
        let mut cmd = Command::new("git");
        cmd.args([what, name]).current_dir(repo.path());
        crate::common::hermetic(&mut cmd, repo.path());
        let out = cmd.env("GNUPGHOME", &home).output().unwrap();
        assert!(out.status.success(), "git {what}: {}", crate::common::describe(&out));
    }
    let out = repo.cmd(&["--json", "gate", "verify"]).env("GNUPGHOME", &home).output().unwrap();
    assert!(out.status.success(), "{}", crate::common::describe(&out));
    let out = repo.cmd(&["--json", "gate", "status"]).env("GNUPGHOME", &home).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"verified\""), "{}", crate::common::describe(&out));

    // A key the policy in force does not list opens nothing.
    let repo = Repo::new();
    repo.git(&["config", "user.name", "Lead"]);
    repo.git(&["config", "user.email", "lead@example.com"]);
    repo.git(&["config", "user.signingkey", &fpr]);
    repo.git(&["commit", "-q", "--allow-empty", "-m", "init"]);
    repo.ok(&["milestone", "add", "M1", "--title", "One"]);
    repo.ok(&["milestone", "add", "M2", "--title", "Two"]);
    commit_policy(&repo, "someone@example.com openpgp 0000000000000000000000000000000000000000\n");
    let out = repo.cmd(&["--json", "gate", "approve", "M1", "-r", "ok"]).env("GNUPGHOME", &home).output().unwrap();
    assert!(out.status.success(), "{}", crate::common::describe(&out));
    let m2 = repo.add(&["Two's work", "-m", "M2"]);
    let out = repo.cmd(&["--json", "task", "get", &m2]).env("GNUPGHOME", &home).output().unwrap();
    let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(got["status"], "blocked", "{got}");
    assert!(got["blocked_by"].to_string().contains("does not list"), "{got}");
    let out = repo.cmd(&["--json", "gate", "verify"]).env("GNUPGHOME", &home).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "an unlisted OpenPGP key is refused");
    assert!(String::from_utf8_lossy(&out.stdout).contains("does not list"), "{}", crate::common::describe(&out));
}

pub(crate) fn add_ssh_key(repo: &Repo, name: &str) -> (std::path::PathBuf, String) {
    let key = repo.path().join(name);
    let status = Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-f"]).arg(&key).status().unwrap();
    assert!(status.success());
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    (key, public)
}

#[test]
fn verify_accepts_allowed_signers_and_rejects_forged_unsigned_altered_and_unknown() {
    let repo = signed_repo();
    repo.ok(&["gate", "approve", "M1", "-r", "ok"]);
    let report = repo.json(&["gate", "verify"]);
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["decisions"][0]["status"], "verified");
    assert!(report["decisions"][0]["signer"].as_str().unwrap().contains("lead@example.com"), "{report}");

    // Altered after signing.
    let id = report["decisions"][0]["id"].as_str().unwrap().to_string();
    let report_path = repo.path().join(format!(".git/abathur/gates/{id}.md"));
    let original = std::fs::read_to_string(&report_path).unwrap();
    std::fs::write(&report_path, original.replace("APPROVE", "APPROVE (all good, trust me)")).unwrap();
    let out = repo.run(&["--json", "gate", "verify"]);
    assert_eq!(out.status.code(), Some(1));
    let bad: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(bad["decisions"][0]["status"].as_str().unwrap().contains("altered"), "{bad}");
    std::fs::write(&report_path, original).unwrap();
    assert_eq!(repo.json(&["gate", "verify"])["ok"], true);

    // Signed by a key the policy does not list.
    let (intruder, _) = add_ssh_key(&repo, "intruder_key");
    repo.git(&["config", "user.signingkey", intruder.to_str().unwrap()]);
    repo.ok(&["gate", "approve", "M2", "-r", "sneaky"]);
    let err = repo.fails(&["gate", "verify"], 1);
    assert!(err.contains("gate verification failed"), "{err}");
    let log = repo.json(&["gate", "log"]);
    let m2 = log["decisions"].as_array().unwrap().iter().find(|d| d["milestone"] == "M2").unwrap().clone();
    assert!(m2["status"].as_str().unwrap().contains("rejected"), "{m2}");

    // Unsigned decisions and forged tags fail too.
    let repo = signed_repo();
    repo.ok(&["gate", "approve", "M1", "-r", "later", "--unsigned"]);
    let out = repo.run(&["--json", "gate", "verify"]);
    let bad: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(bad["decisions"][0]["status"].as_str().unwrap().contains("unsigned"), "{bad}");
    let repo = signed_repo();
    repo.git(&["tag", "-a", "abathur/gate/M1/01zzzzzzzzzzzzzzzzzzzzzzzz", "-m", "Gate M1: approve"]);
    let out = repo.run(&["--json", "gate", "verify", "--all"]);
    assert_eq!(out.status.code(), Some(1));
    let bad: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(bad["problems"][0].as_str().unwrap().contains("has no decision record"), "{bad}");
}

#[test]
fn verify_without_a_policy_says_what_to_create() {
    let repo = signed_repo_without_policy();
    assert_eq!(repo.json(&["gate", "verify"])["ok"], true, "no decisions, nothing to verify");
    repo.ok(&["gate", "approve", "M1", "-r", "ok"]);
    let m2 = repo.add(&["Memory tables", "-m", "M2"]);
    let got = repo.json(&["task", "get", &m2]);
    assert_eq!(got["status"], "blocked", "a decision no policy allows opens nothing: {got}");
    assert!(got["blocked_by"].to_string().contains("no allowed_signers was in force"), "{got}");
    let out = repo.run(&["--json", "gate", "verify"]);
    assert_eq!(out.status.code(), Some(1));
    let bad: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(bad["problems"].to_string().contains("no policy was ever committed"), "{bad}");
}

#[test]
fn gate_check_reads_junit_lcov_cobertura_and_bench_and_proposes_a_decision() {
    let repo = Repo::new();
    repo.ok(&[
        "milestone",
        "add",
        "M1",
        "--title",
        "One",
        "--criterion",
        "Schema applies",
        "--criterion",
        "Docs written",
        "--target",
        "test_pass_rate>=100%",
        "--target",
        "coverage>=90%",
        "--target",
        "read_latency_ms<50ms",
    ]);
    let task = repo.add(&["The work", "-m", "M1"]);
    let dir = repo.path();
    std::fs::write(
        dir.join("junit.xml"),
        r#"<?xml version="1.0"?>
<testsuites><testsuite name="s" tests="4">
  <testcase name="a"/><testcase name="b"></testcase>
  <testcase name="c"><failure message="boom">trace</failure></testcase>
  <testcase name="d"><skipped/></testcase>
</testsuite></testsuites>"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("lcov.info"),
        "SF:a.rs\nLF:100\nLH:95\nend_of_record\nSF:b.rs\nLF:100\nLH:85\nend_of_record\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("cobertura.xml"),
        r#"<coverage line-rate="0.5" lines-covered="93" lines-valid="100"></coverage>"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("bench.json"),
        r#"{"benchmarks": [{"name": "read_latency_ms", "value": 12.5, "unit": "ms"}]}"#,
    )
    .unwrap();

    let check =
        repo.json(&["gate", "check", "M1", "--junit", "junit.xml", "--lcov", "lcov.info", "--bench", "bench.json"]);
    let metric = |name: &str| check["metrics"].as_array().unwrap().iter().find(|m| m["name"] == name).unwrap().clone();
    assert_eq!(metric("test_pass_rate")["measured"], 66.67, "2 of 3 ran passed; the skipped one does not count");
    assert_eq!(metric("test_pass_rate")["met"], false);
    assert_eq!(metric("coverage")["measured"], 90.0);
    assert_eq!(metric("coverage")["met"], true);
    assert_eq!(metric("read_latency_ms")["met"], true);
    assert_eq!(check["proposed_decision"], "revise", "{check}");

    // All green but criteria not shown met: conditional. Then everything: approve.
    std::fs::write(dir.join("junit.xml"), r#"<testsuite><testcase name="a"/></testsuite>"#).unwrap();
    repo.ok(&["task", "claim"]);
    repo.ok(&["task", "complete", &task]);
    let check = repo.json(&[
        "gate",
        "check",
        "M1",
        "--junit",
        "junit.xml",
        "--cobertura",
        "cobertura.xml",
        "--bench",
        "bench.json",
    ]);
    assert_eq!(check["metrics"][1]["measured"], 93.0, "Cobertura lines-covered/lines-valid");
    assert_eq!(check["proposed_decision"], "conditional", "{check}");
    let check = repo.json(&[
        "gate",
        "check",
        "M1",
        "--junit",
        "junit.xml",
        "--cobertura",
        "cobertura.xml",
        "--bench",
        "bench.json",
        "--met",
        "1: applied on a fresh database",
        "--met",
        "2: docs/schema.md",
    ]);
    assert_eq!(check["proposed_decision"], "approve", "{check}");
    assert_eq!(check["criteria"][0]["evidence"], "applied on a fresh database");

    // Bad evidence names the file.
    std::fs::write(dir.join("bad.xml"), "<nope").unwrap();
    let err = repo.fails(&["gate", "check", "M1", "--junit", "bad.xml"], 1);
    assert!(err.contains("bad.xml"), "{err}");
    let err = repo.fails(&["gate", "check", "M1", "--met", "7: no such criterion"], 1);
    assert!(err.contains("no criterion 7"), "{err}");
}

#[test]
fn a_decision_records_its_evidence_and_a_tampered_record_fails_verification() {
    let repo = signed_repo();
    std::fs::write(
        repo.path().join(".git/abathur/allowed_signers"),
        std::fs::read_to_string(repo.path().join("allowed_signers")).unwrap(),
    )
    .unwrap();
    std::fs::write(repo.path().join("junit.xml"), r#"<testsuite><testcase name="a"/><testcase name="b"/></testsuite>"#)
        .unwrap();
    std::fs::write(
        repo.path().join("issues.txt"),
        "# found at review\nlow: typo in the schema docs\n\nmedium: one slow query\n",
    )
    .unwrap();
    let reply = repo.json(&[
        "gate",
        "conditional",
        "M1",
        "-r",
        "Good enough",
        "--junit",
        "junit.xml",
        "--met",
        "1: migration ran clean",
        "--issues-file",
        "issues.txt",
    ]);
    assert_eq!(reply["follow_up_task_ids"].as_array().unwrap().len(), 2, "{reply}");
    let record_path = repo.path().join(s(&reply, "report")).with_extension("toml");
    let record = std::fs::read_to_string(&record_path).unwrap();
    assert!(record.contains("commit_range = "), "{record}");
    assert!(record.contains("migration ran clean") && record.contains("test_pass_rate"), "{record}");
    let report = std::fs::read_to_string(repo.path().join(s(&reply, "report"))).unwrap();
    assert!(report.contains("- [x] DDL runs clean on an empty database: met (migration ran clean)"), "{report}");
    assert!(report.contains("- Test Pass Rate: 100% (Target: "), "the seed's wording, with the unit: {report}");
    assert!(report.contains("one slow query (severity: medium)"), "{report}");
    // The seed's sections, in its order, and no others.
    let sections: Vec<&str> = report.lines().filter(|l| l.starts_with("## ")).collect();
    assert_eq!(
        sections,
        [
            "## Validation Summary",
            "## Acceptance Criteria Review",
            "## Quality Metrics",
            "## Issues Identified",
            "## Recommendations",
            "## Next Milestone Context"
        ]
    );
    assert_eq!(repo.json(&["gate", "verify"])["ok"], true);

    std::fs::write(&record_path, record.replace("decision = \"conditional\"", "decision = \"approve\"")).unwrap();
    let out = repo.run(&["--json", "gate", "verify"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("altered after it was signed"));
}

#[test]
fn keys_held_by_ssh_agent_sign_and_a_passphrase_never_prompts() {
    let repo = signed_repo();
    // A key held by ssh-agent, named by its public key as git allows (`key::ssh-ed25519 AAAA...`).
    let (agent_key, public) = add_ssh_key(&repo, "agent_key");
    let socket = repo.path().join("agent.sock");
    let agent =
        Command::new("ssh-agent").arg("-D").arg("-a").arg(&socket).stdout(std::process::Stdio::null()).spawn().unwrap();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
        }
    }
    let _agent = Kill(agent);
    for _ in 0..100 {
        if socket.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let added = Command::new("ssh-add").arg(&agent_key).env("SSH_AUTH_SOCK", &socket).output().unwrap();
    assert!(added.status.success(), "{}", crate::common::describe(&added));
    std::fs::remove_file(&agent_key).unwrap(); // only the agent has the private key now
    // The lead allows the agent's key too, in a commit signed with the lead's key.
    let allowed = repo.path().join("allowed_signers");
    let policy = format!("{}lead@example.com namespaces=\"git\" {public}", std::fs::read_to_string(&allowed).unwrap());
    std::fs::write(&allowed, &policy).unwrap();
    std::fs::write(repo.path().join(".git/abathur/allowed_signers"), &policy).unwrap();
    repo.ok(&["ledger", "commit", "--sign", "-m", "The agent's key may sign"]);
    repo.git(&["config", "user.signingkey", &format!("key::{}", public.trim())]);
    let out = repo
        .cmd(&["--json", "gate", "approve", "M1", "-r", "signed by the agent"])
        .env("SSH_AUTH_SOCK", &socket)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", crate::common::describe(&out));
    let reply: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(verify(&repo, "verify-commit", s(&reply, "commit")));
    assert!(verify(&repo, "verify-tag", s(&reply, "tag")));

    // A passphrase-protected key with no agent: the signer cannot ask (no terminal), so it fails at
    // once, well before the timeout, and nothing is written.
    let locked = repo.path().join("locked_key");
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "a passphrase", "-f"])
        .arg(&locked)
        .status()
        .unwrap();
    assert!(status.success());
    repo.git(&["config", "user.signingkey", locked.to_str().unwrap()]);
    let head = repo.git(&["rev-parse", "abathur-ledger"]);
    let out = repo
        .cmd(&["gate", "approve", "M2", "-r", "x"])
        .env_remove("SSH_AUTH_SOCK")
        .env("ABATHUR_SIGN_TIMEOUT_MS", "5000")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", crate::common::describe(&out));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!said.contains("did not finish"), "it refused at once rather than waiting for a passphrase: {said}");
    assert_eq!(repo.git(&["rev-parse", "abathur-ledger"]), head, "nothing committed");
}

#[test]
fn a_broken_milestone_file_keeps_later_milestones_shut_and_says_why() {
    let repo = Repo::new();
    repo.git(&["config", "user.name", "Lead"]);
    repo.git(&["config", "user.email", "lead@example.com"]);
    repo.ok(&["milestone", "add", "--example", "seed-plan"]);
    repo.allow_unsigned();
    repo.ok(&["gate", "approve", "M1", "-r", "done", "--unsigned"]);
    let m2 = repo.add(&["Memory tables", "-m", "M2"]);
    assert_eq!(repo.json(&["task", "get", &m2])["status"], "ready", "M1 is approved");
    let file = repo.path().join(".git/abathur/milestones/M1.toml");
    std::fs::write(&file, "id = [broken\n").unwrap();
    let got = repo.json(&["task", "get", &m2]);
    assert_eq!(got["status"], "blocked", "{got}");
    assert!(got["blocked_by"].to_string().contains("M1.toml"), "the reason names the file: {got}");
    assert_eq!(repo.json(&["task", "claim"])["claimed"], false, "nothing of a milestone is claimable");
}

#[test]
fn an_unreadable_gate_record_pauses_claims_and_the_reply_names_it() {
    let repo = Repo::new();
    repo.git(&["config", "user.name", "Lead"]);
    repo.git(&["config", "user.email", "lead@example.com"]);
    repo.ok(&["milestone", "add", "--example", "seed-plan"]);
    let task = repo.add(&["Schema", "-m", "M1"]);
    let reply = repo.json(&["gate", "escalate", "M1", "-r", "fundamental", "--unsigned"]);
    let record =
        repo.path().join(".git/abathur/gates").join(format!("{}.toml", reply["decision_id"].as_str().unwrap()));
    std::fs::write(&record, "decision = \n").unwrap();
    let claim = repo.json(&["task", "claim"]);
    assert_eq!(claim["claimed"], false, "a broken escalation record never lifts the pause: {claim}");
    let message = claim["message"].as_str().unwrap();
    assert!(message.contains("paused") && message.contains(".toml"), "{message}");
    assert_eq!(repo.json(&["task", "get", &task])["status"], "blocked");
}

#[test]
fn a_milestone_typo_is_refused_with_the_nearest_and_a_hand_made_one_stays_blocked() {
    let repo = Repo::new();
    repo.ok(&["milestone", "add", "--example", "seed-plan"]);
    let err = repo.fails(&["task", "add", "Typo", "-m", "m2"], 1);
    assert!(err.contains("m2 is not a milestone") && err.contains("did you mean M2"), "{err}");
    repo.fails(&["task", "add", "Undefined", "-m", "M11"], 1);
    // One that arrives by hand (or a merge) is blocked and reported.
    let id = repo.add(&["Fine", "-m", "M1"]);
    let path = repo.path().join(".git/abathur/tasks").join(format!("{id}.toml"));
    let text = std::fs::read_to_string(&path).unwrap().replace("milestone = \"M1\"", "milestone = \"M11\"");
    std::fs::write(&path, text).unwrap();
    let got = repo.json(&["task", "list", "--verify"]);
    let task = got["tasks"].as_array().unwrap().iter().find(|t| t["id"] == id.as_str()).unwrap().clone();
    assert_eq!(task["status"], "blocked", "{task}");
    let out = repo.run(&["--json", "check"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("M11 is not a milestone"), "{}", describe(&out));
}

#[test]
fn claims_racing_an_escalation_never_take_a_task_after_it() {
    let repo = Repo::new();
    repo.git(&["config", "user.name", "Lead"]);
    repo.git(&["config", "user.email", "lead@example.com"]);
    repo.ok(&["milestone", "add", "--example", "seed-plan"]);
    for i in 0..150 {
        repo.add(&[&format!("M1 work {i}"), "-m", "M1"]);
    }
    let (claimers, first_claim) = claimers(&repo, 8, 15);
    first_claim.recv().unwrap();
    repo.ok(&["gate", "escalate", "M1", "-r", "fundamental problem", "--unsigned"]);
    let running = || repo.json(&["task", "status"])["running"].as_u64().unwrap();
    let at_escalation = running();
    for c in claimers {
        c.join().unwrap();
    }
    assert_eq!(running(), at_escalation, "no claim succeeded once the escalation was recorded");
}

/// `agents` threads, each running `claims` one-shot `task claim` processes; the receiver gets a
/// message after every claim, so a test can act once claiming is under way.
pub(crate) fn claimers(
    repo: &Repo,
    agents: usize,
    claims: usize,
) -> (Vec<std::thread::JoinHandle<()>>, std::sync::mpsc::Receiver<()>) {
    let path = repo.path().to_path_buf();
    let (started, first_claim) = std::sync::mpsc::channel::<()>();
    let handles = (0..agents)
        .map(|n| {
            let (path, started) = (path.clone(), started.clone());
            std::thread::spawn(move || {
                for k in 0..claims {
                    let mut cmd = Command::new(crate::common::bin());
                    cmd.args(["--json", "task", "claim", "--agent", &format!("a{n}-{k}")]).current_dir(&path);
                    crate::common::hermetic(&mut cmd, &path);
                    let out = cmd.output().unwrap();
                    assert!(out.status.success(), "{}", describe(&out));
                    let _ = started.send(());
                }
            })
        })
        .collect();
    (handles, first_claim)
}
