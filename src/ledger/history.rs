//! The ledger's history: its files committed on the branch `abathur-ledger` of the repository.
//!
//! The live ledger is a plain folder in the git directory (see the module above), outside every
//! work tree; this module turns changes of that folder into commits on the ledger branch and
//! commits back into files. Commits are built from trees directly (no index, no work tree), so they
//! never touch what `git status` of a code work tree reports, and every ref move is a
//! compare-and-swap on the value the writer started from.
//!
//! Task files are sharded in the commits by the last two characters of the id, the random end of
//! the ULID (`tasks/<last>/<second last>/<id>.toml`: 32 × 32 folders), so that a commit rewrites a
//! few trees of a few dozen entries rather than one listing every task ever made; on disk they stay
//! in one folder, as people and the cache expect.

use std::collections::BTreeMap;
use std::path::Path;

use git2::{ObjectType, Oid, Repository, Tree};

use crate::error::{Error, ErrorKind, Result};
use crate::git::sign::{Signer, git_error};

/// The branch holding the ledger's commits.
pub const BRANCH: &str = "abathur-ledger";
/// Its full ref name.
pub const REF: &str = "refs/heads/abathur-ledger";

/// Files and folders of the live ledger that are never committed: derived data, the lock, the
/// record of writes not yet committed, and temporary files.
pub fn is_local_only(rel: &str) -> bool {
    let first = rel.split('/').next().unwrap_or(rel);
    matches!(first, "cache" | "ledger.lock" | ".gitignore")
        || rel.rsplit('/').next().is_some_and(|name| name.starts_with(super::atomic::TEMP_PREFIX))
}

/// Where a ledger file (relative to the ledger folder) lives in the ledger's commits.
pub fn tree_path(rel: &str) -> String {
    match rel.strip_prefix("tasks/") {
        Some(name) if !name.contains('/') && name.len() > 7 && name.ends_with(".toml") && name.is_ascii() => {
            let id = &name.as_bytes()[..name.len() - 5];
            let (last, second) = (id[id.len() - 1] as char, id[id.len() - 2] as char);
            format!("tasks/{last}/{second}/{name}")
        }
        _ => rel.to_string(),
    }
}

/// The inverse of [`tree_path`]: where a committed file lives in the ledger folder.
pub fn disk_path(tree_rel: &str) -> String {
    let sharded = tree_rel.strip_prefix("tasks/").and_then(|rest| {
        let mut parts = rest.split('/');
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some(a), Some(b), Some(name), None) if a.len() == 1 && b.len() == 1 => Some(name),
            _ => None,
        }
    });
    match sharded {
        Some(name) => format!("tasks/{name}"),
        None => tree_rel.to_string(),
    }
}

/// The ledger branch's tip, if it exists.
pub fn tip(repo: &Repository) -> Option<git2::Commit<'_>> {
    repo.find_reference(REF).ok()?.peel_to_commit().ok()
}

/// One commit to make: the files (relative to the ledger folder) whose disk content it records
/// (a file missing on disk is removed) and its message.
pub struct Commit<'a> {
    /// Ledger files to record as they are on disk now.
    pub paths: &'a [String],
    /// The message, trailers included.
    pub message: &'a str,
    /// Sign the commit with this signer.
    pub signer: Option<&'a Signer>,
    /// Record a commit even when the tree is unchanged (a gate decision always has its own commit).
    pub allow_empty: bool,
}

