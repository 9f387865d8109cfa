//! The ledger's remote: this clone's choice of it, git's own fetch and push against it, and
//! claims that are atomic across machines (compare-and-swap pushes of one ref per task).
//!
//! A claim ref `refs/abathur/claims/<task>` on the remote points at a small commit (empty tree)
//! whose message says who holds the task until when, or that it was released or finished. Taking
//! a task is a create-only push (`--force-with-lease=<ref>:` with an empty expected value: the
//! remote refuses if the ref exists); renewing, releasing or finishing is a swap on the value this
//! clone pushed last; taking over an expired or released claim is a swap on the value read. The
//! remote's receive-pack compares and moves the ref under its own lock, so of two machines racing
//! for one task exactly one push succeeds, and the loser learns it at once.

use std::path::Path;
use std::process::Command;

use git2::{Oid, Repository};

use crate::error::{Error, ErrorKind, Result};
use crate::ledger::history;
use crate::time::Timestamp;

/// The git config key naming this clone's ledger remote.
pub const REMOTE_KEY: &str = "abathur.remote";

/// Where claim refs live, on the remote and (as the last value this clone pushed) locally.
pub const CLAIMS: &str = "refs/abathur/claims";

/// The remote's claim refs as this clone last fetched them (by `sync`, or after a lost race).
pub const KNOWN: &str = "refs/abathur/remote-claims";

/// This clone's ledger remote, from the repository's own config file (cheaper than opening the
/// repository, and every claim asks).
pub fn configured_remote(git_dir: &Path) -> Option<String> {
    let config = git2::Config::open(&git_dir.join("config")).ok()?;
    config.get_string(REMOTE_KEY).ok().filter(|r| !r.trim().is_empty())
}

/// The refs a `git push --porcelain` was refused, with git's reason, leaving out those refused only
/// because another ref of the same atomic push was.
fn refused(out: &std::process::Output) -> Vec<(String, String)> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("!\t"))
        .filter_map(|l| {
            let (spec, reason) = l.split_once('\t')?;
            let target = spec.rsplit(':').next()?.to_string();
            Some((target, reason.to_string()))
        })
        .filter(|(_, reason)| !reason.contains("atomic push failed"))
        .collect()
}

/// Runs git on the repository, never prompting (an agent has no terminal).
pub fn git(git_dir: &Path, args: &[&str]) -> Result<std::process::Output> {
    Command::new("git")
        .arg(format!("--git-dir={}", git_dir.display()))
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_SSH_COMMAND", std::env::var("GIT_SSH_COMMAND").unwrap_or_else(|_| "ssh -o BatchMode=yes".into()))
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| Error::new(ErrorKind::Internal, format!("cannot run git: {e}")).hint("install git"))
}

fn git_failure(doing: &str, out: &std::process::Output) -> Error {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let reason = stderr.lines().filter(|l| !l.trim().is_empty()).collect::<Vec<_>>().join("; ");
    Error::new(ErrorKind::Internal, format!("{doing}: {reason}"))
        .hint("check the remote's URL and your access (git fetch must work); offline, everything works locally and syncs later")
}

/// Fetches the remote's ledger branch and gate tags; returns its tip, `None` when it has none yet.
pub fn fetch(git_dir: &Path, remote: &str, tracking: &str) -> Result<Option<Oid>> {
    let branch = format!("+{}:{tracking}", history::REF);
    let claims = format!("+{CLAIMS}/*:{KNOWN}/*");
    let out = git(
        git_dir,
        &["fetch", "--quiet", "--no-tags", remote, &branch, "refs/tags/abathur/*:refs/tags/abathur/*", &claims],
    )?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        if stderr.contains("couldn't find remote ref") {
            // A remote without a ledger yet: fetch the tags alone (there can be none either).
            return Ok(None);
        }
        return Err(git_failure(&format!("fetching the ledger from `{remote}`"), &out));
    }
    let repo = Repository::open(git_dir).map_err(|e| crate::git::sign::git_error("opening the repository", e))?;
    Ok(repo.refname_to_id(tracking).ok())
}

