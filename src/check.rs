//! `abathur check`: is the whole ledger valid? What CI runs, and `abathur sync` before it pushes.
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
use crate::queue::task::State;
use crate::service::Service;

/// One thing wrong with the ledger.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct Problem {
    /// The file concerned.
    pub file: String,
    /// What is wrong and what to do.
    pub message: String,
}

/// The outcome of a check.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct CheckReport {
    /// Task files read.
    pub tasks_checked: usize,
    /// Every ledger file read: tasks, memory, milestones, gates, decisions and the rest.
    pub files_checked: usize,
    /// Everything wrong; empty when the ledger is valid.
    pub problems: Vec<Problem>,
}

impl Service {
    /// Validates every file of the ledger.
    pub fn check(&self) -> Result<CheckReport> {
        let rel = |p: &std::path::Path| p.display().to_string();
        let tasks_dir = self.ledger.tasks_dir();
        let heads = self.tasks.load_verified()?;
        let mut problems: Vec<Problem> = heads
            .problems
            .iter()
            .map(|e| {
                let (file, message) = e.message.split_once(": ").unwrap_or(("", &e.message));
                Problem { file: file.to_string(), message: message.to_string() }
            })
            .collect();

        let tasks = &heads.tasks;
        let file_of = |id: &Id| tasks_dir.join(format!("{id}.toml")).display().to_string();
        let find = |id: &Id| tasks.binary_search_by(|h| h.id.cmp(id)).ok();
        for head in tasks.iter() {
            for p in head.prerequisites.iter().filter(|p| find(p).is_none()) {
                problems.push(Problem {
                    file: file_of(&head.id),
                    message: format!("field `prerequisites`: {p} names no task; remove it or restore that task's file"),
                });
            }
        }
        let (milestones, _) = self.milestones()?;
        if !milestones.is_empty() {
            for head in tasks.iter().filter(|h| !h.state.is_terminal()) {
                let Some(m) = head.milestone.map(|m| heads.symbols.name(m)) else { continue };
                if !milestones.iter().any(|x| x.id == m) {
                    problems.push(Problem {
                        file: file_of(&head.id),
                        message: format!(
                            "field `milestone`: {m} is not a milestone of this ledger, so the task stays blocked; fix it (`abathur task update -m`) or add the milestone"
                        ),
                    });
                }
            }
        }
        for head in tasks.iter().filter(|h| !h.state.is_terminal()) {
            for (p, state) in head.prerequisites.iter().filter_map(|p| find(p).map(|i| (p, tasks[i].state))) {
                if matches!(state, State::Cancelled | State::Failed) {
                    problems.push(Problem {
                        file: file_of(&head.id),
                        message: format!(
                            "field `prerequisites`: waits on {p}, which is {}, so it can never run; cancel it (`abathur task cancel`) or drop the prerequisite (`abathur task update --not-after`)",
                            state.as_str()
                        ),
                    });
                }
            }
        }
        let graph = Graph::build(tasks.len(), |i| tasks[i].prerequisites.iter().filter_map(find));
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

        // Every file of the ledger, listed once for the checks below that look beyond the readers.
        let files = crate::ledger::codec::walk(self.ledger.root())?;
        problems.extend(self.leftovers(&files));
        self.check_other_files(&files, &mut problems, &|id: &Id| find(id).is_some())?;
        for p in &mut problems {
            p.file = rel(std::path::Path::new(&p.file));
        }
        problems.sort_by(|a, b| (&a.file, &a.message).cmp(&(&b.file, &b.message)));
        let cache = self.ledger.cache_dir();
        let files_checked = files.iter().filter(|p| !p.starts_with(&cache)).count();
        Ok(CheckReport { tasks_checked: tasks.len(), files_checked, problems })
    }

    /// Why one ledger file (relative to the ledger folder) cannot be read on its own, leaving rules
    /// across files aside: what a hand edit must never commit (a conflict marker, a broken field).
    pub fn unreadable(&self, rel: &str) -> Option<crate::Error> {
        let path = self.ledger.root().join(rel);
        if !path.exists() {
            return None;
        }
        let text = match crate::ledger::codec::read_text(&path) {
            Ok(text) => text,
            Err(e) => return Some(e),
        };
        let folder = rel.split('/').next().unwrap_or("");
        let parsed = match folder {
            "tasks" if rel.ends_with(".toml") => {
                crate::queue::task::TaskRecord::from_toml(&text, &path).and_then(|r| r.validate()).map(|_| ())
            }
            "gates" if rel.ends_with(".toml") => crate::gate::record::GateRecord::from_toml(&text, &path).map(|_| ()),
            "milestones" => crate::milestone::record::MilestoneRecord::from_toml(&text, &path).map(|_| ()),
            "decisions" => crate::decision::record::Decision::parse(&text, &path).map(|_| ()),
            "memory" if rel.ends_with(".md") => crate::memory::entry::Entry::parse(&text, &path).map(|_| ()),
            "config.toml" => crate::config::Config::load(&path).map(|_| ()),
            _ => Ok(()),
        };
        parsed.err()
    }

