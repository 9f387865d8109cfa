//! `abathur hooks install|uninstall|status`: git hooks that keep the ledger valid.
//!
//! - pre-commit: `abathur check --staged` (what the commit would hold must be valid);
//! - pre-push: when the push carries gate tags or commits touching `.abathur/gates/`, `abathur gate
//!   verify` must accept every gate decision;
//! - post-merge, post-checkout: refresh the search index in the background (git does not wait).
//!
//! `install` also registers the merge driver for ledger files (`.gitattributes` and the local git
//! config; see `git::merge`). Hooks go where git runs them: `core.hooksPath` when set, else the common git dir's `hooks/` (shared
//! by linked worktrees). A hook already there is kept as `<hook>.abathur-chained` and run first, with
//! the same arguments and input; `uninstall` puts it back.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, ErrorKind, Result};

/// The hooks abathur installs.
pub const HOOKS: [&str; 4] = ["pre-commit", "pre-push", "post-merge", "post-checkout"];
/// First lines of every hook abathur writes: how it recognises its own.
const MARKER: &str = "# Installed by `abathur hooks install`; `abathur hooks uninstall` restores any previous hook.";
const CHAINED: &str = ".abathur-chained";

/// What install or uninstall did, per hook.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct HooksReport {
    /// The folder git runs hooks from.
    pub hooks_dir: String,
    /// One line per hook: installed, chained, replaced, unchanged, removed, restored, absent.
    pub hooks: Vec<HookOutcome>,
}

/// One hook's outcome.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct HookOutcome {
    /// The hook's name.
    pub hook: String,
    /// What happened.
    pub outcome: String,
}

/// The folder git runs hooks from, honouring `core.hooksPath`.
pub fn hooks_dir(repo: &git2::Repository) -> Result<PathBuf> {
    let configured = repo.config().ok().and_then(|c| c.get_path("core.hooksPath").ok());
    Ok(match configured {
        Some(path) if path.is_absolute() => path,
        Some(path) => repo.workdir().unwrap_or(repo.path()).join(path),
        None => repo.commondir().join("hooks"),
    })
}

