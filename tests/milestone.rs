//! Milestones: definition, the seed's plan in one command, order validation, derived progress.

use crate::common::Repo;

#[test]
fn the_seed_plan_is_one_command_and_idempotent() {
    let repo = Repo::new();
    let reply = repo.json(&["milestone", "add", "--example", "seed-plan"]);
    assert_eq!(reply["created"], serde_json::json!(["M1", "M2", "M3", "M4"]));
    let list = repo.json(&["milestone", "list"]);
    let budgets: Vec<f64> = list["milestones"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["progress"]["budget_hours"].as_f64().unwrap())
        .collect();
    assert_eq!(budgets, vec![86.0, 96.0, 84.0, 98.0], "the seed's 86/96/84/98 hours");
    let m1 = repo.json(&["milestone", "show", "M1"]);
    assert_eq!(m1["title"], "Core Schema Foundation");
    assert!(
        m1["quality_targets"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "read_latency_ms" && t["comparison"] == "<")
    );
    assert_eq!(m1["gate"], "undecided");
    let again = repo.json(&["milestone", "add", "--example", "seed-plan"]);
    assert_eq!(again["created"].as_array().unwrap().len(), 0);
    assert_eq!(again["unchanged"].as_array().unwrap().len(), 4);
}

#[test]
fn progress_counts_tasks_and_effort_against_the_budget() {
    let repo = Repo::new();
    repo.ok(&["milestone", "add", "M1", "--title", "Schema", "--budget-hours", "10", "--target", "coverage>=95%"]);
    let t0 = "2030-01-01T09:00:00Z";
    let a = repo.json_env(&["task", "add", "A", "-m", "M1", "--estimate", "3h"], "ABATHUR_NOW", t0)["task_id"]
        .as_str()
        .unwrap()
        .to_string();
    repo.json_env(&["task", "add", "B", "-m", "M1", "--estimate", "2h", "--after", &a], "ABATHUR_NOW", t0);
    let c = repo.json_env(&["task", "add", "C", "-m", "M1", "--estimate", "4h"], "ABATHUR_NOW", t0)["task_id"]
        .as_str()
        .unwrap()
        .to_string();
    repo.ok(&["milestone", "add", "M2", "--title", "Later"]);
    repo.json_env(&["task", "add", "Elsewhere", "-m", "M2"], "ABATHUR_NOW", t0);
    repo.json_env(&["task", "claim", "--task", &a], "ABATHUR_NOW", t0);
    repo.json_env(&["task", "complete", &a], "ABATHUR_NOW", "2030-01-01T11:30:00Z");
    repo.json_env(&["task", "cancel", &c], "ABATHUR_NOW", "2030-01-01T11:30:00Z");
    let m = repo.json_env(&["milestone", "show", "M1"], "ABATHUR_NOW", "2030-01-01T12:00:00Z");
    let p = &m["progress"];
    assert_eq!(p["total_tasks"], 3);
    assert_eq!(p["by_status"], serde_json::json!({"cancelled": 1, "completed": 1, "ready": 1}));
    assert_eq!(p["completion_percent"], 50.0, "cancelled tasks do not count");
    assert_eq!(p["estimated_hours"], 5.0, "the cancelled task's estimate is dropped");
    assert_eq!(p["spent_hours"], 2.5);
    assert_eq!(p["estimate_vs_budget_percent"], 50.0);
    assert_eq!(p["spent_vs_budget_percent"], 25.0);
}

#[test]
fn bad_milestones_are_refused_and_change_nothing() {
    let repo = Repo::new();
    repo.ok(&["milestone", "add", "M1", "--title", "First"]);
    let dir = repo.path().join(".git/abathur/milestones");
    let before = std::fs::read_dir(&dir).unwrap().count();
    for (args, expected, code) in [
        (vec!["milestone", "add", "M2", "--title", "Clash", "--order", "1"], "order 1 is already M1's", 3),
        (vec!["milestone", "add", "M1", "--title", "Other"], "already exists", 3),
        (vec!["milestone", "add", "../M3", "--title", "x"], "milestone", 1),
        (vec!["milestone", "add", "M3", "--title", "x", "--target", "coverage is high"], "not a target", 1),
        (vec!["milestone", "add", "--example", "nope"], "shipped plans: seed-plan", 1),
        (vec!["milestone", "show", "M9"], "no milestone M9", 1),
    ] {
        let err = repo.fails(&args, code);
        assert!(err.contains(expected), "{args:?}: {err}");
    }
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), before);
    std::fs::write(dir.join("M7.toml"), "id = \"M7\"\ntitle = 3\n").unwrap();
    let out = repo.run(&["--json", "milestone", "list"]);
    assert!(out.status.success());
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list["milestones"].as_array().unwrap().len(), 1);
    assert!(list["warnings"][0].as_str().unwrap().contains("M7.toml"), "{list}");
}