    /// What a killed writer left: temporary files anywhere in the ledger (in the staging folder,
    /// only those old enough for the next writer to sweep), and a signed change not yet applied.
    fn leftovers(&self, files: &[std::path::PathBuf]) -> Vec<Problem> {
        let root = self.ledger.root();
        let swept = [self.ledger.staging_dir(), self.ledger.cache_dir()];
        let mut problems = Vec::new();
        if root.join(crate::ledger::sealed::INTENT).exists() {
            problems.push(Problem {
                file: root.join(crate::ledger::sealed::INTENT).display().to_string(),
                message:
                    "a signed gate decision was interrupted while it was applied; the next abathur write finishes it"
                        .into(),
            });
        }
        // Every folder, whatever it holds: the ledger's readers list only their own files.
        for path in files {
            if !path.file_name().is_some_and(|n| n.to_string_lossy().starts_with(TEMP_PREFIX)) {
                continue;
            }
            let young = crate::ledger::codec::modified(path)
                .is_some_and(|t| t.elapsed().is_ok_and(|age| age <= crate::ledger::STALE_TEMP));
            let sweeps = path.parent().is_some_and(|dir| swept.iter().any(|s| s == dir));
            if sweeps && young {
                continue;
            }
            problems.push(Problem {
                file: path.display().to_string(),
                message: if sweeps {
                    "temporary file left by an interrupted writer; the next abathur write removes it".into()
                } else {
                    "temporary file left by an interrupted writer; delete it".into()
                },
            });
        }
        problems
    }

