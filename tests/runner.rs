//! The one integration-test binary. Every test runs the real `abathur` binary in real temporary git
//! repositories; `common` holds the harness.

mod common;

mod architecture;
mod bad_input;
mod cache;
mod concurrency;
mod context;
mod crash;
mod demo;
mod doctor;
mod engine;
mod gate;
mod gate_trust;
mod git_workflow;
mod init;
mod integrate;
mod ledger_git;
mod mcp_server;
mod memory;
mod merge;
mod milestone;
mod readme;
mod requirement;
mod search;
mod search_quality;
mod service_memory;
mod service_queue;
mod session;
mod task_lifecycle;
mod terminal;
mod view;
mod worktree;

#[test]
fn every_test_file_is_listed() {
    let listed = include_str!("runner.rs");
    for entry in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/tests")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if let Some(module) = name.strip_suffix(".rs")
            && module != "runner"
        {
            {
                assert!(listed.contains(&format!("mod {module};")), "tests/{name} is not listed in tests/runner.rs");
            }
        }
    }
}
