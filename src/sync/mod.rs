//! Moving the ledger between machines through any git remote, with git's own protocols only.
//!
//! `abathur sync` records what is on disk, fetches the remote's ledger branch, merges it field by
//! field in process (`git::merge`), refuses a merge that would leave the ledger invalid, writes the
//! result into the ledger folder, commits the merge and pushes it with a compare-and-swap on the
//! value fetched; when the remote moved meanwhile, it does it all again. Network work runs outside
//! the ledger lock, so local claims never wait on the remote.
//!
//! The remote is per clone (`git config abathur.remote`), set by the first `sync --remote NAME`.

pub mod migrate;

use std::collections::BTreeSet;

use git2::{Oid, Repository};
use serde::Serialize;

use crate::error::{Error, ErrorKind, Result};
use crate::ledger::history;
use crate::ledger::remote::{REMOTE_KEY, configured_remote, fetch, push};
use crate::queue::task::State;
use crate::service::Service;

/// Attempts before a sync gives up on a remote that keeps moving.
const ATTEMPTS: usize = 10;

/// `abathur sync` options.
#[derive(Clone, Debug, Default)]
pub struct SyncRequest {
    /// The remote to sync with; remembered as this clone's ledger remote.
    pub remote: Option<String>,
}

/// What a sync did.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct SyncReply {
    /// The remote synced with.
    pub remote: String,
    /// The ledger tip after the sync.
    pub tip: String,
    /// Local changes (claims, heartbeats, crash leftovers) recorded before fetching.
    pub recorded: usize,
    /// Ledger files the remote's changes wrote or removed here.
    pub received: Vec<String>,
    /// Files both sides changed where a free-text field differed: this side's text was kept and
    /// the other is in the merge's second parent.
    pub conflicts: Vec<String>,
    /// Tasks a cascade had cancelled for a prerequisite the merge shows was completed after all
    /// (one machine cancelled it, another completed it): re-opened.
    pub reopened: Vec<String>,
    /// What the merge left for a person to decide (`abathur check` reports it too), such as a task
    /// waiting on a prerequisite another machine cancelled.
    pub warnings: Vec<String>,
    /// Whether the push published this clone's changes (false when there was nothing new).
    pub pushed: bool,
    /// Fetch-merge-push rounds needed (more than 1 when another machine pushed meanwhile).
    pub attempts: usize,
}

/// What `abathur ledger commit` recorded.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct RecordReply {
    /// Files committed, relative to the ledger folder; empty when everything was committed already.
    pub files: Vec<String>,
    /// The ledger branch's tip afterwards.
    pub tip: String,
}

/// `abathur ledger status`.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct LedgerStatus {
    /// The ledger folder.
    pub ledger: String,
    /// The branch holding its commits.
    pub branch: String,
    /// The branch's tip.
    pub tip: Option<String>,
    /// Files that differ from the tip (volatile claims and heartbeats, or a crash's leftovers).
    pub uncommitted: Vec<String>,
    /// This clone's ledger remote, when one is configured.
    pub remote: Option<String>,
    /// Whether claims are compare-and-swaps on the remote.
    pub claims: String,
}

impl Service {
    /// This clone's ledger remote, if one is configured.
    pub fn sync_remote(&self) -> Option<String> {
        configured_remote(self.ledger.git_dir())
    }

    /// The ledger's location, branch, uncommitted files and remote.
    pub fn ledger_status(&self) -> Result<LedgerStatus> {
        let repo = self.ledger.repo()?;
        let remote = configured_remote(self.ledger.git_dir());
        Ok(LedgerStatus {
            ledger: self.ledger.root().display().to_string(),
            branch: history::BRANCH.into(),
            tip: history::tip(&repo).map(|c| c.id().to_string()),
            uncommitted: history::uncommitted(&repo, self.ledger.root())?,
            claims: if remote.is_some() { "remote".into() } else { "local".into() },
            remote,
        })
    }

