//! The README's first command, `scripts/demo.sh`: the whole product end to end in a repository it
//! keeps, with commands that can be pasted and run again.

use std::process::{Command, Stdio};

use crate::common::{bin, describe, hermetic, model_home};

#[test]
fn the_demo_runs_the_seeds_story_and_its_commands_can_be_pasted() {
    let Some(model) = model_home() else { return };
    let home = tempfile::tempdir().unwrap();
    let repo = home.path().join("demo");
    let mut cmd = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/demo.sh"));
    hermetic(&mut cmd, home.path());
    let out = cmd
        .arg(&repo)
        .env("ABATHUR", bin())
        .env("ABATHUR_MODEL_HOME", &model)
        .env_remove("GIT_AUTHOR_NAME")
        .env_remove("GIT_AUTHOR_EMAIL")
        .env_remove("GIT_COMMITTER_NAME")
        .env_remove("GIT_COMMITTER_EMAIL")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "the demo failed: {}", describe(&out));
    assert!(!text.contains('\x1b'), "no escapes when stdout is not a terminal");
    // abathur narrates on stderr, as always; a person at the terminal sees both.
    let both = format!("{text}{}", String::from_utf8_lossy(&out.stderr));
    for needle in [
        "4 milestones created",
        "task_claim -> ",
        "test-automation-engineer-1: task_complete",
        "proposed decision: approve",
        "Good \"git\" signature for dana@example.com",
        "1 gate decision verified.",
        "tasks created  ",
        "Follow-up from gate M2 (medium): deletes are not yet audited",
        "## Ledger changes in `main..HEAD`",
        "```mermaid",
        "wrote .mcp.json",
    ] {
        assert!(both.contains(needle), "{needle:?} missing from the demo:\n{both}");
    }
    // The search by meaning finds the convention, whose words the question does not use.
    let search = text.split("abathur search ").nth(1).unwrap();
    assert!(search.lines().nth(1).unwrap().contains("project:error-format"), "{search}");
    // The repository stays, with everything the demo made.
    for kept in [".git/abathur/cache/view.html", ".claude/agents/implementer.md", ".mcp.json", "junit.xml"] {
        assert!(repo.join(kept).exists(), "{kept} was not kept");
    }
    // Narrated commands run again as printed, pasted into a shell in the repository.
    let narrated: Vec<&str> = text
        .lines()
        .filter(|l| {
            ["abathur task plan", "abathur gate verify", "git verify-tag", "abathur memory add"]
                .iter()
                .any(|c| l.starts_with(c))
        })
        .collect();
    assert_eq!(narrated.len(), 5, "{narrated:?}");
    let bin_dir = std::path::Path::new(bin()).parent().unwrap();
    for line in narrated {
        // A memory entry exists now: pasting its `add` again is an `update`.
        let line = line.replace("abathur memory add ", "abathur memory update ");
        let mut shell = Command::new("bash");
        hermetic(&mut shell, home.path());
        let again = shell
            .arg("-c")
            .arg(&line)
            .current_dir(&repo)
            .env("PATH", format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap()))
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(again.status.success(), "pasted `{line}`: {}", describe(&again));
    }
}
