//! The ledger: the `.abathur/` directory of a git repository, and the only code that touches it.
//!
//! It knows where the ledger is (from any subdirectory or linked worktree), how to create it, how to
//! write a file so a crash leaves either the old or the new version ([`atomic`]), and how writers take
//! turns ([`lock`]). It knows nothing about what the files mean; `queue` and later modules do.

pub mod atomic;
pub mod lock;

use std::path::{Path, PathBuf};

use crate::config::{Config, DEFAULT_CONFIG_TOML};
use crate::error::{Error, ErrorKind, Result};

/// Name of the ledger directory at the top of the work tree.
pub const LEDGER_DIR: &str = ".abathur";

/// Entity folders created by `abathur init`.
pub const FOLDERS: [&str; 5] = ["tasks", "milestones", "gates", "decisions", "memory"];

/// What `.abathur/.gitignore` holds: derived data and lock files stay out of git.
pub const GITIGNORE: &str = "# Derived data: rebuilt from the files at any time.\ncache/\n# Lock and temporary files of running abathur processes.\nledger.lock\n.abathur-tmp-*\n";

/// A located ledger directory.
#[derive(Clone, Debug)]
pub struct Ledger {
    root: PathBuf,
    workdir: PathBuf,
}

/// What `abathur init` did.
#[derive(Clone, Debug, serde::Serialize, schemars::JsonSchema)]
pub struct InitReport {
    /// The ledger directory.
    pub ledger: String,
    /// Files and folders created, relative to the repository; empty when it was already set up.
    pub created: Vec<String>,
}

impl Ledger {
    /// Finds the ledger of the repository containing `cwd`.
    ///
    /// From a linked worktree this is the main worktree's ledger, so every worktree of a repository
    /// shares one live queue.
    pub fn discover(cwd: &Path) -> Result<Ledger> {
        let workdir = main_workdir(cwd)?;
        let root = workdir.join(LEDGER_DIR);
        if !root.join("tasks").is_dir() {
            return Err(Error::new(ErrorKind::Validation, format!("no abathur ledger in {}", workdir.display()))
                .hint("run `abathur init` to create one"));
        }
        Ok(Ledger { root, workdir })
    }

    /// The ledger under `workdir`, created empty where missing, without looking for git: for
    /// checking a copy of the ledger (such as the staged one) outside the repository.
    pub fn at(workdir: &Path) -> Result<Ledger> {
        let root = workdir.join(LEDGER_DIR);
        for folder in FOLDERS {
            let dir = root.join(folder);
            std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        }
        Ok(Ledger { root, workdir: workdir.to_path_buf() })
    }

    /// Creates the ledger (idempotent: existing files are left exactly as they are).
    pub fn init(cwd: &Path) -> Result<(Ledger, InitReport)> {
        let workdir = main_workdir(cwd)?;
        let root = workdir.join(LEDGER_DIR);
        let mut created = Vec::new();
        let ensure_dir = |dir: &Path, created: &mut Vec<String>| -> Result<()> {
            if !dir.is_dir() {
                std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
                created.push(rel(&workdir, dir));
            }
            Ok(())
        };
        ensure_dir(&root, &mut created)?;
        for folder in FOLDERS {
            let dir = root.join(folder);
            ensure_dir(&dir, &mut created)?;
            let keep = dir.join(".gitkeep");
            if !keep.exists() {
                atomic::write(&keep, b"")?;
            }
        }
        for (name, content) in [("config.toml", DEFAULT_CONFIG_TOML), (".gitignore", GITIGNORE)] {
            let path = root.join(name);
            if !path.exists() {
                atomic::write(&path, content.as_bytes())?;
                created.push(rel(&workdir, &path));
            }
        }
        let ledger = Ledger { root, workdir };
        let report = InitReport { ledger: ledger.root.display().to_string(), created };
        Ok((ledger, report))
    }

    /// The `.abathur` directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The work tree holding the ledger.
    pub fn workdir(&self) -> &Path {
        &self.workdir
    }

    /// Where task files live.
    pub fn tasks_dir(&self) -> PathBuf {
        self.root.join("tasks")
    }

    /// Where memory entries live.
    pub fn memory_dir(&self) -> PathBuf {
        self.root.join("memory")
    }

    /// Derived, git-ignored data.
    pub fn cache_dir(&self) -> PathBuf {
        self.root.join("cache")
    }

    /// The project configuration.
    pub fn config(&self) -> Result<Config> {
        Config::load(&self.root.join("config.toml"))
    }

    /// Takes the ledger's write lock; see [`lock`].
    pub fn lock(&self) -> Result<lock::LedgerLock> {
        lock::LedgerLock::acquire(&self.root.join("ledger.lock"))
    }
}

/// The top of the work tree containing `cwd` (a linked worktree's own, not the main one).
pub fn current_worktree(cwd: &Path) -> Result<PathBuf> {
    let repo = git2::Repository::discover(cwd)
        .map_err(|_| Error::new(ErrorKind::Validation, format!("{} is not inside a git repository", cwd.display())))?;
    let workdir =
        repo.workdir().ok_or_else(|| Error::new(ErrorKind::Validation, "a bare repository has no work tree"))?;
    Ok(workdir.canonicalize().unwrap_or_else(|_| workdir.to_path_buf()))
}

/// The top of the main work tree of the repository containing `cwd`.
///
/// Found the way git finds it, without opening the repository (every command pays for this, and
/// libgit2's discovery costs about a millisecond): walk up to the first `.git`, stopping at
/// `GIT_CEILING_DIRECTORIES`. A `.git` directory marks a main work tree. A `.git` file
/// (`gitdir: ...`) marks a linked worktree, whose `commondir` leads to the main repository's `.git`,
/// whose parent is the main work tree.
fn main_workdir(cwd: &Path) -> Result<PathBuf> {
    let start = cwd.canonicalize().map_err(|e| Error::io(cwd, e))?;
    let ceilings: Vec<PathBuf> = std::env::var_os("GIT_CEILING_DIRECTORIES")
        .map(|v| std::env::split_paths(&v).filter_map(|p| p.canonicalize().ok()).collect())
        .unwrap_or_default();
    for dir in start.ancestors() {
        if ceilings.iter().any(|c| c == dir) {
            break;
        }
        let dotgit = dir.join(".git");
        let Ok(meta) = std::fs::metadata(&dotgit) else { continue };
        if meta.is_dir() {
            return Ok(dir.to_path_buf());
        }
        let text = std::fs::read_to_string(&dotgit).map_err(|e| Error::io(&dotgit, e))?;
        let Some(gitdir) = text.lines().find_map(|l| l.strip_prefix("gitdir:")).map(str::trim) else {
            return Err(Error::malformed(&dotgit, "a .git file must say `gitdir: <path>`"));
        };
        let gitdir = dir.join(gitdir);
        let common = std::fs::read_to_string(gitdir.join("commondir"))
            .ok()
            .and_then(|c| gitdir.join(c.trim()).canonicalize().ok());
        return Ok(match common {
            Some(common) if common.file_name().is_some_and(|n| n == ".git") => {
                common.parent().map(Path::to_path_buf).unwrap_or_else(|| dir.to_path_buf())
            }
            _ => dir.to_path_buf(), // a submodule or an unusual layout: its own work tree
        });
    }
    Err(Error::new(ErrorKind::Validation, format!("{} is not inside a git repository", cwd.display()))
        .hint("abathur keeps its ledger in a git repository: run `git init` first, or cd into one"))
}

fn rel(base: &Path, path: &Path) -> String {
    path.strip_prefix(base).unwrap_or(path).display().to_string()
}
