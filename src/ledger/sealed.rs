//! A change prepared and signed outside the ledger lock, then applied under it: how a gate decision
//! is sealed without holding every claim behind the signer, all or nothing under SIGKILL.
//!
//! [`apply`] first records its intent durably (`cache/applying.toml`), then creates the tag, moves
//! the ledger branch (a fast-forward, or a merge when other writers moved it meanwhile: the signed
//! commit keeps the parent it was signed on) and writes the commit's files into the ledger folder.
//! A writer killed in between leaves the intent behind, and the next writer to take the lock
//! finishes it ([`recover`]) before doing anything else. Before the intent is written nothing is
//! visible: the signed objects are unreferenced, and git's gc removes them.

use std::path::Path;

use git2::{Oid, Repository};
use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};
use crate::git::sign::git_error;
use crate::ledger::history;

/// Where the intent of an apply in progress is recorded, relative to the ledger folder.
pub const INTENT: &str = "cache/applying.toml";

/// A commit (and tag) written and signed, not yet visible.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prepared {
    /// The commit, made on `parent`.
    pub commit: String,
    /// The ledger tip it was made on (empty: the branch did not exist).
    #[serde(default)]
    pub parent: String,
    /// The tag's name (`abathur/gate/M/<id>`), if it has one.
    #[serde(default)]
    pub tag: String,
    /// The tag object.
    #[serde(default)]
    pub tag_object: String,
}

impl Prepared {
    fn oid(text: &str, what: &str) -> Result<Option<Oid>> {
        if text.is_empty() {
            return Ok(None);
        }
        Oid::from_str(text)
            .map(Some)
            .map_err(|_| Error::malformed(Path::new(INTENT), format!("`{what}` is not an object id")))
    }
}

/// The ledger tip and a tree of it with `files` (paths relative to the ledger folder) written in:
/// what a sealed change will commit. The caller holds the ledger lock.
pub fn tree_on_tip(repo: &Repository, root: &Path, files: &[(String, Vec<u8>)]) -> Result<(Option<Oid>, Oid)> {
    let parent = history::tip(repo);
    let base = parent.as_ref().map(|c| c.tree()).transpose().map_err(|e| git_error("reading the ledger", e))?;
    let mut changes = Vec::with_capacity(files.len());
    for (rel, bytes) in files {
        super::checked_path(root, rel)?;
        let blob = repo.blob(bytes).map_err(|e| git_error("writing a blob", e))?;
        changes.push((history::tree_path(rel), Some(blob)));
    }
    let tree = history::apply(repo, base.as_ref(), &changes)?;
    Ok((parent.map(|c| c.id()), tree))
}

/// Writes the commit of `tree` on `parent` and its annotated tag `tag`, both signed when asked, as
/// unreferenced objects: the slow part, done outside the lock. A failure leaves nothing visible.
pub fn sign(
    repo: &Repository,
    tree: Oid,
    parent: Option<Oid>,
    message: &str,
    (tag, tag_message): (&str, &str),
    signer: Option<&crate::git::sign::Signer>,
) -> Result<Prepared> {
    let commit = history::write_commit(repo, tree, parent.into_iter().collect(), message, signer)?;
    let tag_object = crate::git::tag_object(repo, tag, commit, tag_message, signer)?;
    Ok(Prepared {
        commit: commit.to_string(),
        parent: parent.map(|p| p.to_string()).unwrap_or_default(),
        tag: tag.to_string(),
        tag_object: tag_object.to_string(),
    })
}

/// Makes `prepared` visible: tag, branch, files. The caller holds the ledger lock.
pub fn apply(repo: &Repository, root: &Path, prepared: &Prepared) -> Result<Oid> {
    let intent = root.join(INTENT);
    if let Some(dir) = intent.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let text = toml::to_string(prepared).expect("a prepared commit always serialises");
    super::atomic::write_with(&intent, text.as_bytes(), true)?;
    let tip = finish(repo, root, prepared)?;
    std::fs::remove_file(&intent).map_err(|e| Error::io(&intent, e))?;
    Ok(tip)
}

