//! The ledger: one folder per repository, in git's common directory (`.git/abathur/`), and the only
//! code that touches it.
//!
//! It lives outside every work tree, so no git command on code (pull, stash, checkout, reset, clean)
//! can lose or revert a write, and every worktree and branch sees the same ledger. Its durable
//! changes are committed on the ledger branch by abathur itself ([`history`]) when the writer
//! releases the lock. It knows where the ledger is, how to write a file so a crash leaves either the
//! old or the new version ([`atomic`]), and how writers take turns ([`lock`]); it knows nothing about
//! what the files mean.

pub mod atomic;
pub mod codec;
pub mod history;
pub mod lock;
pub mod remote;
pub mod sealed;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::config::{Config, DEFAULT_CONFIG_TOML};
use crate::error::{Error, ErrorKind, Result};

/// Name of the ledger folder inside git's common directory.
pub const LEDGER_DIR: &str = "abathur";

/// Name of the ledger folder of the old layout, inside a work tree (and of the mount point).
pub const IN_TREE_DIR: &str = ".abathur";

/// Entity folders created by `abathur init`.
pub const FOLDERS: [&str; 5] = ["tasks", "milestones", "gates", "decisions", "memory"];

/// The record of durable writes not yet committed, so a writer killed between its write and the
/// commit has that write committed by the next one.
const UNCOMMITTED: &str = "cache/uncommitted";

/// The record of volatile writes (claims, heartbeats) since the last commit that recorded them, so
/// that `abathur sync` can record them without hashing every file.
const VOLATILE: &str = "cache/volatile";

/// Bytes of the volatile record past which the next commit records the volatile state too.
const MAX_VOLATILE_RECORD: u64 = 256 * 1024;
/// Where writes stage their temporary files, relative to the ledger folder.
pub const STAGING: &str = "cache/tmp";
/// How old a temporary file must be before the next writer sweeps it.
pub const STALE_TEMP: std::time::Duration = std::time::Duration::from_secs(60);

/// Reply of `ledger path`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct LedgerPath {
    /// The ledger folder.
    pub ledger: PathBuf,
}

/// A located ledger folder.
#[derive(Clone, Debug)]
pub struct Ledger {
    root: PathBuf,
    git_dir: PathBuf,
    /// Where the command runs (a work tree, or inside the git directory), for the code it names.
    cwd: Option<PathBuf>,
    /// Durable writes made under the current lock, committed when it is released.
    pending: Arc<Mutex<BTreeSet<String>>>,
}

/// What `abathur init` did.
#[derive(Clone, Debug, serde::Serialize, schemars::JsonSchema)]
pub struct InitReport {
    /// The ledger folder.
    pub ledger: String,
    /// Files and folders created, relative to the ledger folder; empty when it was already set up.
    pub created: Vec<String>,
    /// The ledger branch tip the folder was filled from (a clone's `origin/abathur-ledger`), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checked_out_from: Option<String>,
}

impl Ledger {
    /// Finds the ledger of the repository containing `cwd`, from any work tree or the git directory.
    pub fn discover(cwd: &Path) -> Result<Ledger> {
        let git_dir = common_dir(cwd)?;
        let root = git_dir.join(LEDGER_DIR);
        if !root.join("tasks").is_dir() {
            return Err(missing_ledger(cwd, &git_dir));
        }
        let mut ledger = Ledger::with_root(root, git_dir);
        ledger.cwd = Some(cwd.to_path_buf());
        Ok(ledger)
    }

    fn with_root(root: PathBuf, git_dir: PathBuf) -> Ledger {
        Ledger { root, git_dir, cwd: None, pending: Arc::default() }
    }

    /// The commit checked out where the command runs (the agent's worktree), if any: what a
    /// completion names as the code that did the work.
    pub fn code_head(&self) -> Option<String> {
        let repo = git2::Repository::discover(self.cwd.as_ref()?).ok()?;
        repo.head().ok()?.target().map(|oid| oid.to_string())
    }