fn script(hook: &str, binary: &Path) -> String {
    let bin = binary.display().to_string().replace('\'', "'\\''");
    let body = match hook {
        "pre-commit" => "exec \"$A\" --quiet check --staged\n".to_string(),
        "pre-push" => r#"zero=0000000000000000000000000000000000000000
needs=0
while read -r local_ref local_sha remote_ref remote_sha; do
    case "$remote_ref" in refs/tags/abathur/gate/*) needs=1 ;; esac
    if [ "$local_sha" != "$zero" ]; then
        if [ "$remote_sha" = "$zero" ]; then range="$local_sha"; else range="$remote_sha..$local_sha"; fi
        if [ -n "$(git rev-list "$range" -- '.abathur/gates/*.toml' 2>/dev/null | head -n 1)" ]; then needs=1; fi
    fi
done
[ "$needs" = 1 ] || exit 0
"$A" --quiet gate verify >&2 || { echo "abathur: push refused: a gate decision fails \`abathur gate verify\` (see above)" >&2; exit 1; }
"#
        .to_string(),
        // Detached and silent: git returns at once; the next search finds the index caught up.
        _ => "(nohup \"$A\" --quiet index >/dev/null 2>&1 &) >/dev/null 2>&1\nexit 0\n".to_string(),
    };
    let stdin_note = if hook == "pre-push" { "stdin=$(cat)\n" } else { "" };
    let replay = if hook == "pre-push" { "printf '%s\\n' \"$stdin\" | " } else { "" };
    let chain = format!("if [ -x \"$0{CHAINED}\" ]; then {replay}\"$0{CHAINED}\" \"$@\" || exit $?; fi\n");
    let feed = if hook == "pre-push" { "printf '%s\\n' \"$stdin\" | {\n" } else { "" };
    let close = if hook == "pre-push" { "}\n" } else { "" };
    format!("#!/bin/sh\n{MARKER}\nA='{bin}'\n[ -x \"$A\" ] || A=abathur\n{stdin_note}{chain}{feed}{body}{close}")
}

fn is_ours(path: &Path) -> bool {
    std::fs::read_to_string(path).is_ok_and(|t| t.contains(MARKER))
}

/// Installs the hooks, chaining any existing ones; `force` rewrites hooks abathur installed before.
pub fn install(repo: &git2::Repository, force: bool) -> Result<HooksReport> {
    let dir = hooks_dir(repo)?;
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let binary = std::env::current_exe().map_err(|e| Error::io(Path::new("abathur"), e))?;
    let mut hooks = Vec::new();
    for hook in HOOKS {
        let path = dir.join(hook);
        let chained = dir.join(format!("{hook}{CHAINED}"));
        let outcome = if is_ours(&path) {
            if !force {
                hooks.push(HookOutcome {
                    hook: hook.into(),
                    outcome: "unchanged (already installed; --force rewrites)".into(),
                });
                continue;
            }
            "replaced"
        } else if path.exists() {
            if chained.exists() {
                return Err(Error::new(
                    ErrorKind::Conflict,
                    format!("{} exists already; cannot chain {}", chained.display(), path.display()),
                )
                .hint("move one of them aside, then install again"));
            }
            std::fs::rename(&path, &chained).map_err(|e| Error::io(&path, e))?;
            "chained (the previous hook runs first)"
        } else {
            "installed"
        };
        write_executable(&path, &script(hook, &binary))?;
        hooks.push(HookOutcome { hook: hook.into(), outcome: outcome.into() });
    }
    register_merge_driver(repo, &binary)?;
    hooks.push(HookOutcome {
        hook: "merge driver".into(),
        outcome: "registered (.gitattributes, merge.abathur.driver)".into(),
    });
    Ok(HooksReport { hooks_dir: dir.display().to_string(), hooks })
}

/// Lines `.gitattributes` needs so git hands ledger files to the merge driver.
const ATTRIBUTES: &str = "# abathur: merge ledger files field by field (docs/git.md)\n.abathur/**/*.toml merge=abathur\n.abathur/**/*.md merge=abathur\n";

/// Adds the attribute lines (once) and the driver to the repository's git config.
fn register_merge_driver(repo: &git2::Repository, binary: &Path) -> Result<()> {
    let workdir =
        repo.workdir().ok_or_else(|| Error::new(ErrorKind::Validation, "a bare repository has no work tree"))?;
    let attributes = workdir.join(".gitattributes");
    let existing = std::fs::read_to_string(&attributes).unwrap_or_default();
    if !existing.contains(".abathur/**/*.toml merge=abathur") {
        let sep = if existing.is_empty() || existing.ends_with('\n') { "" } else { "\n" };
        crate::ledger::atomic::write(&attributes, format!("{existing}{sep}{ATTRIBUTES}").as_bytes())?;
    }
    let mut config = repo
        .config()
        .and_then(|c| c.open_level(git2::ConfigLevel::Local))
        .map_err(|e| crate::git::sign::git_error("opening git config", e))?;
    let quoted = format!("'{}'", binary.display().to_string().replace('\'', "'\\''"));
    config
        .set_str("merge.abathur.name", "abathur ledger merge (by field)")
        .map_err(|e| crate::git::sign::git_error("writing git config", e))?;
    config
        .set_str("merge.abathur.driver", &format!("{quoted} merge-driver %O %A %B %P"))
        .map_err(|e| crate::git::sign::git_error("writing git config", e))?;
    Ok(())
}

/// Removes abathur's hooks and restores the ones they chained.
pub fn uninstall(repo: &git2::Repository) -> Result<HooksReport> {
    let dir = hooks_dir(repo)?;
    let mut hooks = Vec::new();
    for hook in HOOKS {
        let path = dir.join(hook);
        let chained = dir.join(format!("{hook}{CHAINED}"));
        let outcome = if !is_ours(&path) {
            "absent (not abathur's; left alone)"
        } else {
            std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
            if chained.exists() {
                std::fs::rename(&chained, &path).map_err(|e| Error::io(&chained, e))?;
                "removed; previous hook restored"
            } else {
                "removed"
            }
        };
        hooks.push(HookOutcome { hook: hook.into(), outcome: outcome.into() });
    }
    if let Ok(mut config) = repo.config().and_then(|c| c.open_level(git2::ConfigLevel::Local)) {
        let _ = config.remove("merge.abathur.name");
        let _ = config.remove("merge.abathur.driver");
    }
    if let Some(attributes) = repo.workdir().map(|w| w.join(".gitattributes"))
        && let Ok(text) = std::fs::read_to_string(&attributes)
        && text.contains(ATTRIBUTES)
    {
        let rest = text.replace(ATTRIBUTES, "");
        if rest.trim().is_empty() {
            let _ = std::fs::remove_file(&attributes);
        } else {
            crate::ledger::atomic::write(&attributes, rest.as_bytes())?;
        }
    }
    hooks.push(HookOutcome { hook: "merge driver".into(), outcome: "unregistered".into() });
    Ok(HooksReport { hooks_dir: dir.display().to_string(), hooks })
}

fn write_executable(path: &Path, text: &str) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    crate::ledger::atomic::write(path, text.as_bytes())?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).map_err(|e| Error::io(path, e))
}
