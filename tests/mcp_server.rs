//! `abathur mcp` driven by a real MCP client we did not write: the official Python SDK (`pip install
//! mcp`; `.ci/run` installs it). The scripts live in tests/mcp/.

use crate::common::{Repo, bin, describe, hermetic};

/// Runs a client script with the same hermetic environment as every other test: the servers it
/// spawns see no user or system git configuration.
fn python(repo: &Repo, script: &str, args: &[&str]) {
    python_output(repo, script, args);
}

/// Runs a client script, requires success, returns its stdout.
fn python_output(repo: &Repo, script: &str, args: &[&str]) -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/mcp/");
    let mut cmd = std::process::Command::new("python3");
    cmd.arg(format!("{path}{script}")).args(args);
    hermetic(&mut cmd, repo.path());
    let out = cmd.output().expect("python3 runs (the MCP client tests need python3 with `pip install mcp`)");
    assert!(out.status.success(), "{script}: {}", describe(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_seeds_workflow_through_the_official_python_client() {
    let repo = Repo::new();
    repo.git(&["config", "user.name", "Orchestrator"]);
    repo.git(&["config", "user.email", "orchestrator@example.com"]);
    repo.allow_unsigned();
    python(&repo, "seed_workflow.py", &[bin(), repo.path().to_str().unwrap()]);
    // Everything done over MCP is committed: a plain clone, once its ledger is checked out, shows
    // the same queue and gates (the in-tree ledger left all of it uncommitted).
    let clone = Repo::empty();
    clone.git(&["clone", "-q", "--no-local", repo.path().to_str().unwrap(), "."]);
    clone.ok(&["init"]);
    let counts = |r: &Repo| {
        let s = r.json(&["task", "status"]);
        (s["total_tasks"].clone(), s["completed"].clone(), s["cancelled"].clone())
    };
    assert_eq!(counts(&clone), counts(&repo));
    assert!(counts(&clone).1.as_u64().unwrap() > 0, "{:?}", counts(&clone));
    assert_eq!(clone.json(&["gate", "status"])["gates"], repo.json(&["gate", "status"])["gates"]);
    clone.ok(&["check"]);
}

#[test]
fn a_four_milestone_project_runs_through_mcp_alone_as_the_seed_describes() {
    let repo = crate::gate::planless_signed_repo();
    let junit = repo.path().join("junit.xml");
    std::fs::write(&junit, r#"<testsuite><testcase name="a"/><testcase name="b"/></testsuite>"#).unwrap();
    let out = python_output(&repo, "seed_project.py", &[bin(), repo.path().to_str().unwrap(), junit.to_str().unwrap()]);
    // The call counts, for docs/mcp.md and the note.
    eprintln!("{out}");
    let totals: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert!(totals["orchestrator"].as_u64().unwrap() < 75, "{totals}");
    repo.ok(&["check"]);
    assert_eq!(repo.json(&["gate", "verify", "--all"])["ok"], true);
}

#[test]
fn fifty_two_servers_at_once_lose_nothing_and_claim_nothing_twice() {
    let repo = Repo::new();
    python(&repo, "many_servers.py", &[bin(), repo.path().to_str().unwrap(), "52", "156"]);
    let status = repo.json(&["task", "status"]);
    assert_eq!(status["total_tasks"], 156);
    assert_eq!(status["completed"], 156);
    assert!(status.get("warnings").is_none(), "{status}");
    for file in std::fs::read_dir(repo.tasks_dir()).unwrap() {
        let path = file.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let text = std::fs::read_to_string(&path).unwrap();
            assert_eq!(text.matches("event = \"claimed\"").count(), 1, "{}", path.display());
        }
    }
}

#[test]
fn every_malformed_message_gets_its_json_rpc_error_and_nothing_hangs() {
    use std::io::{BufRead, Write};
    let repo = Repo::new();
    let mut server = repo
        .cmd(&["mcp"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut input = server.stdin.take().unwrap();
    let big = format!(
        r#"{{"jsonrpc":"2.0","id":"big","method":"tools/call","params":{{"name":"memory_add","arguments":{{"namespace":"project:","key":"k","value":"{}"}}}}}}"#,
        "x".repeat(17 * 1024 * 1024)
    );
    let mut lines: Vec<Vec<u8>> = [
        r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"0"}}}"#,
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
        "not json",
        r#"{"jsonrpc":"2.0","id":2,"#,
        "42",
        r#"[{"jsonrpc":"2.0","id":3,"method":"ping"}]"#,
        "[]",
        r#"{"jsonrpc":"1.0","id":4,"method":"ping"}"#,
        r#"{"id":5,"method":"ping"}"#,
        r#"{"jsonrpc":"2.0","id":{"x":1},"method":"ping"}"#,
        r#"{"jsonrpc":"2.0","id":6}"#,
        r#"{"jsonrpc":"2.0","id":7,"method":8}"#,
        r#"{"jsonrpc":"2.0","id":9,"method":"tools/call","params":"x"}"#,
        r#"{"jsonrpc":"2.0","id":10,"method":"no/such/method"}"#,
        r#"{"jsonrpc":"2.0","id":11,"method":"tools/call","params":{"name":"no_such_tool","arguments":{}}}"#,
    ]
    .iter()
    .map(|l| l.as_bytes().to_vec())
    .collect();
    lines.push(b"\xff\xfe not utf-8".to_vec());
    lines.push(big.into_bytes());
    lines.push(br#"{"jsonrpc":"2.0","id":"last","method":"ping"}"#.to_vec());
    let writer = std::thread::spawn(move || {
        for line in lines {
            input.write_all(&line).unwrap();
            input.write_all(b"\n").unwrap();
        }
        // Closing stdin ends the server once it has answered.
    });
    let (sender, receiver) = std::sync::mpsc::channel();
    let stdout = server.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let _ = sender.send(line.unwrap());
        }
    });
    let mut replies = Vec::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while replies.len() < 17 {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match receiver.recv_timeout(left) {
            Ok(line) => replies.push(serde_json::from_str::<serde_json::Value>(&line).expect("every reply is JSON")),
            Err(_) => panic!("the server stopped answering after {} replies: {replies:#?}", replies.len()),
        }
    }
    writer.join().unwrap();
    let _ = server.kill();
    let _ = server.wait();
    let code_for = |id: serde_json::Value| -> i64 {
        let reply = replies.iter().find(|r| r["id"] == id && r.get("error").is_some());
        reply.unwrap_or_else(|| panic!("no error answered id {id}: {replies:#?}"))["error"]["code"].as_i64().unwrap()
    };
    for (id, code) in [(4, -32600), (5, -32600), (6, -32600), (7, -32600), (9, -32602), (10, -32601), (11, -32602)] {
        assert_eq!(code_for(serde_json::json!(id)), code, "id {id}");
    }
    assert_eq!(code_for(serde_json::json!("big")), -32600, "an oversized request is refused, with its id");
    let unknown: Vec<i64> = replies
        .iter()
        .filter(|r| r.is_object() && r["id"].is_null())
        .map(|r| r["error"]["code"].as_i64().unwrap())
        .collect();
    assert_eq!(unknown.iter().filter(|c| **c == -32700).count(), 3, "not JSON, cut short, not UTF-8: {unknown:?}");
    assert_eq!(unknown.iter().filter(|c| **c == -32600).count(), 3, "42, [], a bad id type: {unknown:?}");
    let batch = replies.iter().find(|r| r.is_array()).expect("a batch is answered as a batch");
    assert_eq!(batch[0]["id"], 3);
    assert!(replies.iter().any(|r| r["id"] == "last" && r["result"].is_object()), "still serving afterwards");
}