    /// Creates the ledger (idempotent: existing files are left exactly as they are). Where the ledger
    /// branch exists already (locally or as a remote-tracking branch of a fresh clone), the folder
    /// is filled from it instead of starting empty.
    pub fn init(cwd: &Path) -> Result<(Ledger, InitReport)> {
        let git_dir = common_dir(cwd)?;
        let root = git_dir.join(LEDGER_DIR);
        let ledger = Ledger::with_root(root.clone(), git_dir);
        let repo = ledger.repo()?;
        let mut created = Vec::new();
        let mut checked_out_from = None;
        let _lock = {
            std::fs::create_dir_all(root.join("cache")).map_err(|e| Error::io(&root, e))?;
            ledger.lock()?
        };
        if !root.join("tasks").is_dir() {
            if history::tip(&repo).is_none()
                && let Some((name, oid)) = remote_ledger(&repo)
            {
                history::move_branch(&repo, None, oid, &format!("abathur: ledger from {name}"))?;
                checked_out_from = Some(name);
            }
            if let Some(tip) = history::tip(&repo) {
                let tree = tip.tree().map_err(|e| crate::git::sign::git_error("reading the ledger", e))?;
                created = history::check_out(&repo, &root, None, &tree)?;
                checked_out_from.get_or_insert_with(|| history::BRANCH.to_string());
            }
        }
        for folder in FOLDERS {
            let dir = root.join(folder);
            if !dir.is_dir() {
                std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
            }
            let keep = dir.join(".gitkeep");
            if !keep.exists() && ledger.write(&keep, b"")? {
                created.push(format!("{folder}/"));
            }
        }
        let config = root.join("config.toml");
        if !config.exists() && ledger.write(&config, DEFAULT_CONFIG_TOML.as_bytes())? {
            created.push("config.toml".into());
        }
        let report = InitReport { ledger: root.display().to_string(), created, checked_out_from };
        Ok((ledger, report))
    }

    /// The ledger folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// git's common directory of the repository (the main `.git`, or the bare repository).
    pub fn git_dir(&self) -> &Path {
        &self.git_dir
    }

    /// The repository the ledger belongs to.
    pub fn repo(&self) -> Result<git2::Repository> {
        git2::Repository::open(&self.git_dir).map_err(|e| crate::git::sign::git_error("opening the repository", e))
    }

    /// Where task files live.
    pub fn tasks_dir(&self) -> PathBuf {
        self.root.join("tasks")
    }

    /// Where memory entries live.
    pub fn memory_dir(&self) -> PathBuf {
        self.root.join("memory")
    }

    /// Derived data, never committed.
    pub fn cache_dir(&self) -> PathBuf {
        self.root.join("cache")
    }

    /// The project configuration.
    pub fn config(&self) -> Result<Config> {
        Config::load(&self.root.join("config.toml"))
    }

    /// `path` (inside the ledger) relative to the ledger folder, as committed.
    pub fn rel(&self, path: &Path) -> String {
        path.strip_prefix(&self.root).unwrap_or(path).display().to_string()
    }

    /// Takes the ledger's write lock; see [`lock`]. Releasing it commits the durable writes made
    /// under it (see [`Ledger::write`]).
    pub fn lock(&self) -> Result<Writing> {
        let lock = lock::LedgerLock::acquire(&self.root.join("ledger.lock"))?;
        // A signed change a killed writer was applying is finished before anything else.
        if self.root.join(sealed::INTENT).exists() {
            sealed::recover(&self.repo()?, &self.root)?;
        }
        sweep_stale(&self.staging_dir());
        sweep_stale(&self.cache_dir());
        Ok(Writing { ledger: self.clone(), _lock: lock })
    }

    /// Writes a ledger file atomically and durably, unless it holds these bytes already, and marks it
    /// for the commit made when the lock is released. The caller holds the lock. Returns whether it
    /// wrote.
    pub fn write(&self, path: &Path, bytes: &[u8]) -> Result<bool> {
        self.write_staged(path, bytes, None)
    }

    /// Where ledger writes stage their temporary files (`None` given): one folder, so that those a
    /// killed writer left are found and swept without listing every folder of the ledger.
    pub fn staging_dir(&self) -> PathBuf {
        self.root.join(STAGING)
    }

    /// Like [`Ledger::write`], staging the temporary file in `staging` (see [`atomic::write_via`]).
    pub fn write_staged(&self, path: &Path, bytes: &[u8], staging: Option<&Path>) -> Result<bool> {
        let path = checked_path(&self.root, &self.rel(path))?;
        if std::fs::read(&path).is_ok_and(|old| old == bytes) {
            return Ok(false);
        }
        self.mark_uncommitted(&path)?;
        let staging = staging.map(Path::to_path_buf).unwrap_or_else(|| self.staging_dir());
        atomic::write_via(&path, bytes, true, Some(&staging))?;
        Ok(true)
    }

    /// Writes a ledger file that is not committed on its own: a volatile change (a claim, a
    /// heartbeat), recorded by the next durable commit of the same file or by `abathur sync`.
    pub fn write_volatile(&self, path: &Path, bytes: &[u8], staging: Option<&Path>) -> Result<bool> {
        let path = checked_path(&self.root, &self.rel(path))?;
        let written = atomic::write_if_changed(&path, bytes, staging)?;
        if written {
            append_line(&self.root.join(VOLATILE), &self.rel(&path))?;
        }
        Ok(written)
    }

