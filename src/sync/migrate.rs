//! `abathur ledger migrate` and `abathur ledger mount`: from the old in-work-tree `.abathur/` to
//! the ledger folder in the git directory, and a view of it back in a work tree for people.
//!
//! fs: the old in-work-tree folder and the work tree's link and exclude file are outside the ledger.

use std::path::Path;

use serde::Serialize;

use crate::error::{Error, ErrorKind, Result};
use crate::ledger::{IN_TREE_DIR, LEDGER_DIR, Ledger, history};

/// What `ledger migrate` did.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct MigrateReply {
    /// The old folder, now removed from the work tree.
    pub from: String,
    /// The ledger folder.
    pub to: String,
    /// Files moved.
    pub files: usize,
    /// The ledger branch's first commit.
    pub ledger_commit: String,
    /// The commit on the current branch that removed the old folder; its parent keeps the old
    /// history (`git log -p <parent> -- .abathur`).
    pub removal_commit: String,
}

/// What `ledger mount` did.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct MountReply {
    /// The link made in the work tree.
    pub link: String,
    /// The ledger folder it shows.
    pub ledger: String,
}

/// Moves the in-tree ledger of the work tree containing `cwd` to the ledger folder, commits it as
/// the ledger branch's first commit, and commits its removal from the current branch.
pub fn migrate(cwd: &Path) -> Result<MigrateReply> {
    let git_dir = crate::ledger::common_dir(cwd)?;
    let worktree = crate::ledger::current_worktree(cwd)?;
    let old = worktree.join(IN_TREE_DIR);
    if old.is_symlink() || !old.join("tasks").is_dir() {
        return Err(Error::new(ErrorKind::Validation, format!("{}: no in-tree ledger to migrate", old.display()))
            .hint("run this in the work tree whose `.abathur/` folder holds the old ledger"));
    }
    let root = git_dir.join(LEDGER_DIR);
    if root.join("tasks").is_dir() {
        return Err(Error::new(ErrorKind::Conflict, format!("{} holds a ledger already", root.display()))
            .hint("the migration runs once; compare the two and remove the one you do not want"));
    }
    let files = history::disk_files(&old)?;
    for rel in &files {
        let from = old.join(rel);
        let to = root.join(rel);
        let bytes = std::fs::read(&from).map_err(|e| Error::io(&from, e))?;
        crate::ledger::atomic::write(&to, &bytes)?;
    }
    for folder in crate::ledger::FOLDERS {
        std::fs::create_dir_all(root.join(folder)).map_err(|e| Error::io(&root, e))?;
    }
    let ledger = Ledger::discover(&worktree)?;
    let repo = ledger.repo()?;
    let head = repo.head().ok().and_then(|h| h.peel_to_commit().ok()).map(|c| c.id().to_string()).unwrap_or_default();
    let message = format!(
        "abathur: the ledger moves out of the work tree\n\nFrom {} at commit {head}; its earlier history is there:\n    git log -p {head} -- {IN_TREE_DIR}\n",
        old.display()
    );
    let ledger_commit = {
        let _lock = ledger.lock()?;
        history::commit(
            &repo,
            ledger.root(),
            &history::Commit { paths: &files, message: &message, signer: None, allow_empty: true },
        )?
        .map(|o| o.to_string())
        .unwrap_or_default()
    };
    // The old folder leaves the code branch in a commit of its own (only that path: whatever else is
    // staged stays staged).
    let git = |args: &[&str]| -> Result<String> {
        let out = std::process::Command::new("git")
            .arg("-C")
            .arg(&worktree)
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|e| Error::new(ErrorKind::Internal, format!("cannot run git: {e}")))?;
        if !out.status.success() {
            return Err(Error::new(
                ErrorKind::Internal,
                format!("git {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()),
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    let tracked = !git(&["ls-files", "--", IN_TREE_DIR])?.is_empty();
    let removal_commit = if tracked {
        git(&["rm", "-r", "-q", "-f", "--", IN_TREE_DIR])?;
        git(&[
            "commit",
            "-q",
            "--no-verify",
            "-m",
            &format!(
                "abathur: the ledger moved to the {} branch\n\nabathur ledger migrate; see docs/storage.md.",
                history::BRANCH
            ),
            "--",
            IN_TREE_DIR,
        ])?;
        git(&["rev-parse", "HEAD"])?
    } else {
        String::new()
    };
    if old.exists() {
        std::fs::remove_dir_all(&old).map_err(|e| Error::io(&old, e))?;
    }
    Ok(MigrateReply {
        from: old.display().to_string(),
        to: root.display().to_string(),
        files: files.len(),
        ledger_commit,
        removal_commit,
    })
}

/// Shows the ledger folder in the work tree containing `cwd` as `.abathur` (a symbolic link that
/// git ignores through `info/exclude`), so people can open `.abathur/tasks/...` as before.
pub fn mount(cwd: &Path) -> Result<MountReply> {
    let ledger = Ledger::discover(cwd)?;
    let worktree = crate::ledger::current_worktree(cwd)?;
    let link = worktree.join(IN_TREE_DIR);
    match std::fs::read_link(&link) {
        Ok(target) if target == ledger.root() => {}
        Ok(_) | Err(_) if link.symlink_metadata().is_ok() => {
            return Err(Error::new(ErrorKind::Conflict, format!("{} exists already", link.display()))
                .hint("an old in-tree ledger? run `abathur ledger migrate` first; otherwise move it away"));
        }
        _ => std::os::unix::fs::symlink(ledger.root(), &link).map_err(|e| Error::io(&link, e))?,
    }
    let exclude = ledger.git_dir().join("info/exclude");
    let text = std::fs::read_to_string(&exclude).unwrap_or_default();
    let line = format!("/{IN_TREE_DIR}");
    if !text.lines().any(|l| l.trim() == line) {
        let sep = if text.is_empty() || text.ends_with('\n') { "" } else { "\n" };
        crate::ledger::atomic::write(&exclude, format!("{text}{sep}{line}\n").as_bytes())?;
    }
    Ok(MountReply { link: link.display().to_string(), ledger: ledger.root().display().to_string() })
}