/// Finishes an apply a killed writer left half done. The caller holds the ledger lock.
pub fn recover(repo: &Repository, root: &Path) -> Result<()> {
    let intent = root.join(INTENT);
    let text = match std::fs::read_to_string(&intent) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(&intent, e)),
    };
    let prepared: Prepared = toml::from_str(&text).map_err(|e| Error::malformed(&intent, e.message().trim_end()))?;
    finish(repo, root, &prepared)?;
    std::fs::remove_file(&intent).map_err(|e| Error::io(&intent, e))
}

/// Each step checks whether it was done already, so running it again after a kill is safe.
fn finish(repo: &Repository, root: &Path, prepared: &Prepared) -> Result<Oid> {
    let commit_id = Prepared::oid(&prepared.commit, "commit")?
        .ok_or_else(|| Error::malformed(Path::new(INTENT), "`commit` is missing"))?;
    let parent = Prepared::oid(&prepared.parent, "parent")?;
    let commit = repo.find_commit(commit_id).map_err(|e| git_error("reading the prepared commit", e))?;
    if let Some(tag_object) = Prepared::oid(&prepared.tag_object, "tag_object")? {
        let name = format!("refs/tags/{}", prepared.tag);
        match repo.find_reference(&name) {
            Ok(existing) if existing.target() == Some(tag_object) => {}
            Ok(_) => return Err(Error::conflict(format!("tag {} exists already with another value", prepared.tag))),
            Err(_) => {
                history::clearing_stale_lock(repo, &name, || {
                    repo.reference(&name, tag_object, false, "abathur: gate tag")
                })
                .map_err(|e| git_error(&format!("creating tag {}", prepared.tag), e))?;
            }
        }
    }
    let parent_tree = parent
        .map(|p| repo.find_commit(p).and_then(|c| c.tree()))
        .transpose()
        .map_err(|e| git_error("reading the prepared commit's parent", e))?;
    let tree = commit.tree().map_err(|e| git_error("reading the prepared commit", e))?;
    let tip = history::tip(repo).map(|c| c.id());
    let new_tip = match tip {
        Some(t) if t == commit_id || repo.graph_descendant_of(t, commit_id).unwrap_or(false) => t,
        t if t == parent => {
            history::move_branch(repo, parent, commit_id, commit.message().unwrap_or("abathur"))?;
            commit_id
        }
        None => {
            return Err(Error::new(ErrorKind::Conflict, "the ledger branch was deleted while a decision was sealed")
                .hint("restore it (`git branch abathur-ledger <commit>`) and decide again"));
        }
        Some(t) => {
            // Other writers committed while it was signed: merge it in, with exactly its own changes.
            let ours = repo.find_commit(t).map_err(|e| git_error("reading the ledger tip", e))?;
            let ours_tree = ours.tree().map_err(|e| git_error("reading the ledger tree", e))?;
            let before = match &parent_tree {
                Some(p) => history::tree_files(p)?,
                None => Default::default(),
            };
            let after = history::tree_files(&tree)?;
            let mut changes: Vec<(String, Option<Oid>)> = after
                .iter()
                .filter(|(path, oid)| before.get(*path) != Some(*oid))
                .map(|(path, oid)| (history::tree_path(path), Some(*oid)))
                .collect();
            changes.extend(before.keys().filter(|p| !after.contains_key(*p)).map(|p| (history::tree_path(p), None)));
            let merged = history::apply(repo, Some(&ours_tree), &changes)?;
            let subject = commit.summary().ok().flatten().unwrap_or("a signed change");
            history::commit_tree(repo, merged, Some(t), Some(commit_id), &format!("Merge {subject}\n"), None)?
        }
    };
    history::check_out(repo, root, parent_tree.as_ref(), &tree)?;
    Ok(new_tip)
}