#[test]
fn update_appends_criteria_sets_targets_and_leaves_an_approved_plan_alone() {
    let repo = Repo::new();
    repo.ok(&[
        "milestone",
        "add",
        "M1",
        "--title",
        "Schema",
        "--criterion",
        "DDL runs clean",
        "--target",
        "coverage>=90%",
    ]);
    let updated = repo.json(&[
        "milestone",
        "update",
        "M1",
        "--title",
        "Core schema",
        "--budget-hours",
        "40",
        "--criterion",
        "Every query uses an index",
        "--target",
        "coverage>=95%",
        "--target",
        "read_latency_ms<50ms",
    ]);
    assert_eq!(updated["title"], "Core schema");
    assert_eq!(updated["progress"]["budget_hours"], 40.0);
    assert_eq!(updated["acceptance_criteria"], serde_json::json!(["DDL runs clean", "Every query uses an index"]));
    let targets: Vec<(String, f64)> = updated["quality_targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["name"].as_str().unwrap().to_string(), t["value"].as_f64().unwrap()))
        .collect();
    assert_eq!(targets, [("coverage".to_string(), 95.0), ("read_latency_ms".to_string(), 50.0)], "replaced by name");
    assert_eq!(repo.json(&["milestone", "show", "M1"]), updated, "what update replies is what is stored");
    let text = std::fs::read_to_string(repo.path().join(".git/abathur/milestones/M1.toml")).unwrap();
    repo.ok(&["milestone", "update", "M1", "--title", "Core schema"]);
    assert_eq!(std::fs::read_to_string(repo.path().join(".git/abathur/milestones/M1.toml")).unwrap(), text, "no churn");

    // Bad input changes nothing.
    repo.fails(&["milestone", "update", "M1", "--remove-target", "throughput"], 1);
    repo.fails(&["milestone", "update", "M1", "--target", "coverage=>95"], 1);
    repo.fails(&["milestone", "update", "M9", "--title", "x"], 1);
    assert_eq!(std::fs::read_to_string(repo.path().join(".git/abathur/milestones/M1.toml")).unwrap(), text);

    // Once approved, what the gate judged stays as it was; the title can still change.
    repo.git(&["config", "user.name", "Lead"]);
    repo.git(&["config", "user.email", "lead@example.com"]);
    repo.git(&["commit", "-q", "--allow-empty", "-m", "plan"]);
    repo.ok(&["gate", "approve", "M1", "--rationale", "done", "--unsigned"]);
    let refused = repo.fails(&["milestone", "update", "M1", "--criterion", "One more"], 3);
    assert!(refused.contains("approved"), "{refused}");
    repo.fails(&["milestone", "update", "M1", "--remove-target", "coverage"], 3);
    repo.ok(&["milestone", "update", "M1", "--title", "Core schema, approved"]);
    let shown = repo.json(&["milestone", "show", "M1"]);
    assert_eq!(
        (shown["title"].as_str(), shown["quality_targets"].as_array().unwrap().len()),
        (Some("Core schema, approved"), 2)
    );
}

#[test]
fn a_milestone_keeps_the_coordinators_checklist_as_progress_not_as_work() {
    let repo = Repo::new();
    repo.ok(&["milestone", "add", "M1", "--title", "One"]);
    let todos = r#"[{"content": "Plan the schema", "status": "completed"}, {"content": "Validate", "status": "in_progress", "activeForm": "Validating"}]"#;
    repo.ok(&["milestone", "update", "M1", "--todos", todos]);
    let shown = repo.json(&["milestone", "show", "M1"]);
    assert_eq!(shown["todos"][1]["activeForm"], "Validating", "{shown}");
    assert_eq!(shown["progress"]["total_tasks"], 0, "a checklist item is not a task");
    assert!(repo.ok(&["milestone", "show", "M1"]).contains("[~] Validate"));
    assert_eq!(repo.json(&["task", "claim"])["claimed"], false, "nothing to claim");
    let err = repo.fails(&["milestone", "update", "M1", "--todos", r#"[{"content": "x", "status": "doing"}]"#], 1);
    assert!(err.contains("--todos") && err.contains("not a checklist"), "{err}");
}