/// Commits `req.paths` from `root` on top of the ledger branch and moves the branch, only if it
/// still points where it did when the commit was built. Returns the new tip, or `None` when the
/// files already match it.
pub fn commit(repo: &Repository, root: &Path, req: &Commit<'_>) -> Result<Option<Oid>> {
    let parent = tip(repo);
    let base = parent.as_ref().map(|c| c.tree()).transpose().map_err(|e| git_error("reading the ledger tree", e))?;
    // No branch yet (a new ledger, or the branch was deleted): the first commit records the whole
    // folder, never just the files of one change.
    let all;
    let paths = match parent {
        Some(_) => req.paths,
        None => {
            all = disk_files(root)?;
            &all
        }
    };
    let mut changes = Vec::with_capacity(paths.len());
    for rel in paths {
        if is_local_only(rel) {
            continue;
        }
        let path = root.join(rel);
        let blob = match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_file() => {
                let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
                Some(repo.blob(&bytes).map_err(|e| git_error("writing a blob", e))?)
            }
            Ok(meta) if meta.is_dir() => continue,
            Ok(_) => {
                return Err(Error::new(ErrorKind::Validation, format!("{}: not a regular file", path.display()))
                    .hint("the ledger holds only plain files; remove the link or special file"));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(Error::io(&path, e)),
        };
        changes.push((tree_path(rel), blob));
    }
    let tree = apply(repo, base.as_ref(), &changes)?;
    if !req.allow_empty && base.as_ref().is_some_and(|b| b.id() == tree) {
        return Ok(None);
    }
    commit_tree(repo, tree, parent.as_ref().map(|c| c.id()), None, req.message, req.signer).map(Some)
}

/// Writes a commit of `tree` on `parent` (and `merged`) and moves the ledger branch from `parent`
/// to it; another writer having moved the branch meanwhile is a conflict, never overwritten.
pub fn commit_tree(
    repo: &Repository,
    tree: Oid,
    parent: Option<Oid>,
    merged: Option<Oid>,
    message: &str,
    signer: Option<&Signer>,
) -> Result<Oid> {
    let oid = write_commit(repo, tree, parent.into_iter().chain(merged).collect(), message, signer)?;
    move_branch(repo, parent, oid, message)?;
    Ok(oid)
}

/// Writes a commit of `tree` on `parents`, signed when asked, without moving any ref.
pub fn write_commit(
    repo: &Repository,
    tree: Oid,
    parents: Vec<Oid>,
    message: &str,
    signer: Option<&Signer>,
) -> Result<Oid> {
    let tree = repo.find_tree(tree).map_err(|e| git_error("reading the ledger tree", e))?;
    let who = identity(repo);
    let parents: Vec<git2::Commit<'_>> = parents
        .into_iter()
        .map(|id| repo.find_commit(id))
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| git_error("reading the ledger tip", e))?;
    let parent_refs: Vec<&git2::Commit<'_>> = parents.iter().collect();
    let oid = match signer {
        Some(signer) => {
            let buffer = repo
                .commit_create_buffer(&who, &who, message, &tree, &parent_refs)
                .map_err(|e| git_error("preparing the commit", e))?;
            let payload = buffer.as_str().map_err(|_| Error::new(ErrorKind::Internal, "commit buffer is not UTF-8"))?;
            let signature = signer.sign(payload.as_bytes())?;
            repo.commit_signed(payload, &signature, None).map_err(|e| git_error("writing the signed commit", e))?
        }
        None => repo
            .commit(None, &who, &who, message, &tree, &parent_refs)
            .map_err(|e| git_error("writing the commit", e))?,
    };
    Ok(oid)
}

/// Moves the ledger branch from `expected` (`None`: it must not exist yet) to `new`.
pub fn move_branch(repo: &Repository, expected: Option<Oid>, new: Oid, message: &str) -> Result<()> {
    let subject = message.lines().next().unwrap_or("abathur");
    let moved = clearing_stale_lock(repo, REF, || match expected {
        Some(old) => repo.reference_matching(REF, new, true, old, subject),
        None => repo.reference(REF, new, false, subject),
    });
    moved.map(|_| ()).map_err(|e| {
        Error::new(
            ErrorKind::Conflict,
            format!("the ledger branch {BRANCH} moved while this change was committed: {}", e.message()),
        )
        .hint("retry; another process committed to the ledger at the same moment")
    })
}

/// Runs a ref update, and once more if it failed on a lock file that outlives a second: one an
/// abathur writer left when it was killed. The caller holds the ledger lock, so no other abathur
/// writer moves these refs; a git command of a person holds such a lock for milliseconds.
pub fn clearing_stale_lock<T>(
    repo: &Repository,
    refname: &str,
    mut update: impl FnMut() -> std::result::Result<T, git2::Error>,
) -> std::result::Result<T, git2::Error> {
    let first = update();
    let lock = repo.path().join(format!("{refname}.lock"));
    if first.is_ok() || !lock.exists() {
        return first;
    }
    for _ in 0..20 {
        std::thread::sleep(std::time::Duration::from_millis(50));
        if !lock.exists() {
            return update();
        }
    }
    let _ = std::fs::remove_file(&lock);
    update()
}