    /// Removes a ledger file and marks the removal for the next commit.
    pub fn remove(&self, path: &Path) -> Result<()> {
        let path = checked_path(&self.root, &self.rel(path))?;
        self.mark_uncommitted(&path)?;
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(&path, e)),
        }
    }

    /// Removes `deepest` and the folders above it while they are empty, up to (not including)
    /// `stop`; a folder that is not there is passed over, one that is not empty ends it. Git keeps
    /// no empty folders either.
    pub fn remove_empty_folders(&self, deepest: &Path, stop: &Path) {
        let mut dir = deepest;
        while dir != stop && dir.starts_with(stop) && dir.starts_with(&self.root) {
            match std::fs::remove_dir(dir) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => break,
                _ => {}
            }
            dir = match dir.parent() {
                Some(parent) => parent,
                None => break,
            };
        }
    }

    fn mark_uncommitted(&self, path: &Path) -> Result<()> {
        let rel = self.rel(path);
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        if pending.insert(rel.clone()) {
            append_line(&self.root.join(UNCOMMITTED), &rel)?;
        }
        Ok(())
    }

    /// Commits every durable write not yet committed: this process's and any a killed writer left in
    /// the record. The caller holds the lock.
    pub fn commit_pending(&self) -> Result<Option<git2::Oid>> {
        // Without a sync, the record of volatile writes would only grow: past a bound, the volatile
        // state goes into this commit too (one batch, never one commit per heartbeat).
        let volatile = std::fs::metadata(self.root.join(VOLATILE)).map(|m| m.len()).unwrap_or(0);
        if volatile > MAX_VOLATILE_RECORD {
            return self.commit_volatile();
        }
        self.commit_recorded(&[UNCOMMITTED])
    }

    /// Commits the durable writes and the volatile ones (claims, heartbeats) not yet committed, as
    /// `abathur sync` does before it fetches. The caller holds the lock.
    pub fn commit_volatile(&self) -> Result<Option<git2::Oid>> {
        self.commit_recorded(&[UNCOMMITTED, VOLATILE])
    }

    fn commit_recorded(&self, logs: &[&str]) -> Result<Option<git2::Oid>> {
        let mut paths: BTreeSet<String> = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()));
        for log in logs {
            let log = self.root.join(log);
            match std::fs::read_to_string(&log) {
                Ok(text) => paths.extend(text.lines().filter(|l| !l.is_empty()).map(str::to_string)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io(&log, e)),
            }
        }
        if paths.is_empty() {
            return Ok(None);
        }
        let paths: Vec<String> = paths.into_iter().collect();
        let repo = self.repo()?;
        let message = crate::git::ledger_message::message_for(&repo, &self.root, &paths);
        let committed = history::commit(
            &repo,
            &self.root,
            &history::Commit { paths: &paths, message: &message, signer: None, allow_empty: false },
        )?;
        for log in logs {
            let _ = std::fs::remove_file(self.root.join(log));
        }
        Ok(committed)
    }
}

