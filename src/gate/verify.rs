//! `gate verify` and `gate log`: is every gate decision signed by someone allowed to decide, and
//! unaltered since? What CI and the pre-push hook run.
//!
//! Policy is `.abathur/allowed_signers`: git's SSH allowed-signers format (`email namespaces="git"
//! ssh-ed25519 AAAA...`), plus lines `email openpgp FINGERPRINT` for OpenPGP keys. Signatures are
//! checked by git itself (`git verify-tag` / `git verify-commit`, with this file as
//! `gpg.ssh.allowedSignersFile`), so abathur accepts exactly what git accepts.

use std::path::Path;
use std::process::Command;

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};
use crate::gate::record::{Decision, GateRecord};
use crate::service::Service;

/// The verdict on one decision.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
pub struct DecisionCheck {
    /// The decision id.
    pub id: String,
    /// Its milestone.
    pub milestone: String,
    /// What was decided.
    pub decision: Decision,
    /// When.
    pub decided_at: String,
    /// Who, as recorded.
    pub decided_by: String,
    /// The key that signed the tag, as git reports it.
    pub signer: Option<String>,
    /// `verified`, or what is wrong.
    pub status: String,
    /// Everything wrong with it (empty when verified).
    pub problems: Vec<String>,
}

/// Reply of `gate verify` and `gate log`.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
pub struct VerifyReport {
    /// Decisions checked, oldest first.
    pub decisions: Vec<DecisionCheck>,
    /// Problems not tied to one decision (stray tags, missing policy).
    pub problems: Vec<String>,
    /// Whether everything verified.
    pub ok: bool,
}

impl Service {
    /// Checks gate decisions: the latest of each milestone, or with `all` every one ever made.
    pub fn gate_verify(&self, all: bool) -> Result<VerifyReport> {
        let git_dir = self.ledger.git_dir().to_path_buf();
        let repo = self.ledger.repo()?;
        let records = self.gate_records();
        let mut problems = Vec::new();
        let policy = self.ledger.root().join("allowed_signers");
        let allowed = match std::fs::read_to_string(&policy) {
            Ok(text) => Some(text),
            Err(_) => {
                problems.push(format!(
                    "{}: missing; list who may sign gate decisions there (git's allowed-signers format)",
                    policy.display()
                ));
                None
            }
        };
        let openpgp: Vec<(String, String)> = allowed
            .as_deref()
            .unwrap_or("")
            .lines()
            .filter_map(|l| {
                let parts: Vec<&str> = l.split_whitespace().collect();
                (parts.len() >= 3 && parts[1] == "openpgp").then(|| (parts[0].to_string(), parts[2].to_uppercase()))
            })
            .collect();
        // git reads only SSH lines from the allowed-signers file; give it those.
        let ssh_policy = tempfile::NamedTempFile::new().map_err(|e| Error::io(Path::new("<tempfile>"), e))?;
        let ssh_lines: String = allowed
            .as_deref()
            .unwrap_or("")
            .lines()
            .filter(|l| l.split_whitespace().nth(1).is_none_or(|w| w != "openpgp"))
            .map(|l| format!("{l}\n"))
            .collect();
        std::fs::write(ssh_policy.path(), ssh_lines).map_err(|e| Error::io(ssh_policy.path(), e))?;

        let latest = crate::gate::state::latest(&records);
        let checked: Vec<&GateRecord> = if all {
            records.iter().collect()
        } else {
            records.iter().filter(|r| latest.get(&r.milestone).is_some_and(|l| l.id == r.id)).collect()
        };
        let mut decisions = Vec::new();
        for record in checked {
            let mut issues = Vec::new();
            let mut signer = None;
            if !record.signed {
                issues.push("unsigned decision (recorded with --unsigned)".to_string());
            }
            let tag_ref = format!("refs/tags/{}", record.tag);
            match repo.find_reference(&tag_ref).ok().and_then(|r| r.peel_to_commit().ok()) {
                None => issues.push(format!("its tag {} is missing", record.tag)),
                Some(commit) => {
                    if allowed.is_some() && record.signed {
                        for (what, name) in
                            [("verify-tag", record.tag.clone()), ("verify-commit", commit.id().to_string())]
                        {
                            match git_verify(&git_dir, what, &name, ssh_policy.path(), &openpgp) {
                                Ok(who) => signer = signer.or(Some(who)),
                                Err(why) => issues.push(format!("{what}: {why}")),
                            }
                        }
                    }
                    for ext in ["toml", "md"] {
                        let path = format!("gates/{}.{ext}", record.id);
                        // A decision made before the ledger moved out of the work tree sealed
                        // `.abathur/gates/...` on a code branch (`abathur ledger migrate`).
                        let committed = commit
                            .tree()
                            .ok()
                            .and_then(|t| {
                                t.get_path(Path::new(&path))
                                    .or_else(|_| t.get_path(&Path::new(crate::ledger::IN_TREE_DIR).join(&path)))
                                    .ok()
                            })
                            .and_then(|e| repo.find_blob(e.id()).ok())
                            .map(|b| b.content().to_vec());
                        let current = std::fs::read(self.ledger.root().join(&path)).ok();
                        match (committed, current) {
                            (None, _) => issues.push(format!("{path} is not in the signed commit")),
                            (Some(_), None) => issues.push(format!("{path} was deleted")),
                            (Some(a), Some(b)) if a != b => {
                                issues.push(format!("{path} was altered after it was signed"))
                            }
                            _ => {}
                        }
                    }
                }
            }
            decisions.push(DecisionCheck {
                id: record.id.to_string(),
                milestone: record.milestone.clone(),
                decision: record.decision,
                decided_at: record.decided_at.to_string(),
                decided_by: record.decided_by.clone(),
                signer,
                status: if issues.is_empty() { "verified".into() } else { issues[0].clone() },
                problems: issues,
            });
        }
        problems.extend(self.order_problems(&records));
        // A gate tag with no decision record is a forgery (or a record was deleted).
        if let Ok(names) = repo.tag_names(Some("abathur/gate/*")) {
            for name in names.iter().filter_map(|n| n.ok().flatten()) {
                if !records.iter().any(|r| r.tag == name) {
                    problems.push(format!("tag {name} has no decision record in the ledger's gates/"));
                }
            }
        }
        let ok = problems.is_empty() && decisions.iter().all(|d| d.problems.is_empty());
        Ok(VerifyReport { decisions, problems, ok })
    }

