//! `gate verify` and `gate log`: is every gate decision signed by someone allowed to decide, and
//! unaltered since? What CI and the pre-push hook run.
//!
//! Each decision is judged as the queue judges it (`trust`); beyond that, the history must be whole:
//! decisions in milestone order, each naming the one before it on its gate, none removed, no tag
//! without a record, and no policy change that does not count.

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::{Error, ErrorKind, Result};
use crate::gate::api::{DecisionCheck, VerifyReport};
use crate::gate::record::{Decision, GateRecord};
use crate::gate::trust::{POLICY, Sealed, Trust};
use crate::id::Id;
use crate::service::Service;

impl Service {
    /// Checks gate decisions: the latest of each milestone, or with `all` every one ever made, and
    /// the ledger's history of decisions and policy.
    pub fn gate_verify(&self, all: bool) -> Result<VerifyReport> {
        let repo = self.ledger.repo()?;
        let (records, unreadable) = self.gate_records_checked();
        let mut problems: Vec<String> = unreadable.into_iter().map(|e| e.message).collect();
        let mut trust = Trust::new(&repo, self.ledger.git_dir());
        let tip = crate::ledger::history::tip(&repo);
        let in_force = match &tip {
            Some(tip) => trust.policy_after(tip.id())?,
            None => None,
        };
        let policy = in_force.as_ref().map(|(_, fact)| {
            format!(
                "allowed_signers in force since commit {}{}",
                fact.commit,
                if fact.first_use {
                    " (the first policy: trusted on first use; check it)"
                } else {
                    " (a signed change)"
                }
            )
        });
        let on_disk = crate::ledger::codec::read_text(&self.ledger.root().join(POLICY)).ok();
        if on_disk.is_some() && on_disk.as_deref() != in_force.as_ref().map(|(text, _)| text.as_str()) {
            problems.push(format!(
                "{}: differs from the policy in force; a change counts only once committed signed by an allowed key (`abathur ledger commit --sign`)",
                self.ledger.root().join(POLICY).display()
            ));
        }
        if in_force.is_none() && !records.is_empty() {
            problems.push(format!(
                "{}: no policy was ever committed; list who may sign gate decisions there (git's allowed-signers format) and commit it",
                self.ledger.root().join(POLICY).display()
            ));
        }
        problems.extend(trust.ignored_changes().values().cloned());

        let latest = crate::gate::state::latest(&records);
        let checked: Vec<&GateRecord> = if all {
            records.iter().collect()
        } else {
            records.iter().filter(|r| latest.get(&r.milestone).is_some_and(|l| l.id == r.id)).collect()
        };
        let mut decisions = Vec::new();
        for record in checked {
            let dir = self.ledger.root().join("gates");
            // Unreadable bytes verify as nothing: the decision fails, never passes unread.
            let record_bytes =
                crate::ledger::codec::read_bytes(&dir.join(format!("{}.toml", record.id))).unwrap_or_default();
            let report_bytes = crate::ledger::codec::read_bytes(&dir.join(format!("{}.md", record.id))).ok();
            let (signer, issues) = match trust.judge(record, &record_bytes, report_bytes.as_deref()) {
                Ok(Sealed::Signed(who)) => (Some(who), Vec::new()),
                Ok(Sealed::Unsigned) => (None, vec!["unsigned decision (recorded with --unsigned)".to_string()]),
                Err(problems) => (None, problems),
            };
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
        problems.extend(chain_problems(&records, &self.ledger.root().join("gates")));
        problems.extend(removed_decisions(&repo, &records));
        // A gate tag with no decision record is a forgery (or a record was deleted).
        if let Ok(names) = repo.tag_names(Some("abathur/gate/*")) {
            for name in names.iter().filter_map(|n| n.ok().flatten()) {
                if !records.iter().any(|r| r.tag == name) {
                    problems.push(format!("tag {name} has no decision record in the ledger's gates/"));
                }
            }
        }
        let ok = problems.is_empty() && decisions.iter().all(|d| d.problems.is_empty());
        Ok(VerifyReport { decisions, policy, problems, ok })
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

/// Each gate's decisions form a chain: every one names the decision before it on that gate, with
/// the blob id its record had. A gap, a fork or an altered predecessor is a problem.
pub fn chain_problems(records: &[GateRecord], gates_dir: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    let mut by_gate: BTreeMap<&str, Vec<&GateRecord>> = BTreeMap::new();
    for r in records {
        by_gate.entry(r.milestone.as_str()).or_default().push(r);
    }
    for (gate, mut chain) in by_gate {
        chain.sort_by_key(|r| r.id);
        let mut followers: BTreeMap<Option<Id>, Vec<Id>> = BTreeMap::new();
        for r in &chain {
            followers.entry(r.previous).or_default().push(r.id);
        }
        for (previous, ids) in followers.iter().filter(|(_, ids)| ids.len() > 1) {
            let list: Vec<String> = ids.iter().map(Id::to_string).collect();
            problems.push(match previous {
                Some(p) => {
                    format!("gate {gate} forks: decisions {} all follow {p}; only one may stand", list.join(" and "))
                }
                None => format!(
                    "gate {gate} forks: decisions {} all claim to be its first; only one may stand",
                    list.join(" and ")
                ),
            });
        }
        for pair in chain.windows(2) {
            let (before, after) = (pair[0], pair[1]);
            match after.previous {
                Some(p) if p == before.id => {
                    let path = gates_dir.join(format!("{p}.toml"));
                    let now =
                        git2::Oid::hash_file(git2::ObjectType::Blob, &path).map(|o| o.to_string()).unwrap_or_default();
                    if !after.previous_record.is_empty() && now != after.previous_record {
                        problems.push(format!(
                            "decision {p} on gate {gate} was altered after decision {} followed it",
                            after.id
                        ));
                    }
                }
                Some(p) if !chain.iter().any(|r| r.id == p) => problems.push(format!(
                    "decision {} on gate {gate} follows {p}, which is missing: a decision was removed",
                    after.id
                )),
                Some(_) => {}
                None => problems.push(format!(
                    "decision {} on gate {gate} names no predecessor although {} came before it",
                    after.id, before.id
                )),
            }
        }
    }
    problems
}

/// Decisions the ledger's history recorded (a commit with an `Abathur-Gate` trailer) whose records are gone.
fn removed_decisions(repo: &git2::Repository, records: &[GateRecord]) -> Vec<String> {
    let Some(tip) = crate::ledger::history::tip(repo) else { return Vec::new() };
    let Ok(mut walk) = repo.revwalk() else { return Vec::new() };
    if walk.push(tip.id()).is_err() {
        return Vec::new();
    }
    let mut problems = Vec::new();
    for oid in walk.flatten() {
        let Ok(commit) = repo.find_commit(oid) else { continue };
        let Ok(message) = commit.message() else { continue };
        for id in message.lines().filter_map(|l| l.strip_prefix("Abathur-Gate: ")) {
            if !records.iter().any(|r| r.id.to_string() == id.trim()) {
                problems.push(format!("decision {} (commit {oid}) was removed from the ledger", id.trim()));
            }
        }
    }
    problems
}

/// The error `gate verify` exits with when something did not verify.
pub fn failed(report: &VerifyReport) -> Error {
    let bad = report.decisions.iter().filter(|d| !d.problems.is_empty()).count();
    Error::new(ErrorKind::Validation, format!(
            "gate verification failed: {} and {}",
            crate::words::plural(bad, "decision", "decisions"),
            crate::words::plural(report.problems.len(), "other problem", "other problems")
        ))
        .hint("a decision that does not verify must not be trusted: re-decide it with an allowed key, or restore the altered files")
}
