//! `abathur doctor`: is this installation and this repository ready, and what to do where not.
//!
//! Each check says `ok`, `warn` (works, but something a team would want is missing) or `fail`
//! (something abathur promises does not hold here), with the fix. It changes nothing, except one
//! signature of a fixed payload to prove that signing works without a terminal.

use serde::{Deserialize, Serialize};

use crate::service::Service;

/// How a check came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    /// As it should be.
    Ok,
    /// Works, but something is missing.
    Warn,
    /// Broken.
    Fail,
}

/// One check.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
pub struct Finding {
    /// What was checked.
    pub check: String,
    /// How it came out.
    pub health: Health,
    /// What was found.
    pub detail: String,
    /// What to do, when not ok.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub fix: String,
}

impl Finding {
    /// A finding.
    pub fn new(check: &str, health: Health, detail: impl Into<String>, fix: impl Into<String>) -> Finding {
        Finding { check: check.into(), health, detail: detail.into(), fix: fix.into() }
    }
}

/// Reply of `doctor`.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
pub struct DoctorReport {
    /// Every check, in order.
    pub findings: Vec<Finding>,
    /// Whether nothing failed.
    pub ok: bool,
}

impl Service {
    /// The repository's side of `doctor`: identity, signing, policy, ledger, remote, validity, model.
    pub fn doctor(&self) -> Vec<Finding> {
        let mut out = Vec::new();
        let repo = match self.ledger.repo() {
            Ok(repo) => repo,
            Err(e) => {
                out.push(Finding::new("repository", Health::Fail, e.message, "run abathur inside a git repository"));
                return out;
            }
        };
        out.push(match repo.signature() {
            Ok(who) => Finding::new(
                "git identity",
                Health::Ok,
                format!("{} <{}>", who.name().unwrap_or(""), who.email().unwrap_or("")),
                "",
            ),
            Err(_) => Finding::new(
                "git identity",
                Health::Warn,
                "no user.name / user.email: ledger commits say abathur, and decisions cannot be made",
                "git config user.name \"Your Name\" && git config user.email you@example.com",
            ),
        });
        out.push(match crate::git::sign::Signer::from_git(&repo) {
            Err(e) => Finding::new("signing", Health::Fail, e.message, "set gpg.format to ssh or openpgp"),
            Ok(None) if self.config.gates.allow_unsigned => Finding::new(
                "signing",
                Health::Ok,
                "no signing key; this ledger lets unsigned decisions open gates ([gates] allow_unsigned)",
                "",
            ),
            Ok(None) => Finding::new(
                "signing",
                Health::Warn,
                "no signing key: gate decisions can only be recorded unsigned, and those open nothing",
                "git config gpg.format ssh && git config user.signingkey ~/.ssh/id_ed25519",
            ),
            Ok(Some(signer)) => match signer.sign(b"abathur doctor: a test signature\n") {
                Ok(_) => Finding::new("signing", Health::Ok, "a test signature succeeded without a terminal", ""),
                Err(e) => Finding::new(
                    "signing",
                    Health::Fail,
                    format!("a test signature failed: {}", e.message),
                    e.hints.first().cloned().unwrap_or_default(),
                ),
            },
        });
        let tip = crate::ledger::history::tip(&repo);
        let mut trust = crate::gate::trust::Trust::new(&repo, self.ledger.git_dir());
        let policy = tip.as_ref().map(|t| trust.policy_after(t.id())).transpose();
        let email = repo.signature().ok().and_then(|s| s.email().ok().map(str::to_string)).unwrap_or_default();
        out.push(match policy.map(Option::flatten) {
            Err(e) => Finding::new("allowed signers", Health::Fail, e.message, ""),
            Ok(None) => Finding::new(
                "allowed signers",
                Health::Warn,
                "no allowed_signers was ever committed: no signed decision can count",
                "list who may decide in $(abathur ledger path)/allowed_signers, then `abathur ledger commit --sign`",
            ),
            Ok(Some((text, fact))) => {
                let listed = !email.is_empty() && text.lines().any(|l| l.split_whitespace().next() == Some(&email));
                let origin = if fact.first_use { "trusted on first use" } else { "a signed change" };
                if listed {
                    Finding::new(
                        "allowed signers",
                        Health::Ok,
                        format!("{email} may decide (policy: {origin}, commit {})", fact.commit),
                        "",
                    )
                } else {
                    Finding::new(
                        "allowed signers",
                        Health::Warn,
                        format!("{email} is not in the policy in force: decisions made here do not count"),
                        "have someone the policy allows add you, with `abathur ledger commit --sign`",
                    )
                }
            }
        });
        out.push(match crate::ledger::history::uncommitted(&repo, self.ledger.root()) {
            Ok(files) if files.is_empty() => Finding::new(
                "ledger",
                Health::Ok,
                format!("{} on branch {}", self.ledger.root().display(), crate::ledger::history::BRANCH),
                "",
            ),
            Ok(files) => Finding::new(
                "ledger",
                Health::Warn,
                format!(
                    "{} changed by hand and not committed: {}",
                    crate::words::plural(files.len(), "file", "files"),
                    files.join(", ")
                ),
                "abathur ledger commit -m \"...\" (with --sign for allowed_signers)",
            ),
            Err(e) => Finding::new("ledger", Health::Fail, e.message, ""),
        });
        out.push(match crate::ledger::remote::configured_remote(self.ledger.git_dir()) {
            Some(remote) => Finding::new(
                "remote",
                Health::Ok,
                format!("ledger remote {remote}: claims are atomic across clones; `abathur sync` shares the ledger"),
                "",
            ),
            None => Finding::new(
                "remote",
                Health::Warn,
                "no ledger remote: claims are local to this clone and nothing is shared",
                "abathur sync --remote origin (once per clone)",
            ),
        });
        out.push(match self.task_queue_status() {
            Ok(s) => Finding::new("cache", Health::Ok, format!("the queue reads ({} tasks)", s.total_tasks), ""),
            Err(e) => Finding::new(
                "cache",
                Health::Fail,
                e.message,
                format!("delete {} (derived data, rebuilt on the next command)", self.ledger.cache_dir().display()),
            ),
        });
        out.push(match self.check() {
            Ok(report) if report.problems.is_empty() => Finding::new(
                "check",
                Health::Ok,
                format!("the ledger is valid ({})", crate::words::plural(report.files_checked, "file", "files")),
                "",
            ),
            Ok(report) => Finding::new(
                "check",
                Health::Fail,
                format!(
                    "{}, the first: {}: {}",
                    crate::words::plural(report.problems.len(), "problem", "problems"),
                    report.problems[0].file,
                    report.problems[0].message
                ),
                "abathur check lists them all, with what to do",
            ),
            Err(e) => Finding::new("check", Health::Fail, e.message, ""),
        });
        out.push(match crate::search::model::locate(&self.model_home, &self.config.search.model) {
            Ok(m) => Finding::new("model", Health::Ok, format!("{} in {}", m.manifest.name, m.dir.display()), ""),
            Err(e) => Finding::new(
                "model",
                Health::Warn,
                format!("{}: search works by words only", e.message),
                e.hints.first().cloned().unwrap_or_default(),
            ),
        });
        out.push(Finding::new(
            "hooks",
            Health::Ok,
            "none needed: the ledger is never in a code branch, and abathur commits it itself",
            "",
        ));
        out
    }
}
