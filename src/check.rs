//! `abathur check`: is the whole ledger valid? What CI and the pre-commit hook run.
//!
//! It re-verifies every task file by its fingerprint (so edits made in place by other tools are seen
//! and the cache refreshed), and reports each malformed file, each prerequisite or parent that names
//! no task, each dependency cycle (as its path), and temporary files left by killed writers. Problems
//! name the file and field; the command exits non-zero when there is any.

use serde::Serialize;

use crate::error::Result;
use crate::id::Id;
use crate::ledger::atomic::TEMP_PREFIX;
use crate::queue::graph::Graph;
use crate::service::Service;

/// One thing wrong with the ledger.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct Problem {
    /// The file concerned, relative to the work tree.
    pub file: String,
    /// What is wrong and what to do.
    pub message: String,
}

/// The outcome of a check.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct CheckReport {
    /// Task files read.
    pub tasks_checked: usize,
    /// Everything wrong; empty when the ledger is valid.
    pub problems: Vec<Problem>,
}

impl Service {
    /// Validates every file of the ledger.
    pub fn check(&self) -> Result<CheckReport> {
        let workdir = self.ledger.workdir().to_path_buf();
        let rel = |p: &std::path::Path| p.strip_prefix(&workdir).unwrap_or(p).display().to_string();
        let tasks_dir = self.ledger.tasks_dir();
        let heads = self.tasks.load_verified()?;
        let mut problems: Vec<Problem> = heads
            .problems
            .iter()
            .map(|e| {
                let (file, message) = e.message.split_once(": ").unwrap_or(("", &e.message));
                Problem { file: rel(std::path::Path::new(file)), message: message.to_string() }
            })
            .collect();

        let tasks = &heads.tasks;
        let file_of = |id: &Id| rel(&tasks_dir.join(format!("{id}.toml")));
        let find = |id: &Id| tasks.binary_search_by(|h| h.id.cmp(id)).ok();
        for head in tasks.iter() {
            for p in head.prerequisites.iter().filter(|p| find(p).is_none()) {
                problems.push(Problem {
                    file: file_of(&head.id),
                    message: format!("field `prerequisites`: {p} names no task; remove it or restore that task's file"),
                });
            }
        }
        let graph = Graph::new(tasks.iter().map(|h| h.prerequisites.iter().filter_map(find).collect()).collect());
        let all: Vec<usize> = (0..tasks.len()).collect();
        let mut remaining = all.clone();
        // Report each cycle once: find one, drop its nodes from the search, look again.
        while let Err(cycle) = graph.plan_layers(&remaining) {
            let path: Vec<String> = cycle.iter().map(|&i| tasks[i].id.to_string()).collect();
            problems.push(Problem {
                file: file_of(&tasks[cycle[0]].id),
                message: format!(
                    "field `prerequisites`: dependency cycle {}; remove one of these prerequisites",
                    path.join(" -> ")
                ),
            });
            remaining.retain(|i| !cycle.contains(i));
            if remaining.is_empty() {
                break;
            }
        }

        for dir in [tasks_dir.clone(), self.ledger.cache_dir().join("tmp")] {
            let Ok(entries) = std::fs::read_dir(&dir) else { continue };
            for entry in entries.flatten() {
                if entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
                    problems.push(Problem {
                        file: rel(&entry.path()),
                        message: "temporary file left by an interrupted writer; delete it".into(),
                    });
                }
            }
        }
        problems.sort_by(|a, b| (&a.file, &a.message).cmp(&(&b.file, &b.message)));
        Ok(CheckReport { tasks_checked: tasks.len(), problems })
    }
}