/// Removes temporary files a killed writer left in `staging`. The caller holds the lock, so no
/// ledger write is in flight; a file younger than a minute could still be a cache writer's.
fn sweep_stale(staging: &Path) {
    let Ok(entries) = std::fs::read_dir(staging) else { return };
    for entry in entries.flatten().filter(|e| e.file_name().to_string_lossy().starts_with(atomic::TEMP_PREFIX)) {
        let stale =
            entry.metadata().and_then(|m| m.modified()).is_ok_and(|t| t.elapsed().is_ok_and(|age| age > STALE_TEMP));
        if stale {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Appends `line` to the record at `log` (a cache file: not fsynced, see [`UNCOMMITTED`]).
fn append_line(log: &Path, line: &str) -> Result<()> {
    use std::io::Write;
    if let Some(dir) = log.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(log).map_err(|e| Error::io(log, e))?;
    file.write_all(format!("{line}\n").as_bytes()).map_err(|e| Error::io(log, e))
}

/// The ledger's write lock, held while changing the ledger; dropping it commits the durable writes
/// made under it, then releases the lock.
#[derive(Debug)]
pub struct Writing {
    ledger: Ledger,
    _lock: lock::LedgerLock,
}

impl Writing {
    /// Commits now, reporting a failure (dropping the lock commits too, but can only warn).
    pub fn commit(&self) -> Result<Option<git2::Oid>> {
        self.ledger.commit_pending()
    }
}

impl Drop for Writing {
    fn drop(&mut self) {
        if let Err(e) = self.ledger.commit_pending() {
            // The writes are on disk and in the record of uncommitted writes; the next writer commits them.
            eprintln!("abathur: warning: ledger change not committed yet: {}", e.message);
        }
    }
}

/// `rel` under `root`, refusing any path that leaves the ledger or passes through a symbolic link.
pub fn checked_path(root: &Path, rel: &str) -> Result<PathBuf> {
    let rel_path = Path::new(rel);
    if rel.is_empty()
        || rel_path.is_absolute()
        || rel_path.components().any(|c| !matches!(c, std::path::Component::Normal(_)))
    {
        return Err(Error::new(ErrorKind::Validation, format!("{rel}: not a path inside the ledger"))
            .hint("ledger paths are relative, without `..`"));
    }
    let mut path = root.to_path_buf();
    for component in rel_path.components() {
        path.push(component);
        if std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(Error::new(
                ErrorKind::Validation,
                format!("{}: is a symbolic link; abathur never writes through links", path.display()),
            )
            .hint("replace the link with a plain file or folder"));
        }
    }
    Ok(path)
}

/// The newest remote-tracking ledger branch (`refs/remotes/<remote>/abathur-ledger`), if any.
fn remote_ledger(repo: &git2::Repository) -> Option<(String, git2::Oid)> {
    let refs = repo.references_glob(&format!("refs/remotes/*/{}", history::BRANCH)).ok()?;
    refs.flatten()
        .filter_map(|r| Some((r.shorthand().ok()?.to_string(), r.peel_to_commit().ok()?)))
        .max_by_key(|(_, c)| c.time().seconds())
        .map(|(name, c)| (name, c.id()))
}

fn missing_ledger(cwd: &Path, git_dir: &Path) -> Error {
    let in_tree = std::iter::successors(cwd.canonicalize().ok(), |d| d.parent().map(Path::to_path_buf))
        .map(|d| d.join(IN_TREE_DIR))
        .find(|d| d.join("tasks").is_dir() && !d.is_symlink());
    match in_tree {
        Some(old) => {
            Error::new(ErrorKind::Validation, format!("{} is a ledger in the old in-work-tree layout", old.display()))
                .hint("run `abathur ledger migrate` once to move it out of the work tree (docs/storage.md)")
        }
        None => Error::new(ErrorKind::Validation, format!("no abathur ledger in {}", git_dir.display()))
            .hint("run `abathur init` to create one (in a clone, it checks out the remote's ledger branch)"),
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

/// git's common directory of the repository containing `cwd`: the main `.git` from the main work
/// tree and from every linked worktree, or the bare repository itself.
///
/// Found the way git finds it, without opening the repository (every command pays for this): walk
/// up to the first `.git`, stopping at `GIT_CEILING_DIRECTORIES`. A `.git` directory is the common
/// directory. A `.git` file (`gitdir: ...`) marks a linked worktree, whose `commondir` names it. A
/// folder holding `HEAD`, `objects/` and `refs/` is a git directory itself (a bare repository).
pub fn common_dir(cwd: &Path) -> Result<PathBuf> {
    let start = cwd.canonicalize().map_err(|e| Error::io(cwd, e))?;
    let ceilings: Vec<PathBuf> = std::env::var_os("GIT_CEILING_DIRECTORIES")
        .map(|v| std::env::split_paths(&v).filter_map(|p| p.canonicalize().ok()).collect())
        .unwrap_or_default();
    for dir in start.ancestors() {
        if ceilings.iter().any(|c| c == dir) {
            break;
        }
        let dotgit = dir.join(".git");
        if let Ok(meta) = std::fs::metadata(&dotgit) {
            if meta.is_dir() {
                return Ok(dotgit);
            }
            let text = std::fs::read_to_string(&dotgit).map_err(|e| Error::io(&dotgit, e))?;
            let Some(gitdir) = text.lines().find_map(|l| l.strip_prefix("gitdir:")).map(str::trim) else {
                return Err(Error::malformed(&dotgit, "a .git file must say `gitdir: <path>`"));
            };
            let gitdir = dir.join(gitdir);
            let common = std::fs::read_to_string(gitdir.join("commondir"))
                .ok()
                .and_then(|c| gitdir.join(c.trim()).canonicalize().ok());
            return Ok(common.unwrap_or_else(|| gitdir.canonicalize().unwrap_or(gitdir)));
        }
        if dir.join("HEAD").is_file() && dir.join("objects").is_dir() && dir.join("refs").is_dir() {
            let common = std::fs::read_to_string(dir.join("commondir"))
                .ok()
                .and_then(|c| dir.join(c.trim()).canonicalize().ok());
            return Ok(common.unwrap_or_else(|| dir.to_path_buf()));
        }
    }
    Err(Error::new(ErrorKind::Validation, format!("{} is not inside a git repository", cwd.display()))
        .hint("abathur keeps its ledger in a git repository: run `git init` first, or cd into one"))
}
