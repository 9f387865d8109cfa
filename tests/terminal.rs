//! What a person at a terminal meets: tables that fit, tab-separated rows for pipes, colour only
//! where wanted, usage errors as JSON, completions, the manual, and the human output itself as
//! snapshots in 60 and 120 columns.

use std::process::Stdio;

use crate::common::{Repo, describe};

/// Runs `abathur` as if its stdout were a terminal `columns` wide.
fn at_terminal(repo: &Repo, columns: usize, args: &[&str]) -> String {
    let out = repo
        .cmd(args)
        .env("ABATHUR_FORCE_TTY", "1")
        .env("COLUMNS", columns.to_string())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "abathur {args:?}: {}", describe(&out));
    String::from_utf8(out.stdout).unwrap()
}

fn planned(repo: &Repo) -> (String, String) {
    repo.ok(&["milestone", "add", "--example", "seed-plan"]);
    let schema = repo.add(&[
        "Create the core schema: tasks, agents, checkpoints and the fifteen indexes they need",
        "-t",
        "database-schema-implementer",
        "-m",
        "M1",
    ]);
    let tests =
        repo.add(&["Unit tests for the schema", "-t", "test-automation-engineer", "-m", "M1", "--after", &schema]);
    (schema, tests)
}

#[test]
fn tables_fit_the_terminal_and_print_tab_separated_to_a_pipe() {
    let repo = Repo::new();
    let (schema, _) = planned(&repo);
    for columns in [60, 120] {
        let text = at_terminal(&repo, columns, &["--color", "never", "task", "list"]);
        assert!(text.starts_with("ID "), "a header row: {text}");
        for line in text.lines() {
            assert!(line.chars().count() <= columns, "wider than {columns}: {line:?}");
            assert!(!line.ends_with(' '), "trailing space: {line:?}");
        }
    }
    let narrow = at_terminal(&repo, 60, &["--color", "never", "task", "list"]);
    assert!(narrow.contains('…'), "the summary gives way: {narrow}");
    // Ids are never cut: the short id of the schema task is there whole.
    let short = narrow.lines().nth(1).unwrap().split_whitespace().next().unwrap().to_string();
    assert!(schema.starts_with(&short) && short.len() >= 9, "{short} of {schema}");

    let piped = repo.ok(&["task", "list"]);
    let first: Vec<&str> = piped.lines().next().unwrap().split('\t').collect();
    assert_eq!(first.len(), 6, "tab-separated, no header: {piped}");
    assert!(first[5].contains("fifteen indexes they need"), "never cut to a pipe: {piped}");
}

#[test]
fn colour_by_state_only_where_wanted() {
    let repo = Repo::new();
    planned(&repo);
    let esc = "\x1b[";
    assert!(
        at_terminal(&repo, 120, &["task", "list"]).contains(&format!("{esc}36mready{esc}0m")),
        "auto in a terminal"
    );
    assert!(!repo.ok(&["task", "list"]).contains(esc), "auto to a pipe: none");
    assert!(repo.ok(&["--color", "always", "task", "list"]).contains(&format!("{esc}35mblocked")), "always");
    assert!(!at_terminal(&repo, 120, &["--color", "never", "task", "list"]).contains(esc), "never");
    let no_color = repo.cmd(&["task", "list"]).env("ABATHUR_FORCE_TTY", "1").env("NO_COLOR", "1").output().unwrap();
    assert!(!String::from_utf8_lossy(&no_color.stdout).contains(esc), "NO_COLOR");
    // Ledger text cannot colour anything: its escapes are neutralised, abathur's own remain.
    repo.add(&["\x1b[31mred\x1b[0m summary"]);
    let text = repo.ok(&["--color", "always", "task", "list"]);
    assert!(text.contains("?[31mred?[0m summary"), "{text:?}");
}