    /// Memory entries, milestones, gate records and decision records: each file parses, and every
    /// link names something that exists.
    fn check_other_files(
        &self,
        files: &[std::path::PathBuf],
        problems: &mut Vec<Problem>,
        task_exists: &dyn Fn(&Id) -> bool,
    ) -> Result<()> {
        let from_error = |e: &crate::Error| {
            let (file, message) = e.message.split_once(": ").unwrap_or(("", &e.message));
            Problem { file: file.to_string(), message: message.to_string() }
        };
        let root = self.ledger.root();
        let memory = self.ledger.memory_dir();
        for path in files.iter().filter(|p| p.starts_with(&memory)) {
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            if name.ends_with(".md") && !name.starts_with(TEMP_PREFIX) {
                let result =
                    crate::ledger::codec::read_text(path).and_then(|t| crate::memory::entry::Entry::parse(&t, path));
                if let Err(e) = result {
                    problems.push(from_error(&e));
                }
            }
        }
        let (milestones, milestone_problems) = self.milestones()?;
        problems.extend(milestone_problems.iter().map(from_error));
        let milestone_exists = |m: &str| milestones.iter().any(|r| r.id == m);
        let mut gate_ids = Vec::new();
        let mut gate_records = Vec::new();
        for path in crate::ledger::codec::list(&root.join("gates"), "toml")? {
            match crate::ledger::codec::read_text(&path)
                .and_then(|t| crate::gate::record::GateRecord::from_toml(&t, &path))
            {
                Ok(record) => {
                    if !milestone_exists(&record.milestone) {
                        problems.push(Problem {
                            file: path.display().to_string(),
                            message: format!(
                                "field `milestone`: no milestone `{}`; restore its file",
                                record.milestone
                            ),
                        });
                    }
                    gate_ids.push(record.id);
                    gate_records.push((path.clone(), record));
                }
                Err(e) => problems.push(from_error(&e)),
            }
        }
        // Gate order: a milestone's gate is decided only after every earlier milestone's gate opened.
        let order = |m: &str| milestones.iter().find(|r| r.id == m).map(|r| r.order);
        for (path, record) in &gate_records {
            let Some(k) = order(&record.milestone) else { continue };
            for earlier in milestones.iter().filter(|m| m.order < k) {
                let opened = gate_records
                    .iter()
                    .any(|(_, r)| r.milestone == earlier.id && r.decision.opens() && r.decided_at <= record.decided_at);
                if !opened {
                    problems.push(Problem {
                        file: path.display().to_string(),
                        message: format!(
                            "gate order: {} was decided while the gate of the earlier milestone {} had not opened",
                            record.milestone, earlier.id
                        ),
                    });
                }
            }
        }
        // Decisions: a whole chain per gate, every follow-up task present, every one that claims a
        // signature verified.
        let records: Vec<crate::gate::record::GateRecord> = gate_records.iter().map(|(_, r)| r.clone()).collect();
        let gates_dir = root.join("gates");
        for message in crate::gate::verify::chain_problems(&records, &gates_dir) {
            problems.push(Problem { file: gates_dir.display().to_string(), message });
        }
        // Unfinished tasks a decision made whose record is gone: claimable work nobody decided.
        for path in crate::ledger::codec::list(&root.join("tasks"), "toml")? {
            let Ok(bytes) = crate::ledger::codec::read_bytes(&path) else { continue }; // reported with the task files
            if !bytes.windows(13).any(|w| w == b"gate_decision") {
                continue;
            }
            let Ok(task) = crate::queue::task::TaskRecord::from_toml(&String::from_utf8_lossy(&bytes), &path) else {
                continue; // reported with the task files
            };
            let gate = task
                .input_data
                .as_deref()
                .and_then(|d| serde_json::from_str::<serde_json::Value>(d).ok())
                .and_then(|d| d.get("gate_decision")?.as_str().and_then(|g| Id::parse(g).ok()));
            if let Some(gate) = gate.filter(|g| !gate_ids.contains(g) && !task.state.is_terminal()) {
                problems.push(Problem {
                    file: path.display().to_string(),
                    message: format!(
                        "field `input_data`: made by gate decision {gate}, which is not in the ledger; cancel the task or restore the decision"
                    ),
                });
            }
        }
        let signed: Vec<&crate::gate::record::GateRecord> = records.iter().filter(|r| r.signed).collect();
        let verdicts = self.judge_decisions(&signed);
        for (path, record) in &gate_records {
            for task in record.follow_up_task_ids.iter().filter(|t| !task_exists(t)) {
                problems.push(Problem {
                    file: path.display().to_string(),
                    message: format!("field `follow_up_task_ids`: task {task} is missing; restore its file"),
                });
            }
            if let Some(Err(why)) = verdicts.get(&record.id) {
                problems.push(Problem {
                    file: path.display().to_string(),
                    message: format!("says it is signed but does not verify, so it opens nothing: {}", why.join("; ")),
                });
            }
        }
        if let Err(e) = self.requirement_list() {
            problems.push(from_error(&e));
        }
        let mut decisions = Vec::new();
        for path in crate::ledger::codec::list(&root.join("decisions"), "md")? {
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            if name.len() < 27 || !name.is_char_boundary(26) || Id::parse(&name[..26]).is_err() {
                continue;
            }
            match crate::ledger::codec::read_text(&path)
                .and_then(|t| crate::decision::record::Decision::parse(&t, &path))
            {
                Ok(d) if d.meta.id.to_string() != name[..26] => problems.push(Problem {
                    file: path.display().to_string(),
                    message: format!(
                        "field `id`: {} differs from the file name; rename the file or fix the id",
                        d.meta.id
                    ),
                }),
                Ok(d) => decisions.push((path, d)),
                Err(e) => problems.push(from_error(&e)),
            }
        }
        let decision_exists = |id: &Id| decisions.iter().any(|(_, d)| d.meta.id == *id);
        for (path, d) in &decisions {
            let mut dangling = |field: &str, what: String| {
                problems.push(Problem {
                    file: path.display().to_string(),
                    message: format!("field `{field}`: {what} names nothing in the ledger; remove it or restore it"),
                })
            };
            d.meta.tasks.iter().filter(|t| !task_exists(t)).for_each(|t| dangling("tasks", t.to_string()));
            d.meta.milestones.iter().filter(|m| !milestone_exists(m)).for_each(|m| dangling("milestones", m.clone()));
            d.meta.gates.iter().filter(|g| !gate_ids.contains(g)).for_each(|g| dangling("gates", g.to_string()));
            d.meta
                .supersedes
                .iter()
                .filter(|s| !decision_exists(s))
                .for_each(|s| dangling("supersedes", s.to_string()));
            d.meta
                .superseded_by
                .iter()
                .filter(|s| !decision_exists(s))
                .for_each(|s| dangling("superseded_by", s.to_string()));
        }
        Ok(())
    }
}