/// Pushes `tip` as the remote's ledger branch if it still is `expected`, with the gate tags, in one
/// atomic push. `false`: the remote moved (fetch and merge again).
pub fn push(git_dir: &Path, remote: &str, tip: Oid, expected: Option<Oid>) -> Result<bool> {
    let lease = format!("--force-with-lease={}:{}", history::REF, expected.map(|e| e.to_string()).unwrap_or_default());
    let refspec = format!("{tip}:{}", history::REF);
    let out = git(
        git_dir,
        &[
            "push",
            "--porcelain",
            "--atomic",
            "--no-verify",
            &lease,
            remote,
            &refspec,
            "refs/tags/abathur/*:refs/tags/abathur/*",
        ],
    )?;
    if out.status.success() {
        return Ok(true);
    }
    let refused = refused(&out);
    match refused.iter().find(|(target, _)| target != history::REF) {
        // A gate tag the remote has with another value: two machines decided one gate.
        Some((tag, reason)) => Err(Error::new(
            ErrorKind::Conflict,
            format!("the remote `{remote}` refused {tag}: {reason}; its copy differs from this clone's"),
        )
        .hint("compare the two decisions (`abathur gate verify --all` on both clones) and keep one")),
        None if !refused.is_empty() => Ok(false),
        None => Err(git_failure(&format!("pushing the ledger to `{remote}`"), &out)),
    }
}

/// What a claim ref says about its task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClaimState {
    /// Held by `holder` until `expires`.
    Held {
        /// The agent holding it.
        holder: String,
        /// The lease id.
        lease: String,
        /// When the lease lapses unless renewed.
        expires: Timestamp,
    },
    /// Given back to the queue (a failure with retries left): anyone may take it.
    Released,
    /// Finished (completed, failed or cancelled) somewhere: nobody may take it again.
    Finished(String),
}

/// The outcome of trying to take a task on the remote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Taken {
    /// This clone holds it now.
    Won,
    /// Another machine holds or finished it; why, for the reply.
    Lost(String),
}

/// This clone's claims on its ledger remote.
#[derive(Clone, Debug)]
pub struct RemoteClaims {
    git_dir: std::path::PathBuf,
    remote: String,
}

impl RemoteClaims {
    /// The remote claims of the repository at `git_dir`, when a ledger remote is configured.
    pub fn configured(git_dir: &Path) -> Option<RemoteClaims> {
        Some(RemoteClaims { git_dir: git_dir.to_path_buf(), remote: configured_remote(git_dir)? })
    }

    /// The remote's name.
    pub fn remote(&self) -> &str {
        &self.remote
    }

    /// Takes task `id` on the remote for `holder`: a create-only push, or a swap on an expired or
    /// released claim. `Err` only when the remote cannot be reached or refuses for another reason.
    pub fn acquire(&self, id: &str, holder: &str, lease: &str, expires: Timestamp, now: Timestamp) -> Result<Taken> {
        // What this clone last learned of the remote's claim (by `sync`, or a lost race) answers
        // without a round trip when it says the task is finished or held: such a task can only
        // become free by its holder's lease lapsing.
        if let Some((_, known)) = self.known(id)? {
            match known {
                ClaimState::Finished(what) => {
                    return Ok(Taken::Lost(format!("{what} on another machine; `abathur sync` brings it here")));
                }
                ClaimState::Held { holder: other, expires: until, .. } if until > now => {
                    return Ok(Taken::Lost(format!("held by {other} on another machine until {until}")));
                }
                _ => {}
            }
        }
        let mine = ClaimState::Held { holder: holder.into(), lease: lease.into(), expires };
        let value = self.write_value(id, &mine)?;
        if self.swap(id, value, None)? {
            return self.remember(id, value).map(|()| Taken::Won);
        }
        // Someone has the ref: see what it says, and take it over only if it lapsed or was given back.
        // A failed read still means someone else has it.
        let Ok(Some((current, state))) = self.read(id) else {
            return Ok(Taken::Lost("another machine moved its claim meanwhile".into()));
        };
        match state {
            ClaimState::Held { holder: other, expires: until, .. } if until > now => {
                Ok(Taken::Lost(format!("held by {other} on another machine until {until}")))
            }
            ClaimState::Finished(what) => {
                Ok(Taken::Lost(format!("{what} on another machine; `abathur sync` brings it here")))
            }
            _ => {
                if self.swap(id, value, Some(current))? {
                    self.remember(id, value).map(|()| Taken::Won)
                } else {
                    Ok(Taken::Lost("another machine took it over at the same moment".into()))
                }
            }
        }
    }

    /// Moves this clone's claim on `id` to `state` (a renewal, a release, a finish), as a swap on
    /// the value this clone pushed last. `Ok(false)`: another machine took the task over.
    pub fn update(&self, id: &str, state: &ClaimState) -> Result<bool> {
        let repo = self.repo()?;
        let mine = repo.refname_to_id(&format!("{CLAIMS}/{id}")).ok();
        let value = self.write_value(id, state)?;
        let expected = match mine {
            Some(oid) => Some(oid),
            // Never claimed here (a cancel of a waiting task): finish whatever the remote has,
            // unless a live holder elsewhere has it.
            None => match self.read(id)? {
                None => None,
                Some((_, ClaimState::Held { .. })) if !matches!(state, ClaimState::Finished(_)) => return Ok(false),
                Some((oid, _)) => Some(oid),
            },
        };
        if self.swap(id, value, expected)? {
            self.remember(id, value)?;
            return Ok(true);
        }
        Ok(false)
    }

