//! The two binaries: `abathur` hands the engine's commands (search, index, model, mcp,
//! `init --claude`) to `abathur-full` and runs everything else itself.

use std::io::{BufRead, Write};
use std::process::{Command, Stdio};

use crate::common::{Repo, bin, describe, hermetic};

/// The binary that links the engine, as cargo built it beside `abathur`.
fn full_bin() -> &'static str {
    env!("CARGO_BIN_EXE_abathur-full")
}

#[test]
fn an_engine_command_answers_the_same_through_either_binary() {
    let repo = Repo::new();
    repo.ok(&["memory", "add", "project:", "errors", "Errors are JSON objects with a code and a message."]);
    repo.ok(&["index", "--text-only"]);
    let args = ["--json", "search", "errors", "--mode", "text"];
    let through_abathur = repo.ok(&args);
    let mut direct = Command::new(full_bin());
    direct.args(args).current_dir(repo.path()).stdin(Stdio::null());
    hermetic(&mut direct, repo.path());
    let out = direct.output().unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(through_abathur, String::from_utf8(out.stdout).unwrap());
    assert!(through_abathur.contains("memory/project/errors"), "{through_abathur}");
    // And the other way round: abathur-full serves the task commands too.
    let mut list = Command::new(full_bin());
    list.args(["--json", "memory", "list"]).current_dir(repo.path());
    hermetic(&mut list, repo.path());
    let listed = list.output().unwrap();
    assert!(listed.status.success(), "{}", describe(&listed));
    assert_eq!(String::from_utf8(listed.stdout).unwrap(), repo.ok(&["--json", "memory", "list"]));
}

#[cfg(target_os = "linux")]
#[test]
fn the_mcp_server_replaces_the_abathur_process_under_its_name() {
    let repo = Repo::new();
    let mut server = repo.cmd(&["mcp"]).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    let pid = server.id();
    // exec keeps the process id: once the exec is done the process runs abathur-full, named abathur.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    // The kernel names the new executable before it lays out the new arguments, so the exec is done
    // once both are visible.
    let (exe, cmdline) = loop {
        let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap();
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
        let done = exe.file_name().is_some_and(|n| n == "abathur-full") && !cmdline.is_empty();
        if done || std::time::Instant::now() > deadline {
            break (exe, cmdline);
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    };
    assert_eq!(exe, std::fs::canonicalize(full_bin()).unwrap());
    let argv: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
    assert_eq!(argv[0], b"abathur");
    assert_eq!(argv[1], b"mcp");
    // It serves: the MCP handshake's first reply comes from abathur-full.
    let init = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"test","version":"0"}}}"#;
    let mut stdin = server.stdin.take().unwrap();
    writeln!(stdin, "{init}").unwrap();
    let mut reply = String::new();
    std::io::BufReader::new(server.stdout.take().unwrap()).read_line(&mut reply).unwrap();
    assert!(reply.contains(r#""id":1"#) && reply.contains("serverInfo"), "{reply}");
    drop(stdin); // the client hangs up: the server ends cleanly
    assert!(server.wait().unwrap().success());
}

#[test]
fn without_abathur_full_engine_commands_fail_clearly_and_the_rest_work() {
    let repo = Repo::new();
    let alone = tempfile::tempdir().unwrap();
    let copy = alone.path().join("abathur");
    std::fs::copy(bin(), &copy).unwrap();
    let run = |args: &[&str]| {
        let mut cmd = Command::new(&copy);
        cmd.args(args).current_dir(repo.path()).stdin(Stdio::null());
        hermetic(&mut cmd, repo.path());
        cmd.env("PATH", alone.path()).output().unwrap()
    };
    let added = run(&["-q", "task", "add", "still works"]);
    assert!(added.status.success(), "{}", describe(&added));
    for args in [&["search", "anything"][..], &["mcp"], &["index"], &["model", "status"], &["init", "--claude"]] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(4), "{args:?}: {}", describe(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("abathur-full") && err.contains("cargo install --path ."), "{args:?}: {err}");
    }
    assert!(!repo.path().join(".git/abathur/cache/search").exists(), "a refused search must not build an index");
    assert!(!repo.path().join(".mcp.json").exists(), "a refused init --claude must write nothing");
}

#[test]
fn abathur_full_refuses_an_abathur_of_another_version() {
    let repo = Repo::new();
    let mut cmd = Command::new(full_bin());
    cmd.args(["task", "add", "never written"]).current_dir(repo.path());
    hermetic(&mut cmd, repo.path());
    let out = cmd.env("ABATHUR_PAIRED_VERSION", "0.0.0-elsewhere").output().unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("0.0.0-elsewhere") && err.contains(env!("CARGO_PKG_VERSION")), "{err}");
    assert_eq!(
        std::fs::read_dir(repo.tasks_dir())
            .unwrap()
            .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "toml"))
            .count(),
        0
    );
}

#[test]
fn the_lean_binary_links_no_search_or_mcp_engine_code() {
    // Function symbols by crate (nm from binutils, which comes with gcc): the engine's crates are in
    // abathur-full only.
    let engine_functions = |binary: &str| -> usize {
        let out = Command::new("nm").args(["-C", "--defined-only", binary]).output().expect("nm runs");
        assert!(out.status.success(), "nm {binary}: {}", describe(&out));
        let engine = ["tantivy::", "usearch::", "rmcp::", "fastembed::", "ort::"];
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.split_whitespace().nth(1).is_some_and(|kind| kind.eq_ignore_ascii_case("t")))
            .filter(|l| engine.iter().any(|e| l.split_whitespace().nth(2).is_some_and(|name| name.starts_with(e))))
            .count()
    };
    assert_eq!(engine_functions(bin()), 0, "abathur links engine code");
    assert!(engine_functions(full_bin()) > 100, "the check sees engine code where it is");
}