    /// Decisions must follow milestone order: none on a milestone while an earlier gate was shut.
    fn order_problems(&self, records: &[GateRecord]) -> Vec<String> {
        let Ok((milestones, _)) = self.milestones() else { return Vec::new() };
        let order = |m: &str| milestones.iter().find(|x| x.id == m).map(|x| x.order);
        let mut state: std::collections::HashMap<String, Decision> = std::collections::HashMap::new();
        let mut problems = Vec::new();
        for r in records {
            let Some(k) = order(&r.milestone) else {
                problems.push(format!("decision {} names milestone {}, which has no file", r.id, r.milestone));
                continue;
            };
            if r.decision != Decision::Resolved {
                let shut =
                    milestones.iter().filter(|m| m.order < k).find(|m| !state.get(&m.id).is_some_and(|d| d.opens()));
                if let Some(m) = shut {
                    problems.push(format!(
                        "decision {} on {} came while gate {} was not open: decisions must follow milestone order",
                        r.id, r.milestone, m.id
                    ));
                }
            } else if state.get(&r.milestone) != Some(&Decision::Escalate) {
                problems.push(format!("decision {} resolves {}, which was not escalated", r.id, r.milestone));
            }
            state.insert(r.milestone.clone(), r.decision);
        }
        problems
    }
}

/// Runs `git verify-tag|verify-commit --raw` with the policy; returns who signed, or why it fails.
fn git_verify(
    git_dir: &Path,
    what: &str,
    name: &str,
    ssh_policy: &Path,
    openpgp: &[(String, String)],
) -> std::result::Result<String, String> {
    let out = Command::new("git")
        .arg("-c")
        .arg(format!("gpg.ssh.allowedSignersFile={}", ssh_policy.display()))
        .arg(format!("--git-dir={}", git_dir.display()))
        .args([what, "--raw", name])
        .output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    let text = String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    if let Some(line) = text.lines().find(|l| l.starts_with("[GNUPG:] VALIDSIG ")) {
        // OpenPGP: git checked the signature against the keyring; the policy decides who may sign.
        let fpr = line.split_whitespace().nth(2).unwrap_or("").to_uppercase();
        return match openpgp.iter().find(|(_, f)| *f == fpr) {
            Some((who, _)) if out.status.success() => Ok(format!("{who} (openpgp {fpr})")),
            Some(_) => Err("bad signature".into()),
            None => Err(format!("signed by OpenPGP key {fpr}, which the ledger's allowed_signers does not list")),
        };
    }
    if out.status.success() {
        let who = text
            .lines()
            .find_map(|l| l.split("signature for ").nth(1))
            .map(|s| s.trim().trim_end_matches('"').to_string());
        return Ok(who.unwrap_or_else(|| "allowed signer".into()));
    }
    if text.contains("no signature found") || text.contains("error: no signature") {
        return Err("not signed".into());
    }
    let reason =
        text.lines().filter(|l| !l.trim().is_empty() && !l.starts_with("[GNUPG:]")).collect::<Vec<_>>().join("; ");
    Err(if reason.is_empty() {
        "signature rejected".into()
    } else {
        format!("signature rejected by the policy: {reason}")
    })
}

/// The error `gate verify` exits with when something did not verify.
pub fn failed(report: &VerifyReport) -> Error {
    let bad = report.decisions.iter().filter(|d| !d.problems.is_empty()).count();
    Error::new(ErrorKind::Validation, format!("gate verification failed: {bad} decision(s) and {} other problem(s)", report.problems.len()))
        .hint("a decision that does not verify must not be trusted: re-decide it with an allowed key, or restore the altered files")
}