#[test]
fn usage_errors_are_json_under_json() {
    let repo = Repo::new();
    let out = repo.run(&["--json", "task", "add"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let error: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a JSON error on stdout");
    assert_eq!(error["error"], "UsageError");
    assert!(error["message"].as_str().unwrap().contains("required arguments were not provided"), "{error}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("Usage: abathur task add"), "people still read it");
    // Without --json, nothing on stdout.
    assert!(repo.run(&["task", "add"]).stdout.is_empty());
}

#[test]
fn messages_count_in_words_and_check_names_what_it_read() {
    let repo = Repo::new();
    repo.ok(&["memory", "add", "project:", "style", "Use rustfmt."]);
    let out = repo.run(&["check"]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && said.contains("files checked, 0 tasks"), "{said}");
    assert!(!said.contains("(s)"), "{said}");
    let id = repo.add(&["One"]);
    let out = repo.run(&["task", "cancel", &id]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("Cancelled 1 task."), "{}", describe(&out));
}

#[test]
fn help_puts_global_options_apart_and_shows_no_option_that_does_not_apply() {
    let repo = Repo::new();
    let help = repo.ok(&["memory", "get", "--help"]);
    let (own, global) = help.split_once("Global options:").expect("a Global options heading");
    assert!(own.contains("--version <VERSION>") && !own.contains("--json"), "{help}");
    assert!(global.contains("--json") && global.contains("--color <WHEN>") && global.contains("--no-pager"), "{help}");
    assert!(!help.contains("--by"), "memory get takes no --by: {help}");
    assert!(!repo.ok(&["memory", "delete", "--help"]).contains("--version <"), "memory delete takes no --version");
    assert!(!repo.ok(&["memory", "update", "--help"]).contains("--type"), "memory update keeps the type");
    assert!(repo.ok(&["task", "add", "--help"]).contains("Examples:\n  abathur task add"), "examples");
}

#[test]
fn completions_offer_task_ids_milestones_and_namespaces_from_the_ledger() {
    let repo = Repo::new();
    let (schema, _) = planned(&repo);
    repo.ok(&["memory", "add", "agent:tester:", "tips", "Run the slow tests last."]);
    let script = repo.ok(&["completions", "bash"]);
    assert!(script.contains("COMPLETE") && script.contains("abathur"), "{script}");
    let complete = |words: &[&str]| {
        let mut args = vec!["--", "abathur"];
        args.extend_from_slice(words);
        let out = repo.cmd(&args).env("COMPLETE", "fish").stdin(Stdio::null()).output().unwrap();
        assert!(out.status.success(), "{}", describe(&out));
        String::from_utf8(out.stdout).unwrap()
    };
    let tasks = complete(&["task", "get", ""]);
    assert!(tasks.contains(&format!("{schema}\tCreate the core schema")), "{tasks}");
    let milestones = complete(&["gate", "approve", ""]);
    assert!(milestones.contains("M1\tCore Schema Foundation"), "{milestones}");
    let namespaces = complete(&["memory", "list", ""]);
    assert!(namespaces.contains("agent:tester:"), "{namespaces}");
    assert!(repo.ok(&["completions", "--help"]).contains("source <(abathur completions bash)"), "install help");
}

#[test]
fn the_manual_has_a_page_per_command() {
    let repo = Repo::new();
    let dir = repo.path().join("man");
    repo.ok(&["man", "--dir", dir.to_str().unwrap()]);
    for page in ["abathur.1", "abathur-task.1", "abathur-task-add.1", "abathur-gate-approve.1"] {
        let text = std::fs::read_to_string(dir.join(page)).unwrap_or_else(|e| panic!("{page}: {e}"));
        assert!(text.contains(".TH"), "{page} is a man page");
    }
    assert!(repo.ok(&["man"]).contains(".SH NAME"));
}

/// A small project with fixed ids and times, for snapshots: every command at its own instant.
struct Fixed<'a> {
    repo: &'a Repo,
    minute: std::cell::Cell<u32>,
}

impl Fixed<'_> {
    fn run(&self, columns: Option<usize>, args: &[&str]) -> String {
        let minute = self.minute.get();
        self.minute.set(minute + 1);
        let mut cmd = self.repo.cmd(args);
        cmd.env("ABATHUR_ID_SEED", "snapshots")
            .env("ABATHUR_NOW", format!("2030-01-01T{:02}:{:02}:00Z", minute / 60, minute % 60));
        if let Some(columns) = columns {
            cmd.env("ABATHUR_FORCE_TTY", "1").env("COLUMNS", columns.to_string()).arg("--color").arg("never");
        }
        let out = cmd.stdin(Stdio::null()).output().unwrap();
        assert!(out.status.success(), "abathur {args:?}: {}", describe(&out));
        String::from_utf8(out.stdout).unwrap()
    }
}

#[test]
fn human_output_in_60_and_120_columns() {
    let repo = Repo::new();
    let fixed = Fixed { repo: &repo, minute: std::cell::Cell::new(0) };
    fixed.run(None, &["milestone", "add", "--example", "seed-plan"]);
    let id = |text: String| text.trim().to_string();
    let schema = id(fixed.run(
        None,
        &[
            "task",
            "add",
            "Create the core schema: tasks, agents and checkpoints",
            "-t",
            "database-schema-implementer",
            "-p",
            "8",
            "-m",
            "M1",
            "--estimate",
            "6h",
        ],
    ));
    let indexes = id(fixed.run(
        None,
        &[
            "task",
            "add",
            "Add the 15 core indexes",
            "-t",
            "database-schema-implementer",
            "-m",
            "M1",
            "--after",
            &schema,
        ],
    ));
    fixed.run(
        None,
        &[
            "task",
            "add",
            "Unit tests for the schema (>= 90% coverage)",
            "-t",
            "test-automation-engineer",
            "-m",
            "M1",
            "--after",
            &schema,
            "--after",
            &indexes,
        ],
    );
    fixed
        .run(None, &["memory", "add", "project:", "conventions", "Errors are JSON with code, message and request_id."]);
    fixed.run(
        None,
        &["decision", "add", "Use Postgres", "--context", "We need JSONB", "--decision", "Postgres 16", "-m", "M1"],
    );
    for columns in [60, 120] {
        let mut all = String::new();
        for args in [
            &["task", "list"][..],
            &["task", "plan", "-m", "M1"],
            &["task", "get", &schema],
            &["milestone", "list"],
            &["gate", "status"],
            &["memory", "list"],
            &["decision", "list"],
        ] {
            all.push_str(&format!("$ abathur {}\n{}\n", args.join(" "), fixed.run(Some(columns), args)));
        }
        insta::assert_snapshot!(format!("human_output_{columns}_columns"), all);
    }
}

#[test]
fn the_whole_help_reference() {
    // Every command's --help, as people see it at 100 columns.
    let mut cmd = abathur::cli::command().term_width(100);
    cmd.build();
    let mut all = String::new();
    fn walk(cmd: &mut clap::Command, path: &str, out: &mut String) {
        out.push_str(&format!("===== abathur{path} --help\n{}\n", cmd.render_long_help()));
        let names: Vec<String> =
            cmd.get_subcommands().map(|s| s.get_name().to_string()).filter(|n| n != "help").collect();
        for name in names {
            let sub = cmd.find_subcommand_mut(&name).unwrap();
            walk(sub, &format!("{path} {name}"), out);
        }
    }
    walk(&mut cmd, "", &mut all);
    insta::assert_snapshot!("help_reference", all);
}

#[test]
fn long_output_at_a_terminal_goes_through_the_pager_unless_no_pager() {
    let repo = Repo::new();
    for n in 0..30 {
        repo.add(&[&format!("Task {n}")]);
    }
    // A real terminal of 10 rows (util-linux `script` gives the command a pty); the pager writes a file.
    let paged = repo.path().join("paged.txt");
    let at_pty = |args: &str| {
        let _ = std::fs::remove_file(&paged);
        let line = format!("stty rows 10 cols 100; {} {args}", crate::common::bin());
        let mut script = std::process::Command::new("script");
        crate::common::hermetic(&mut script, repo.path());
        let out = script
            .args(["-qec", &line, "/dev/null"])
            .current_dir(repo.path())
            .env("ABATHUR_PAGER", format!("cat > {}", paged.display()))
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", describe(&out));
        (String::from_utf8_lossy(&out.stdout).into_owned(), std::fs::read_to_string(&paged).ok())
    };
    let (shown, through_pager) = at_pty("task list");
    let through_pager = through_pager.expect("the pager ran");
    assert_eq!(through_pager.lines().count(), 31, "the header and 30 rows: {through_pager}");
    assert!(!shown.contains("Task 29"), "not also on the terminal: {shown}");
    let (shown, through_pager) = at_pty("--no-pager task list");
    assert!(through_pager.is_none() && shown.contains("Task 29"), "--no-pager prints straight");
    let (shown, through_pager) = at_pty("ledger path");
    assert!(through_pager.is_none() && shown.contains(".git/abathur"), "what fits the terminal is not paged");
}
