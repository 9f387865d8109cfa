//! `abathur doctor`: every check with real git, real keys and a real ledger.

use std::process::Command;

use crate::common::{Repo, describe};
use crate::gate::signed_repo;

fn findings(out: &std::process::Output) -> std::collections::BTreeMap<String, (String, String)> {
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["check"].as_str().unwrap().to_string(), (f["health"].as_str().unwrap().to_string(), f.to_string())))
        .collect()
}

#[test]
fn doctor_says_what_works_and_what_to_do() {
    // A ready repository: identity, a key that signs without a terminal, a policy that lists it.
    let repo = signed_repo();
    let out = repo.run(&["--json", "doctor"]);
    assert!(out.status.success(), "{}", describe(&out));
    let f = findings(&out);
    for check in ["binaries", "git identity", "signing", "allowed signers", "ledger", "cache", "check", "hooks"] {
        assert_eq!(f[check].0, "ok", "{check}: {}", f[check].1);
    }
    assert_eq!(f["remote"].0, "warn", "no ledger remote yet");
    assert!(f["remote"].1.contains("abathur sync --remote origin"), "{}", f["remote"].1);

    // A passphrase-protected key cannot sign without a terminal: a failure with its fix, exit 1.
    let locked = repo.path().join("locked_key");
    assert!(
        Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "secret", "-f"])
            .arg(&locked)
            .status()
            .unwrap()
            .success()
    );
    repo.git(&["config", "user.signingkey", locked.to_str().unwrap()]);
    std::fs::write(repo.tasks_dir().join("01zzzzzzzzzzzzzzzzzzzzzzzz.toml"), "<<<<<<< ours\n").unwrap();
    let out = repo.cmd(&["--json", "doctor"]).env_remove("SSH_AUTH_SOCK").output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let f = findings(&out);
    assert_eq!(f["signing"].0, "fail", "{}", f["signing"].1);
    assert!(f["signing"].1.contains("test signature failed"), "{}", f["signing"].1);
    assert_eq!(f["check"].0, "fail", "a broken task file: {}", f["check"].1);
    let text = repo.fails(&["doctor"], 1);
    assert!(text.contains("abathur doctor found a problem"), "{text}");

    // A bare setup: no identity, no key, no policy: warnings that say what to run.
    let bare = Repo::new();
    let out = bare.run(&["--json", "doctor"]);
    assert!(out.status.success(), "only warnings: {}", describe(&out));
    let f = findings(&out);
    assert_eq!(f["signing"].0, "warn");
    assert!(f["signing"].1.contains("git config gpg.format ssh"), "{}", f["signing"].1);
    assert_eq!(f["allowed signers"].0, "warn");
}
