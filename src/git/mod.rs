//! The git operations abathur performs itself: commits of ledger files, signed commits and signed
//! annotated tags that plain `git verify-commit` / `git verify-tag` accept (see `sign`).
//!
//! Commits are built on a private index seeded from HEAD, so a user's staged but uncommitted work is
//! never swept into an abathur commit; afterwards the real index is updated for exactly the paths
//! committed.

pub mod hooks;
pub mod ledger_commit;
pub mod merge;
pub mod review;
pub mod sign;

use std::path::Path;

use crate::error::{Error, ErrorKind, Result};
use sign::{Signer, git_error};

/// What a commit records.
pub struct CommitRequest<'a> {
    /// Files to commit, relative to the work tree (they must exist there).
    pub paths: &'a [String],
    /// Files to delete in the commit, relative to the work tree.
    pub removed: &'a [String],
    /// The commit message, trailers included.
    pub message: &'a str,
    /// Sign with git's configured signer; `false` records an unsigned commit.
    pub sign: bool,
}

/// A commit abathur made.
#[derive(Clone, Debug)]
pub struct Committed {
    /// The commit id.
    pub commit: String,
    /// Whether it carries a signature.
    pub signed: bool,
}

/// The repository of the work tree `workdir`.
pub fn open(workdir: &Path) -> Result<git2::Repository> {
    git2::Repository::open(workdir).map_err(|e| git_error("opening the repository", e))
}

/// The identity git would commit as (`user.name`, `user.email`).
pub fn identity(repo: &git2::Repository) -> Result<git2::Signature<'static>> {
    repo.signature().map_err(|_| {
        Error::new(ErrorKind::Validation, "git has no identity to commit as")
            .hint("set it: git config user.name \"Your Name\" && git config user.email you@example.com")
    })
}

/// The signer for a signed operation, or a clear error when none is configured.
pub fn signer(repo: &git2::Repository) -> Result<Signer> {
    Signer::from_git(repo)?.ok_or_else(|| {
        Error::new(ErrorKind::Validation, "no signing key is configured, so the decision cannot be signed")
            .hint("configure git signing (git config gpg.format ssh; git config user.signingkey ~/.ssh/id_ed25519), or pass --unsigned to record it marked as unsigned")
    })
}

/// Commits `paths` on top of HEAD (signed when asked) and moves the current branch to it.
pub fn commit(repo: &git2::Repository, req: &CommitRequest<'_>) -> Result<Committed> {
    let workdir =
        repo.workdir().ok_or_else(|| Error::new(ErrorKind::Validation, "a bare repository has no work tree"))?;
    let head = repo.head().ok().and_then(|h| h.peel_to_commit().ok());
    let mut index = git2::Index::new().map_err(|e| git_error("creating an index", e))?;
    if let Some(parent) = &head {
        let tree = parent.tree().map_err(|e| git_error("reading HEAD's tree", e))?;
        index.read_tree(&tree).map_err(|e| git_error("reading HEAD's tree", e))?;
    }
    for rel in req.paths {
        let bytes = std::fs::read(workdir.join(rel)).map_err(|e| Error::io(&workdir.join(rel), e))?;
        let oid = repo.blob(&bytes).map_err(|e| git_error("writing a blob", e))?;
        let entry = git2::IndexEntry {
            ctime: git2::IndexTime::new(0, 0),
            mtime: git2::IndexTime::new(0, 0),
            dev: 0,
            ino: 0,
            mode: 0o100644,
            uid: 0,
            gid: 0,
            file_size: bytes.len() as u32,
            id: oid,
            flags: 0,
            flags_extended: 0,
            path: rel.as_bytes().to_vec(),
        };
        index.add(&entry).map_err(|e| git_error("staging a file", e))?;
    }
    for rel in req.removed {
        let _ = index.remove_path(Path::new(rel));
    }
    let tree_id = index.write_tree_to(repo).map_err(|e| git_error("writing the tree", e))?;
    let tree = repo.find_tree(tree_id).map_err(|e| git_error("reading the tree", e))?;
    let who = identity(repo)?;
    let parents: Vec<&git2::Commit<'_>> = head.iter().collect();
    let oid = if req.sign {
        let signer = signer(repo)?;
        let buffer = repo
            .commit_create_buffer(&who, &who, req.message, &tree, &parents)
            .map_err(|e| git_error("preparing the commit", e))?;
        let payload = buffer.as_str().map_err(|_| Error::new(ErrorKind::Internal, "commit buffer is not UTF-8"))?;
        let signature = signer.sign(payload.as_bytes())?;
        repo.commit_signed(payload, &signature, None).map_err(|e| git_error("writing the signed commit", e))?
    } else {
        repo.commit(None, &who, &who, req.message, &tree, &parents).map_err(|e| git_error("writing the commit", e))?
    };
    // Move the branch HEAD points at (or HEAD itself when detached / unborn branch).
    let target = repo.find_reference("HEAD").ok().and_then(|h| h.symbolic_target().ok().flatten().map(str::to_string));
    match target {
        Some(branch) => repo.reference(&branch, oid, true, "abathur: commit"),
        None => repo.reference("HEAD", oid, true, "abathur: commit"),
    }
    .map_err(|e| git_error("moving the branch", e))?;
    // Keep the real index in step for exactly these paths, so `git status` stays clean.
    if let Ok(mut real) = repo.index() {
        for rel in req.paths {
            let _ = real.add_path(Path::new(rel));
        }
        for rel in req.removed {
            let _ = real.remove_path(Path::new(rel));
        }
        let _ = real.write();
    }
    Ok(Committed { commit: oid.to_string(), signed: req.sign })
}

/// Creates the annotated tag `name` on `commit` with `message`, signed when asked.
pub fn tag(repo: &git2::Repository, name: &str, commit: &str, message: &str, sign: bool) -> Result<String> {
    let oid = git2::Oid::from_str(commit).map_err(|e| git_error("parsing the commit id", e))?;
    let who = identity(repo)?;
    let when = who.when();
    let sign_char = if when.offset_minutes() < 0 { '-' } else { '+' };
    let offset = when.offset_minutes().abs();
    let tagger = format!(
        "{} <{}> {} {sign_char}{:02}{:02}",
        who.name().unwrap_or(""),
        who.email().unwrap_or(""),
        when.seconds(),
        offset / 60,
        offset % 60
    );
    let body = format!("object {oid}\ntype commit\ntag {name}\ntagger {tagger}\n\n{}\n", message.trim_end());
    let object = if sign {
        // A tag's signature is the armored block appended to the tag object, as git writes it.
        let signature = signer(repo)?.sign(body.as_bytes())?;
        format!("{body}{signature}")
    } else {
        body
    };
    let odb = repo.odb().map_err(|e| git_error("opening the object database", e))?;
    let tag_oid = odb.write(git2::ObjectType::Tag, object.as_bytes()).map_err(|e| git_error("writing the tag", e))?;
    repo.reference(&format!("refs/tags/{name}"), tag_oid, false, "abathur: gate tag")
        .map_err(|e| git_error(&format!("creating tag {name} (does it exist already?)"), e))?;
    Ok(tag_oid.to_string())
}
