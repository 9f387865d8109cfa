//! Pictures of the plan: `task graph` in Mermaid and DOT, and the static HTML view opened in a real
//! headless Chromium.

use std::process::{Command, Stdio};

use crate::common::{Repo, describe, s};

const HOSTILE: &str = "<script>alert(1)</script> \"x\"] --> evil[\"boom";

#[test]
fn task_graph_draws_a_milestone_with_the_prerequisites_it_waits_on() {
    let repo = Repo::new();
    repo.ok(&["milestone", "add", "--example", "seed-plan"]);
    let outside = repo.add(&["Shared fixture outside M2", "-m", "M1"]);
    let schema = repo.add(&[HOSTILE, "-m", "M2", "--after", &outside]);
    let tests = repo.add(&["Tests", "-m", "M2", "--after", &schema]);

    let graph = repo.json(&["task", "graph", "-m", "M2"]);
    let nodes = graph["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 3, "M2's two tasks and the prerequisite outside it: {graph}");
    let context: Vec<&str> = nodes.iter().filter(|n| n["context"] == true).map(|n| s(n, "id")).collect();
    assert_eq!(context, [outside.as_str()]);
    assert_eq!(graph["edges"].as_array().unwrap().len(), 2, "{graph}");

    let mermaid = repo.ok(&["task", "graph", "-m", "M2"]);
    assert!(mermaid.starts_with("graph TD\n"), "{mermaid}");
    assert!(
        mermaid.contains(&format!("t{outside} --> t{schema}")) && mermaid.contains(&format!("t{schema} --> t{tests}"))
    );
    assert!(mermaid.contains(&format!("class t{outside} ready")), "coloured by status: {mermaid}");
    assert!(mermaid.contains("classDef ready fill:") && mermaid.contains("stroke-dasharray"), "{mermaid}");
    assert!(!mermaid.contains("<script") && !mermaid.contains("--> evil"), "the summary stays a label: {mermaid}");
    assert_eq!(mermaid.matches("-->").count(), 2, "{mermaid}");

    let dot = repo.ok(&["task", "graph", "-m", "M2", "--format", "dot"]);
    assert!(dot.starts_with("digraph tasks {") && dot.trim_end().ends_with('}'), "{dot}");
    assert!(dot.contains(&format!("t{outside} -> t{schema};")) && dot.contains("dashed"), "{dot}");
    assert!(dot.contains("\\\"x\\\"]"), "quotes escaped: {dot}");

    // Plan shows summaries beside ids.
    let plan = repo.ok(&["task", "plan", "-m", "M2"]);
    assert!(plan.contains("Tests"), "{plan}");
}

#[test]
fn the_html_view_opens_offline_in_chromium_without_console_errors() {
    let repo = Repo::new();
    repo.git(&["config", "user.name", "Test"]);
    repo.git(&["config", "user.email", "test@example.com"]);
    repo.allow_unsigned();
    repo.ok(&["milestone", "add", "--example", "seed-plan"]);
    let a = repo.add(&[HOSTILE, "-m", "M1", "--estimate", "4h"]);
    repo.add(&["Second step", "-m", "M1", "--after", &a]);
    let lease = repo.json(&["task", "claim", "--task", &a])["lease_id"].as_str().unwrap().to_string();
    repo.ok(&["task", "complete", &a, "--lease", &lease]);
    repo.json(&["decision", "add", "Use Postgres <b>now</b>", "-m", "M1"]);
    repo.ok(&["gate", "conditional", "M1", "-r", "ship it", "--issue", "low: tidy the <i>names</i>", "--unsigned"]);

    let path = repo.ok(&["view"]).trim().to_string();
    assert!(path.ends_with("cache/view.html"), "{path}");
    let html = std::fs::read_to_string(&path).unwrap();
    assert!(!html.contains("<script") && !html.contains("<b>now"), "ledger text is escaped");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"), "escaped, not dropped");
    assert!(html.contains("Use Postgres &lt;b&gt;now&lt;&#x2f;b&gt;"), "the decision is listed");
    assert!(html.contains("conditional") && html.contains("Second step") && html.contains("M4"), "all parts");
    assert!(!html.contains("http://") && !html.contains("https://"), "nothing from the network");
    let out = repo.ok(&["view", "-o", "-"]);
    assert!(out.starts_with("<!DOCTYPE html>"));

    // A real browser renders it: a screenshot, and no console message.
    let shot = repo.path().join("view.png");
    let profile = repo.path().join("chromium-profile");
    let browser = ["chromium", "chromium-browser"]
        .into_iter()
        .find(|b| Command::new(b).arg("--version").stdout(Stdio::null()).status().is_ok_and(|s| s.success()))
        .expect("headless Chromium is needed (Debian: apt-get install chromium; scripts/test.sh installs it)");
    let run = Command::new(browser)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", shot.display()))
        .arg("--window-size=1280,1000")
        .arg(format!("file://{path}"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(run.status.success(), "chromium: {}", describe(&run));
    let console: Vec<String> =
        String::from_utf8_lossy(&run.stderr).lines().filter(|l| l.contains("CONSOLE")).map(str::to_string).collect();
    assert!(console.is_empty(), "console messages: {console:?}");
    let png = std::fs::read(&shot).expect("a screenshot");
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "a real picture: {} bytes", png.len());
}