    fn repo(&self) -> Result<Repository> {
        Repository::open(&self.git_dir).map_err(|e| crate::git::sign::git_error("opening the repository", e))
    }

    /// A claim value: a commit with the empty tree whose message states the claim.
    fn write_value(&self, id: &str, state: &ClaimState) -> Result<Oid> {
        let repo = self.repo()?;
        let body = match state {
            ClaimState::Held { holder, lease, expires } => {
                format!("state: held\nholder: {holder}\nlease: {lease}\nexpires: {expires}\n")
            }
            ClaimState::Released => "state: released\n".to_string(),
            ClaimState::Finished(what) => format!("state: finished\nnote: {what}\n"),
        };
        let tree = history::apply(&repo, None, &[])?;
        let tree = repo.find_tree(tree).map_err(|e| crate::git::sign::git_error("reading a tree", e))?;
        let who = history::identity(&repo);
        repo.commit(None, &who, &who, &format!("abathur claim {id}\n\n{body}"), &tree, &[])
            .map_err(|e| crate::git::sign::git_error("writing a claim", e))
    }

    /// Records `value` as the claim this clone pushed last, and as what the remote now holds: what
    /// `sync` fetched earlier (this clone's own claim as held) must not outlive a release.
    fn remember(&self, id: &str, value: Oid) -> Result<()> {
        let repo = self.repo()?;
        for space in [CLAIMS, KNOWN] {
            repo.reference(&format!("{space}/{id}"), value, true, "abathur: claim")
                .map_err(|e| crate::git::sign::git_error("recording a claim", e))?;
        }
        Ok(())
    }

    /// Pushes `value` as the claim ref if the remote still has `expected` (`None`: no ref at all).
    fn swap(&self, id: &str, value: Oid, expected: Option<Oid>) -> Result<bool> {
        let name = format!("{CLAIMS}/{id}");
        let lease = format!("--force-with-lease={name}:{}", expected.map(|e| e.to_string()).unwrap_or_default());
        let refspec = format!("{value}:{name}");
        let out = git(&self.git_dir, &["push", "--porcelain", "--no-verify", &lease, &self.remote, &refspec])?;
        if out.status.success() {
            return Ok(true);
        }
        if !refused(&out).is_empty() {
            return Ok(false);
        }
        Err(git_failure(&format!("claiming on `{}`", self.remote), &out))
    }

    /// The remote's claim ref for `id` and what it says; `None` when it has none.
    fn read(&self, id: &str) -> Result<Option<(Oid, ClaimState)>> {
        let spec = format!("+{CLAIMS}/{id}:{KNOWN}/{id}");
        let out = git(&self.git_dir, &["fetch", "--quiet", "--no-tags", &self.remote, &spec])?;
        if !out.status.success() {
            if String::from_utf8_lossy(&out.stderr).contains("couldn't find remote ref") {
                return Ok(None);
            }
            return Err(git_failure(&format!("reading a claim on `{}`", self.remote), &out));
        }
        self.known(id)
    }

    /// The remote's claim on `id` as this clone last fetched it.
    fn known(&self, id: &str) -> Result<Option<(Oid, ClaimState)>> {
        let repo = self.repo()?;
        let Ok(oid) = repo.refname_to_id(&format!("{KNOWN}/{id}")) else { return Ok(None) };
        let commit = repo.find_commit(oid).map_err(|e| crate::git::sign::git_error("reading a claim", e))?;
        Ok(Some((oid, parse_claim(commit.message().unwrap_or("")))))
    }
}

/// Reads a claim message; anything unreadable counts as released (the CAS still decides).
fn parse_claim(message: &str) -> ClaimState {
    let field = |name: &str| {
        message.lines().find_map(|l| l.strip_prefix(&format!("{name}: ")).map(str::to_string)).unwrap_or_default()
    };
    match field("state").as_str() {
        "held" => match Timestamp::parse(&field("expires")) {
            Ok(expires) => ClaimState::Held { holder: field("holder"), lease: field("lease"), expires },
            Err(_) => ClaimState::Released,
        },
        "finished" => ClaimState::Finished(field("note")),
        _ => ClaimState::Released,
    }
}