    /// Syncs the ledger with its remote (see the module documentation).
    pub fn sync(&self, req: SyncRequest) -> Result<SyncReply> {
        let repo = self.ledger.repo()?;
        let remote = match req.remote.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
            Some(name) => {
                repo.find_remote(name).map_err(|_| {
                    Error::new(ErrorKind::Validation, format!("remote: `{name}` is not a remote of this repository"))
                        .hint("add it first: git remote add <name> <url>")
                })?;
                let mut config = repo.config().map_err(|e| crate::git::sign::git_error("reading git config", e))?;
                config.set_str(REMOTE_KEY, name).map_err(|e| crate::git::sign::git_error("writing git config", e))?;
                name.to_string()
            }
            None => configured_remote(self.ledger.git_dir()).ok_or_else(|| {
                Error::new(ErrorKind::Validation, "no ledger remote is configured for this clone")
                    .hint("run `abathur sync --remote origin` once; later syncs use it")
            })?,
        };
        let recorded = {
            let _lock = self.ledger.lock()?;
            self.record_disk(&repo)?
        };
        let tracking = format!("refs/remotes/{remote}/{}", history::BRANCH);
        let mut reply = SyncReply {
            remote: remote.clone(),
            tip: String::new(),
            recorded,
            received: Vec::new(),
            conflicts: Vec::new(),
            reopened: Vec::new(),
            warnings: Vec::new(),
            pushed: false,
            attempts: 0,
        };
        for attempt in 1..=ATTEMPTS {
            reply.attempts = attempt;
            let theirs = fetch(self.ledger.git_dir(), &remote, &tracking)?;
            let merged = {
                let _lock = self.ledger.lock()?;
                self.merge_remote(&repo, theirs)?
            };
            reply.received.extend(merged.received);
            reply.conflicts.extend(merged.conflicts);
            reply.reopened.extend(merged.reopened);
            reply.warnings.extend(merged.warnings);
            let Some(ours) = history::tip(&repo).map(|c| c.id()) else { break };
            reply.tip = ours.to_string();
            let done = Some(ours) == theirs || {
                reply.pushed = push(self.ledger.git_dir(), &remote, ours, theirs)?;
                reply.pushed
            };
            if done {
                if reply.pushed {
                    // libgit2 never packs: let git pack the ledger's loose objects when it would.
                    let _ = crate::ledger::remote::git(self.ledger.git_dir(), &["gc", "--auto", "--quiet"]);
                }
                for list in [&mut reply.received, &mut reply.conflicts] {
                    list.sort();
                    list.dedup();
                }
                return Ok(reply);
            }
        }
        Err(Error::new(ErrorKind::Busy, format!("the remote `{remote}` kept moving: gave up after {ATTEMPTS} rounds"))
            .hint("run `abathur sync` again"))
    }

    /// Commits what was changed in the ledger folder by hand (or by a tool): every file that differs
    /// from the branch tip, with `note` as the message's first paragraph.
    pub fn ledger_record(&self, note: Option<&str>, sign: bool) -> Result<RecordReply> {
        let repo = self.ledger.repo()?;
        let signer = if sign { Some(crate::git::signer(&repo)?) } else { None };
        let _lock = self.ledger.lock()?;
        let files = history::uncommitted(&repo, self.ledger.root())?;
        self.record_disk_with(&repo, note, signer.as_ref(), true)?;
        Ok(RecordReply { files, tip: history::tip(&repo).map(|c| c.id().to_string()).unwrap_or_default() })
    }

    /// Commits every file that differs from the ledger tip (the caller holds the lock), except a
    /// changed allowed_signers: a person commits that, signed (`abathur ledger commit --sign`).
    fn record_disk(&self, repo: &Repository) -> Result<usize> {
        self.record_disk_with(repo, None, None, false)
    }

    fn record_disk_with(
        &self,
        repo: &Repository,
        note: Option<&str>,
        signer: Option<&crate::git::sign::Signer>,
        policy: bool,
    ) -> Result<usize> {
        self.ledger.commit_volatile()?;
        let mut changed = history::uncommitted(repo, self.ledger.root())?;
        if !policy {
            changed.retain(|f| f != crate::gate::trust::POLICY);
        }
        if changed.is_empty() {
            return Ok(0);
        }
        // Hand edits are committed only when valid: never conflict markers or a broken file.
        if let Some(bad) = changed.iter().find_map(|f| self.unreadable(f)) {
            return Err(Error::new(ErrorKind::Validation, format!("a ledger file was changed by hand and is not valid: {}", bad.message))
            .hint("fix the file (`abathur check` lists every problem) or restore it (`abathur ledger status` shows what changed), then try again"));
        }
        let mut message = crate::git::ledger_message::message_for(repo, self.ledger.root(), &changed);
        // A person's message leads, as with `git commit -m`: its first line is the subject, and
        // what abathur would have written (the files, the trailers) follows as the body.
        if let Some(note) = note.map(str::trim).filter(|n| !n.is_empty()) {
            message = format!("{note}\n\n{message}");
        }
        history::commit(
            repo,
            self.ledger.root(),
            &history::Commit { paths: &changed, message: &message, signer, allow_empty: false },
        )?;
        Ok(changed.len())
    }

    /// Brings the remote's ledger (`theirs`) into this one: a fast-forward, or a field-wise merge
    /// that must leave the ledger valid. The caller holds the lock.
    fn merge_remote(&self, repo: &Repository, theirs: Option<Oid>) -> Result<Merged> {
        let root = self.ledger.root();
        // Whatever abathur wrote since the first step (claims, heartbeats, durable writes) is recorded
        // first, so the folder equals the tip (hand edits were recorded by that first step).
        self.ledger.commit_volatile()?;
        let Some(theirs) = theirs else { return Ok(Merged::default()) };
        let err = |e| crate::git::sign::git_error("merging the ledger", e);
        let their_commit = repo.find_commit(theirs).map_err(err)?;
        let Some(ours) = history::tip(repo) else {
            // A clone that had no ledger commits of its own: take the remote's.
            let received = history::check_out(repo, root, None, &their_commit.tree().map_err(err)?)?;
            history::move_branch(repo, None, theirs, "abathur: ledger from the remote")?;
            return Ok(Merged { received, ..Merged::default() });
        };
        if ours.id() == theirs || repo.graph_descendant_of(ours.id(), theirs).map_err(err)? {
            return Ok(Merged::default());
        }
        let our_tree = ours.tree().map_err(err)?;
        if repo.graph_descendant_of(theirs, ours.id()).map_err(err)? {
            let received = history::check_out(repo, root, Some(&our_tree), &their_commit.tree().map_err(err)?)?;
            history::move_branch(repo, Some(ours.id()), theirs, "abathur: sync (fast-forward)")?;
            return Ok(Merged { received, ..Merged::default() });
        }
        let base = repo.merge_base(ours.id(), theirs).ok().map(|b| repo.find_commit(b).and_then(|c| c.tree()));
        let base = base.transpose().map_err(err)?;
        let (tree, conflicts) = merge_trees(repo, base.as_ref(), &our_tree, &their_commit.tree().map_err(err)?)?;
        let merged_tree = repo.find_tree(tree).map_err(err)?;
        // Into the folder first, then the commit: a crash between leaves files the next sync records.
        let received = history::check_out(repo, root, Some(&our_tree), &merged_tree)?;
        // A merge that would close a dependency cycle is refused; what it leaves to a person's
        // judgement (a task waiting on a prerequisite cancelled elsewhere, a file broken elsewhere,
        // which fails closed wherever it is read) is reported.
        let after = self.check()?.problems;
        // Problems the ledger had already are not the merge's: compared only when there are any.
        let before = if after.is_empty() {
            Vec::new()
        } else {
            history::check_out(repo, root, Some(&merged_tree), &our_tree)?;
            let before = self.check()?.problems;
            history::check_out(repo, root, Some(&our_tree), &merged_tree)?;
            before
        };
        let new: Vec<_> =
            after.iter().filter(|p| !before.iter().any(|b| b.file == p.file && b.message == p.message)).collect();
        if let Some(bad) = new.iter().find(|p| p.message.contains("dependency cycle") || p.message.contains(" forks: "))
        {
            history::check_out(repo, root, Some(&merged_tree), &our_tree)?;
            let hint = if bad.message.contains(" forks: ") {
                "the same gate was decided here and on another machine, and only one decision may stand: agree which, then remove the other from the ledger it was made in (its gates/ files, follow-up tasks and tag) before syncing"
            } else {
                "change the ledger here so the two agree (for example drop one prerequisite), then sync again"
            };
            return Err(Error::new(
                ErrorKind::Conflict,
                format!("merging the remote's ledger would leave it invalid: {}: {}", bad.file, bad.message),
            )
            .hint(hint));
        }
        let mut message = String::from("abathur: sync (merge)\n\n");
        for file in &received {
            message.push_str(&format!("- {file}\n"));
        }
        for file in &conflicts {
            message.push_str(&format!("- conflict in {file}: kept this side's text\n"));
        }
        history::commit_tree(repo, tree, Some(ours.id()), Some(theirs), &message, None)?;
        let reopened = self.reopen_revived(&received)?;
        let warnings = new.iter().map(|p| format!("{}: {}", p.file, p.message)).collect();
        Ok(Merged { received, conflicts, reopened, warnings })
    }

    /// Re-opens the tasks a cascade cancelled because of a prerequisite that the merge shows was
    /// not cancelled or failed after all (one machine cancelled it, the other completed it): their
    /// reason is gone. Committed as a change of its own. The caller holds the lock.
    fn reopen_revived(&self, received: &[String]) -> Result<Vec<String>> {
        let view = self.queue_view()?;
        let now = self.clock.now();
        let mut reopened = Vec::new();
        for rel in received {
            let Some(id) = rel.strip_prefix("tasks/").and_then(|n| n.strip_suffix(".toml")) else { continue };
            let Some(root) = view.heads.iter().position(|h| h.id.to_string() == id) else { continue };
            let root_record = self.tasks.read(&view.heads[root].id)?;
            if matches!(root_record.state, State::Cancelled | State::Failed) {
                continue;
            }
            let causes = [format!("prerequisite {id} was cancelled"), format!("prerequisite {id} failed")];
            let mut stack = vec![root];
            let mut seen = std::collections::HashSet::from([root]);
            while let Some(i) = stack.pop() {
                for &j in &view.graph.dependents[i] {
                    if !seen.insert(j) {
                        continue;
                    }
                    stack.push(j);
                    let mut record = self.tasks.read(&view.heads[j].id)?;
                    let cascaded = record.state == State::Cancelled
                        && record.events.last().is_some_and(|e| {
                            e.event == "cancelled" && e.note.as_ref().is_some_and(|n| causes.contains(n))
                        });
                    if cascaded {
                        record.state = State::Pending;
                        record.completed_at = None;
                        record.last_updated_at = now;
                        let note = format!("prerequisite {id} is {} after a merge", root_record.state.as_str());
                        record.record_event(now, "reopened", None, Some(note));
                        self.tasks.write(&record)?;
                        reopened.push(record.id.to_string());
                    }
                }
            }
        }
        Ok(reopened)
    }
}