/// The identity abathur commits as: git's configured one, else a stand-in naming abathur (agents
/// often run where no `user.name` is set, and a ledger write must not fail for that).
///
/// Under a pinned clock (`ABATHUR_NOW`, for tests and demos) the commits carry that time too, so a
/// ledger's history lines up with the times its files record.
pub fn identity(repo: &Repository) -> git2::Signature<'static> {
    let who = repo
        .signature()
        .or_else(|_| git2::Signature::now("abathur", "abathur@localhost"))
        .expect("a fixed name and e-mail are a valid signature");
    let pinned = crate::time::Clock::from_env().ok().and_then(|c| c.pinned());
    match pinned {
        Some(at) => git2::Signature::new(
            who.name().unwrap_or("abathur"),
            who.email().unwrap_or("abathur@localhost"),
            &git2::Time::new(at.millis().div_euclid(1000), 0),
        )
        .unwrap_or(who),
        None => who,
    }
}

/// A tree with `changes` applied to `base` (a `None` blob removes the path).
pub fn apply(repo: &Repository, base: Option<&Tree<'_>>, changes: &[(String, Option<Oid>)]) -> Result<Oid> {
    let parts: Vec<PartsChange<'_>> = changes.iter().map(|(p, o)| (p.split('/').collect(), *o)).collect();
    Ok(apply_parts(repo, base, &parts)?.unwrap_or(empty_tree(repo)?))
}

/// A path split into its components, and the blob to put there (`None`: remove it).
type PartsChange<'a> = (Vec<&'a str>, Option<Oid>);

fn apply_parts(repo: &Repository, base: Option<&Tree<'_>>, changes: &[PartsChange<'_>]) -> Result<Option<Oid>> {
    let err = |e| git_error("building the ledger tree", e);
    let mut builder = repo.treebuilder(base).map_err(err)?;
    let mut below: BTreeMap<&str, Vec<PartsChange<'_>>> = BTreeMap::new();
    for (parts, blob) in changes {
        match (parts.as_slice(), blob) {
            ([name], Some(oid)) => {
                builder.insert(name, *oid, 0o100644).map_err(err)?;
            }
            ([name], None) => {
                if builder.get(name).map_err(err)?.is_some() {
                    builder.remove(name).map_err(err)?;
                }
            }
            ([dir, rest @ ..], _) => below.entry(dir).or_default().push((rest.to_vec(), *blob)),
            ([], _) => {}
        }
    }
    for (dir, sub) in below {
        let subtree = base
            .and_then(|t| t.get_name(dir))
            .filter(|e| e.kind() == Some(ObjectType::Tree))
            .map(|e| repo.find_tree(e.id()))
            .transpose()
            .map_err(err)?;
        match apply_parts(repo, subtree.as_ref(), &sub)? {
            Some(oid) => {
                builder.insert(dir, oid, 0o040000).map_err(err)?;
            }
            None => {
                if builder.get(dir).map_err(err)?.is_some() {
                    builder.remove(dir).map_err(err)?;
                }
            }
        }
    }
    if builder.is_empty() {
        return Ok(None);
    }
    builder.write().map(Some).map_err(err)
}

fn empty_tree(repo: &Repository) -> Result<Oid> {
    repo.treebuilder(None).and_then(|b| b.write()).map_err(|e| git_error("writing an empty tree", e))
}

