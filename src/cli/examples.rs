//! Examples at the end of each command's help: kept in one table so that they read as a set and a
//! test can hold every main command to having them.

use clap::Command;

/// Command path, then its examples (one command line each, with a comment where it helps).
const EXAMPLES: &[(&str, &str)] = &[
    (
        "init",
        "abathur init                 # the ledger in .git/abathur (in a clone: the remote's)\nabathur init --claude        # and the Claude Code MCP server and agent definitions",
    ),
    ("sync", "abathur sync\nabathur sync --remote upstream"),
    ("ledger status", "abathur ledger status\nabathur --json ledger status"),
    ("ledger commit", "abathur ledger commit -m \"Allow the release key\" --sign"),
    (
        "task add",
        "abathur task add \"Create the schema\" -t schema-implementer -p 8 -m M1 --estimate 6h\nabathur task add \"Write the tests\" -t test-engineer --after 01jq3v\necho \"Long description\" | abathur task add - --summary \"Short label\"",
    ),
    (
        "task list",
        "abathur task list\nabathur task list --status ready -t schema-implementer\nabathur task list -m M1 --limit 20\nabathur task list | cut -f1      # to a pipe: tab-separated, no header",
    ),
    ("task get", "abathur task get 01jq3v        # any unique prefix of the id\nabathur --json task get 01jq3v"),
    ("task status", "abathur task status"),
    ("task cancel", "abathur task cancel 01jq3v --reason \"moved to M2\""),
    ("task plan", "abathur task plan -m M1\nabathur task plan 01jq3v 01jq4a"),
    (
        "task graph",
        "abathur task graph -m M1                 # Mermaid, for a pull request or docs\nabathur task graph --format dot | dot -Tsvg > plan.svg",
    ),
    (
        "task claim",
        "abathur --json task claim -t schema-implementer --agent impl-1\nabathur task claim -t schema-implementer --wait 60s   # wait for work to become ready",
    ),
    ("task heartbeat", "abathur task heartbeat 01jq3v --lease 01jq5c..."),
    ("task complete", "abathur task complete 01jq3v --lease 01jq5c... --result '{\"files\":[\"schema.sql\"]}'"),
    ("task fail", "abathur task fail 01jq3v --lease 01jq5c... -e \"pytest crashed: connection reset\""),
    ("task update", "abathur task update 01jq3v -p 9 --deadline 2030-01-15\nabathur task update 01jq3v --after 01jq4a"),
    (
        "milestone add",
        "abathur milestone add --example seed-plan   # the seed's four milestones\nabathur milestone add M5 --title \"Hardening\" --budget-hours 40 --criterion \"No open high issues\" --target coverage>=90%",
    ),
    ("milestone list", "abathur milestone list"),
    ("milestone show", "abathur milestone show M1"),
    ("gate status", "abathur gate status"),
    ("gate check", "abathur gate check M1 --junit junit.xml --lcov lcov.info"),
    ("gate approve", "abathur gate approve M1 --rationale \"All criteria met\""),
    (
        "gate conditional",
        "abathur gate conditional M1 --rationale \"Ship; fix the flaky test\" --issue \"medium: flaky test\"",
    ),
    ("gate revise", "abathur gate revise M1 --rationale \"Coverage 71%\" --issue \"high: coverage below 80%\""),
    ("gate escalate", "abathur gate escalate M1 --rationale \"Security review needed\""),
    (
        "gate verify",
        "abathur gate verify\nabathur gate verify --all     # every decision ever made, not only those in force",
    ),
    (
        "decision add",
        "abathur decision add \"Use Postgres\" --context \"We need JSONB\" --decision \"Postgres 16\" -m M1",
    ),
    ("decision list", "abathur decision list\nabathur decision list --status accepted"),
    (
        "memory add",
        "abathur memory add project: conventions \"Errors are JSON with code and message.\"\nabathur memory add task:01jq3v: notes \"Partitioned by month\" --type episodic --ttl 30d",
    ),
    ("memory get", "abathur memory get project: conventions\nabathur memory get project: conventions --version 1"),
    ("memory list", "abathur memory list\nabathur memory list task:"),
    (
        "requirement set",
        "abathur requirement set R1 --title \"Reads under 50 ms\" -m M1 --status met --evidence \"bench: 12 ms\"",
    ),
    ("report", "abathur report\nabathur report --unsigned"),
    ("session create", "abathur session create --app orchestrator"),
    (
        "search",
        "abathur search \"how do errors look\"\nabathur search -- \"--status ready\"         # punctuation is searched as words (-- before a leading dash)\nabathur search 'schema AND NOT draft' --syntax   # tantivy's query language",
    ),
    ("review", "abathur review main..HEAD > pr-body.md"),
    ("context", "abathur context -t schema-implementer"),
    ("view", "abathur view                 # writes .git/abathur/cache/view.html\nabathur view -o ledger.html"),
    ("check", "abathur check && echo \"the ledger is valid\""),
    ("doctor", "abathur doctor"),
    ("mcp", "abathur mcp                  # an MCP client starts it; see docs/mcp.md"),
];

/// The command paths held to having examples (a test checks each has them).
#[cfg(test)]
pub fn documented() -> impl Iterator<Item = &'static str> {
    EXAMPLES.iter().map(|(path, _)| *path)
}

/// Adds each command's examples to the end of its help.
pub fn add(cmd: Command) -> Command {
    add_under(cmd, "")
}

fn add_under(mut cmd: Command, path: &str) -> Command {
    if let Some((_, examples)) = EXAMPLES.iter().find(|(p, _)| *p == path) {
        let text: String = examples.lines().map(|l| format!("  {l}\n")).collect();
        cmd = cmd.after_help(format!("Examples:\n{}", text.trim_end()));
    }
    let names: Vec<String> = cmd.get_subcommands().map(|s| s.get_name().to_string()).collect();
    for name in names {
        let sub_path = if path.is_empty() { name.clone() } else { format!("{path} {name}") };
        cmd = cmd.mut_subcommand(&name, |sub| add_under(sub, &sub_path));
    }
    cmd
}