#[derive(Default)]
struct Merged {
    received: Vec<String>,
    conflicts: Vec<String>,
    reopened: Vec<String>,
    warnings: Vec<String>,
}

/// Three-way merge of two ledger trees, file by file and, where both changed a file, field by
/// field. A file one side deleted and the other changed is kept (facts are never dropped).
fn merge_trees(
    repo: &Repository,
    base: Option<&git2::Tree<'_>>,
    ours: &git2::Tree<'_>,
    theirs: &git2::Tree<'_>,
) -> Result<(Oid, Vec<String>)> {
    let files = |t: Option<&git2::Tree<'_>>| t.map(history::tree_files).transpose();
    let (b, o, t) = (files(base)?.unwrap_or_default(), files(Some(ours))?.unwrap_or_default(), files(Some(theirs))?);
    let t = t.unwrap_or_default();
    let text = |oid: Option<&Oid>| -> Result<String> {
        match oid {
            None => Ok(String::new()),
            Some(oid) => repo
                .find_blob(*oid)
                .map(|b| String::from_utf8_lossy(b.content()).into_owned())
                .map_err(|e| crate::git::sign::git_error("reading a ledger blob", e)),
        }
    };
    let mut changes: Vec<(String, Option<Oid>)> = Vec::new();
    let mut conflicts = Vec::new();
    let paths: BTreeSet<&String> = o.keys().chain(t.keys()).collect();
    for path in paths {
        let (bo, oo, to) = (b.get(path), o.get(path), t.get(path));
        let take = match (oo, to) {
            _ if oo == to || to == bo => continue,
            _ if oo == bo => to.copied(),
            (Some(_), None) => continue,
            (None, Some(theirs)) => Some(*theirs),
            (Some(_), Some(_)) => {
                let merged = crate::git::merge::merge_file(path, &text(bo)?, &text(oo)?, &text(to)?);
                match merged {
                    Ok(m) if m.conflicts.is_empty() => Some(
                        repo.blob(m.text.as_bytes()).map_err(|e| crate::git::sign::git_error("writing a blob", e))?,
                    ),
                    _ => {
                        conflicts.push(path.clone());
                        continue;
                    }
                }
            }
            (None, None) => continue,
        };
        changes.push((history::tree_path(path), take));
    }
    Ok((history::apply(repo, Some(ours), &changes)?, conflicts))
}
