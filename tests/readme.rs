//! README.md stays true: its quick tour runs verbatim in a fresh repository.

use std::process::{Command, Stdio};

use crate::common::{Repo, bin, describe, hermetic};

/// The first ```sh block after `heading`.
fn sh_block<'a>(readme: &'a str, heading: &str) -> &'a str {
    let section = &readme[readme.find(heading).unwrap_or_else(|| panic!("README has no {heading}"))..];
    let start = section.find("```sh\n").unwrap() + "```sh\n".len();
    &section[start..start + section[start..].find("```").unwrap()]
}

#[test]
fn the_quick_tour_runs_verbatim() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let tour = sh_block(&readme, "## Quick tour");
    assert!(tour.lines().count() >= 25, "{tour}");
    let repo = Repo::bare_git();
    // A person's repository: git knows who they are.
    repo.git(&["config", "user.name", "Dana Lead"]);
    repo.git(&["config", "user.email", "dana@example.com"]);
    std::fs::write(repo.path().join("README.md"), "A project.\n").unwrap();
    repo.git(&["add", "README.md"]);
    repo.git(&["commit", "-qm", "Start"]);
    let bin_dir = std::path::Path::new(bin()).parent().unwrap();
    let mut shell = Command::new("bash");
    hermetic(&mut shell, repo.path());
    let out = shell
        .args(["-euo", "pipefail", "-c", tour])
        .current_dir(repo.path())
        .env("PATH", format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap()))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "the quick tour failed: {}", describe(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in ["graph TD", "## Ledger changes in `main..HEAD`", ".claude/agents/implementer.md"] {
        assert!(text.contains(needle), "{needle:?} missing:\n{text}");
    }
}