/// Every committable file of the ledger folder, relative to it, sorted.
pub fn disk_files(root: &Path) -> Result<Vec<String>> {
    let mut files = Vec::new();
    let mut stack = vec![String::new()];
    while let Some(rel_dir) = stack.pop() {
        let dir = if rel_dir.is_empty() { root.to_path_buf() } else { root.join(&rel_dir) };
        let entries = std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(&dir, e))?;
            let Ok(name) = entry.file_name().into_string() else {
                return Err(Error::malformed(&entry.path(), "ledger file names must be UTF-8"));
            };
            let rel = if rel_dir.is_empty() { name } else { format!("{rel_dir}/{name}") };
            if is_local_only(&rel) {
                continue;
            }
            let kind = entry.file_type().map_err(|e| Error::io(&entry.path(), e))?;
            if kind.is_dir() {
                stack.push(rel);
            } else {
                files.push(rel);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Every file of `tree`, by its ledger-folder path, with its blob.
pub fn tree_files(tree: &Tree<'_>) -> Result<BTreeMap<String, Oid>> {
    let mut files = BTreeMap::new();
    tree.walk(git2::TreeWalkMode::PreOrder, |dir, entry| {
        if entry.kind() == Some(ObjectType::Blob) {
            files.insert(disk_path(&format!("{dir}{}", entry.name().unwrap_or(""))), entry.id());
        }
        git2::TreeWalkResult::Ok
    })
    .map_err(|e| git_error("reading the ledger tree", e))?;
    Ok(files)
}

/// The ledger files whose disk content differs from the branch tip (changed, added or removed),
/// found by hashing every file: what a crash or a hand edit left uncommitted.
pub fn uncommitted(repo: &Repository, root: &Path) -> Result<Vec<String>> {
    let committed = match tip(repo) {
        Some(c) => tree_files(&c.tree().map_err(|e| git_error("reading the ledger tree", e))?)?,
        None => BTreeMap::new(),
    };
    let mut changed = Vec::new();
    let on_disk = disk_files(root)?;
    for rel in &on_disk {
        let path = root.join(rel);
        let oid = Oid::hash_file(ObjectType::Blob, &path).map_err(|e| git_error("hashing a ledger file", e))?;
        if committed.get(rel) != Some(&oid) {
            changed.push(rel.clone());
        }
    }
    for rel in committed.keys() {
        if on_disk.binary_search(rel).is_err() {
            changed.push(rel.clone());
        }
    }
    changed.sort();
    Ok(changed)
}

/// Writes the files of `target` into the ledger folder where they differ from `current` (the tree
/// the folder was last in step with), and removes those `target` no longer has. Returns the paths
/// written or removed.
pub fn check_out(repo: &Repository, root: &Path, current: Option<&Tree<'_>>, target: &Tree<'_>) -> Result<Vec<String>> {
    let before = match current {
        Some(t) => tree_files(t)?,
        None => BTreeMap::new(),
    };
    let after = tree_files(target)?;
    let mut touched = Vec::new();
    for (rel, oid) in &after {
        if before.get(rel) == Some(oid) && root.join(rel).exists() {
            continue;
        }
        let blob = repo.find_blob(*oid).map_err(|e| git_error("reading a ledger blob", e))?;
        let path = super::checked_path(root, rel)?;
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        // Durable all at once below: one flush for hundreds of files instead of one each.
        super::atomic::write_via(&path, blob.content(), false, Some(&root.join(super::STAGING)))?;
        touched.push(rel.clone());
    }
    for rel in before.keys().filter(|r| !after.contains_key(*r)) {
        let path = super::checked_path(root, rel)?;
        match std::fs::remove_file(&path) {
            Ok(()) => touched.push(rel.clone()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(&path, e)),
        }
    }
    if !touched.is_empty() {
        let dir = std::fs::File::open(root).map_err(|e| Error::io(root, e))?;
        rustix::fs::syncfs(&dir).map_err(|e| Error::io(root, e.into()))?;
    }
    Ok(touched)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tasks_are_sharded_in_commits_only() {
        let rel = "tasks/01m8rvjncbxyzxyzxyzxyzxyzq.toml";
        assert_eq!(tree_path(rel), "tasks/q/z/01m8rvjncbxyzxyzxyzxyzxyzq.toml");
        assert_eq!(disk_path(&tree_path(rel)), rel);
        for other in ["config.toml", "memory/project/x.md", "tasks/.gitkeep", "gates/01a.toml"] {
            assert_eq!(disk_path(&tree_path(other)), other);
        }
    }

    #[test]
    fn local_files_are_never_committed() {
        assert!(is_local_only("cache/tasks.idx"));
        assert!(is_local_only("ledger.lock"));
        assert!(is_local_only("tasks/.abathur-tmp-x1"));
        assert!(!is_local_only("tasks/01a.toml"));
    }
}
