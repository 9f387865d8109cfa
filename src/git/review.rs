//! `abathur review BASE..HEAD`: what a range of commits did to the ledger, for a pull-request comment.
//!
//! It compares the ledger files of the two commits (not the commits in between: a task claimed and
//! completed inside the range shows as completed), and reports tasks by what happened to them,
//! milestone progress, decisions, gate decisions with their signature status, and memory. Markdown
//! output carries the touched tasks as a Mermaid graph, which GitHub and GitLab render.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::error::{Error, ErrorKind, Result};
use crate::queue::task::{State, TaskRecord};
use crate::service::Service;

/// A task the range touched.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct TaskChange {
    /// Task id.
    pub id: String,
    /// One-line summary.
    pub summary: String,
    /// added, claimed, completed, failed, cancelled, retried, updated or deleted.
    pub change: String,
    /// Lifecycle state at HEAD.
    pub state: Option<String>,
    /// Milestone.
    pub milestone: Option<String>,
    /// Prerequisites at HEAD (for the graph).
    pub prerequisites: Vec<String>,
    /// For a completed task: the code commit checked out where it was completed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code_commit: Option<String>,
}

/// A milestone's tasks at both ends of the range.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct MilestoneChange {
    /// Milestone id.
    pub milestone: String,
    /// Completed / total at BASE.
    pub before: (usize, usize),
    /// Completed / total at HEAD.
    pub after: (usize, usize),
}

/// Everything `review` reports.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct Review {
    /// The range reviewed, as given.
    pub range: String,
    /// Tasks touched.
    pub tasks: Vec<TaskChange>,
    /// Milestones whose task counts changed.
    pub milestones: Vec<MilestoneChange>,
    /// Decision records added or changed: `id: title (status)`.
    pub decisions: Vec<String>,
    /// Gate decisions recorded: `milestone: decision (signed|UNSIGNED)`.
    pub gates: Vec<String>,
    /// Memory entries added, updated or deleted: `namespace:key change`.
    pub memory: Vec<String>,
    /// The touched tasks and the prerequisites they wait on, coloured by state at HEAD.
    pub graph: crate::queue::picture::TaskGraph,
}

impl Service {
    /// Reviews the ledger changes between two commits (`BASE..HEAD`, or `BASE` for `BASE..HEAD`).
    pub fn review(&self, range: &str) -> Result<Review> {
        let repo = self.ledger.repo()?;
        let (base, head) = range.split_once("..").unwrap_or((range, "HEAD"));
        let head = if head.is_empty() { "HEAD" } else { head };
        let commit = |rev: &str| {
            repo.revparse_single(rev).and_then(|o| o.peel_to_commit()).map_err(|e| {
                Error::new(ErrorKind::Validation, format!("range: `{rev}` is not a commit: {}", e.message()))
                    .hint("give a range such as main..HEAD or origin/main..")
            })
        };
        // A code range names the ledger as it stood when each end was made; a range of the ledger
        // branch itself (abathur-ledger~5..abathur-ledger) names its commits directly.
        let (base_commit, head_commit) = (commit(base)?, commit(head)?);
        let ledger_tip = crate::ledger::history::tip(&repo);
        let on_ledger = |c: &git2::Commit<'_>| {
            ledger_tip
                .as_ref()
                .is_some_and(|t| t.id() == c.id() || repo.graph_descendant_of(t.id(), c.id()).unwrap_or(false))
        };
        let at = |c: &git2::Commit<'_>, is_head: bool| -> Result<git2::Tree<'_>> {
            let ledger_commit = if on_ledger(c) {
                Some(repo.find_commit(c.id()).map_err(|e| crate::git::sign::git_error("reading the ledger", e))?)
            } else if is_head && head == "HEAD" {
                ledger_tip.clone()
            } else {
                ledger_at(&repo, c.time().seconds())
            };
            match ledger_commit {
                Some(lc) => lc.tree().map_err(|e| crate::git::sign::git_error("reading the ledger", e)),
                None => repo
                    .treebuilder(None)
                    .and_then(|b| b.write())
                    .and_then(|oid| repo.find_tree(oid))
                    .map_err(|e| crate::git::sign::git_error("writing an empty tree", e)),
            }
        };
        let (old, new) = (at(&base_commit, false)?, at(&head_commit, true)?);
        let read_all = |t: &git2::Tree<'_>, dir: &str| -> BTreeMap<String, String> {
            let mut out = BTreeMap::new();
            if let Ok(entry) = t.get_path(Path::new(dir))
                && let Ok(obj) = entry.to_object(&repo)
                && let Some(sub) = obj.as_tree()
            {
                let _ = sub.walk(git2::TreeWalkMode::PreOrder, |root, e| {
                    if let Ok(name) = e.name()
                        && let Ok(o) = e.to_object(&repo)
                        && let Some(blob) = o.as_blob()
                    {
                        out.insert(format!("{root}{name}"), String::from_utf8_lossy(blob.content()).into_owned());
                    }
                    git2::TreeWalkResult::Ok
                });
            }
            out
        };
        let tasks = |t: &git2::Tree<'_>| -> BTreeMap<String, TaskRecord> {
            read_all(t, "tasks")
                .into_iter()
                .filter_map(|(name, text)| {
                    let path = format!("tasks/{name}");
                    TaskRecord::from_toml(&text, Path::new(&path)).ok().map(|r| (r.id.to_string(), r))
                })
                .collect()
        };
        let (before, mut after) = (tasks(&old), tasks(&new));
        // A task completed at a commit of a code range belongs to that range, whenever the ledger
        // recorded it: an agent commits its code, then completes the task.
        let code_range = !on_ledger(&head_commit);
        let in_range = |sha: &str| -> Option<bool> {
            let oid = git2::Oid::from_str(sha).ok()?;
            let reaches = |from: git2::Oid| from == oid || repo.graph_descendant_of(from, oid).unwrap_or(false);
            Some(reaches(head_commit.id()) && !reaches(base_commit.id()))
        };
        let mut finished_in_range = std::collections::BTreeSet::new();
        if code_range && let Some(tip) = &ledger_tip {
            let tip_tree = tip.tree().map_err(|e| crate::git::sign::git_error("reading the ledger", e))?;
            for (id, record) in tasks(&tip_tree) {
                if completed_at(&record).as_deref().and_then(in_range) == Some(true) {
                    finished_in_range.insert(id.clone());
                    after.insert(id, record);
                }
            }
        }
        let mut task_changes = Vec::new();
        for id in before.keys().chain(after.keys()).collect::<std::collections::BTreeSet<_>>() {
            let (b, a) = (before.get(id), after.get(id));
            let change = match (b, a) {
                _ if finished_in_range.contains(id) && b.map(|b| b.state) != Some(State::Completed) => "completed",
                // New in the range: what it ended as, unless it is simply waiting.
                (None, Some(a)) => match a.state {
                    State::Pending => "added",
                    State::Running => "claimed",
                    State::Completed => "completed",
                    State::Failed => "failed",
                    State::Cancelled => "cancelled",
                },
                (Some(_), None) => "deleted",
                (Some(b), Some(a)) if b.state != a.state => match a.state {
                    State::Running => "claimed",
                    State::Completed => "completed",
                    State::Failed => "failed",
                    State::Cancelled => "cancelled",
                    State::Pending => "retried",
                },
                (Some(b), Some(a)) if b.to_toml() != a.to_toml() => "updated",
                _ => continue,
            };
            let record = a.or(b).expect("one side has it");
            let code_commit = a.filter(|r| r.state == State::Completed).and_then(completed_at);
            // Completed at a commit outside the range (before BASE): not this range's work.
            if code_range
                && matches!(change, "added" | "completed")
                && !finished_in_range.contains(id)
                && code_commit.as_deref().and_then(in_range) == Some(false)
            {
                continue;
            }
            task_changes.push(TaskChange {
                id: id.clone(),
                summary: record.summary.clone(),
                change: change.into(),
                state: a.map(|r| format!("{:?}", r.state).to_lowercase()),
                milestone: record.milestone.clone(),
                prerequisites: a.map(|r| r.prerequisites.iter().map(|p| p.to_string()).collect()).unwrap_or_default(),
                code_commit,
            });
        }
        let progress = |set: &BTreeMap<String, TaskRecord>, m: &str| {
            let of: Vec<&TaskRecord> = set.values().filter(|t| t.milestone.as_deref() == Some(m)).collect();
            (of.iter().filter(|t| t.state == State::Completed).count(), of.len())
        };
        let mut milestone_ids: Vec<String> = task_changes.iter().filter_map(|t| t.milestone.clone()).collect();
        milestone_ids.sort();
        milestone_ids.dedup();
        let milestones = milestone_ids
            .into_iter()
            .map(|m| MilestoneChange { before: progress(&before, &m), after: progress(&after, &m), milestone: m })
            .filter(|m| m.before != m.after)
            .collect();
        let changed = |dir: &str| -> Vec<(String, Option<String>, Option<String>)> {
            let (o, n) = (read_all(&old, dir), read_all(&new, dir));
            let keys: std::collections::BTreeSet<&String> = o.keys().chain(n.keys()).collect();
            keys.into_iter()
                .filter(|k| o.get(*k) != n.get(*k))
                .map(|k| (format!("{dir}/{k}"), o.get(k).cloned(), n.get(k).cloned()))
                .collect()
        };
        let decisions = changed("decisions")
            .into_iter()
            .filter_map(|(path, o, n)| {
                let d = crate::decision::record::Decision::parse(n.as_ref().or(o.as_ref())?, Path::new(&path)).ok()?;
                let verb = if o.is_none() {
                    "recorded"
                } else if n.is_none() {
                    "deleted"
                } else {
                    "changed"
                };
                Some(format!("{}: {} ({}, {verb})", d.meta.id, d.meta.title, d.meta.status.as_str()))
            })
            .collect();
        let gates = changed("gates")
            .into_iter()
            .filter(|(path, o, n)| path.ends_with(".toml") && o.is_none() && n.is_some())
            .filter_map(|(path, _, n)| crate::gate::record::GateRecord::from_toml(&n?, Path::new(&path)).ok())
            .map(|g| {
                let decision = serde_json::to_value(g.decision)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default();
                format!("{}: {decision} ({})", g.milestone, if g.signed { "signed" } else { "UNSIGNED" })
            })
            .collect();
        let memory = changed("memory")
            .into_iter()
            .filter(|(path, _, _)| path.ends_with(".md") && !path.contains("/.history/"))
            .filter_map(|(path, o, n)| {
                let e = crate::memory::entry::Entry::parse(n.as_ref().or(o.as_ref())?, Path::new(&path)).ok()?;
                let what = if e.meta.deleted {
                    "deleted".to_string()
                } else if o.is_none() {
                    "added".into()
                } else {
                    format!("updated to v{}", e.meta.version)
                };
                Some(format!("{}{} {what}", e.meta.namespace, e.meta.key))
            })
            .collect();
        let graph = review_graph(&task_changes, &after);
        Ok(Review { range: range.to_string(), tasks: task_changes, milestones, decisions, gates, memory, graph })
    }
}

impl Review {
    /// The review as Markdown for a pull-request comment.
    pub fn to_markdown(&self) -> String {
        let mut out = format!("## Ledger changes in `{}`\n\n", self.range);
        if self.tasks.is_empty() && self.decisions.is_empty() && self.gates.is_empty() && self.memory.is_empty() {
            out.push_str("No ledger changes.\n");
            return out;
        }
        if !self.tasks.is_empty() {
            let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
            for t in &self.tasks {
                *counts.entry(t.change.as_str()).or_default() += 1;
            }
            let summary: Vec<String> = counts.iter().map(|(c, n)| format!("{n} {c}")).collect();
            out.push_str(&format!(
                "### Tasks ({})\n\n| task | change | milestone | summary | code |\n|---|---|---|---|---|\n",
                summary.join(", ")
            ));
            for t in &self.tasks {
                let code = t.code_commit.as_deref().map(|c| format!("`{}`", &c[..12.min(c.len())])).unwrap_or_default();
                out.push_str(&format!(
                    "| `{}` | {} | {} | {} | {code} |\n",
                    &t.id[..10.min(t.id.len())],
                    t.change,
                    markdown_escape(t.milestone.as_deref().unwrap_or("")),
                    markdown_escape(&t.summary)
                ));
            }
            out.push_str(&format!("\n```mermaid\n{}```\n\n", self.graph.mermaid()));
        }
        if !self.milestones.is_empty() {
            out.push_str("### Milestones\n\n");
            for m in &self.milestones {
                out.push_str(&format!(
                    "- {}: {}/{} → {}/{} tasks completed\n",
                    m.milestone, m.before.0, m.before.1, m.after.0, m.after.1
                ));
            }
            out.push('\n');
        }
        for (title, items) in
            [("Gate decisions", &self.gates), ("Decisions", &self.decisions), ("Memory", &self.memory)]
        {
            if !items.is_empty() {
                out.push_str(&format!("### {title}\n\n"));
                for i in items {
                    out.push_str(&format!("- {i}\n"));
                }
                out.push('\n');
            }
        }
        out
    }
}

/// Ledger text inside a Markdown table: no HTML, no cell break, no emphasis or link syntax.
fn markdown_escape(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '&' => "&amp;".to_string(),
            '<' => "&lt;".to_string(),
            '>' => "&gt;".to_string(),
            '|' | '`' | '*' | '_' | '[' | ']' | '\\' => format!("\\{c}"),
            c if c.is_control() => " ".to_string(),
            c => c.to_string(),
        })
        .collect()
}

/// The touched tasks, coloured by their state at HEAD, with every prerequisite they wait on (those
/// the range did not touch drawn as context).
fn review_graph(touched: &[TaskChange], at_head: &BTreeMap<String, TaskRecord>) -> crate::queue::picture::TaskGraph {
    use crate::queue::picture::{GraphNode, TaskGraph};
    let ids: Vec<crate::id::Id> = at_head.values().map(|r| r.id).collect();
    let short = crate::id::Shortener::new(ids);
    let node = |id: &str, summary: &str, status: String, context| GraphNode {
        id: id.to_string(),
        short_id: short.short(id).to_string(),
        summary: summary.to_string(),
        status,
        context,
    };
    let mut graph = TaskGraph::default();
    for t in touched {
        let status = t.state.clone().unwrap_or_else(|| "deleted".into());
        graph.nodes.push(node(&t.id, &t.summary, status, false));
    }
    for t in touched {
        for p in &t.prerequisites {
            if !graph.nodes.iter().any(|n| &n.id == p)
                && let Some(r) = at_head.get(p)
            {
                graph.nodes.push(node(p, &r.summary, format!("{:?}", r.state).to_lowercase(), true));
            }
            if graph.nodes.iter().any(|n| &n.id == p) {
                graph.edges.push([p.clone(), t.id.clone()]);
            }
        }
    }
    graph
}

/// The code commit checked out where a task was completed, as its completion event recorded it.
fn completed_at(task: &TaskRecord) -> Option<String> {
    let done = task.events.iter().rev().find(|e| e.event == "completed")?;
    done.note.as_deref()?.strip_prefix(crate::queue::ops::CODE_NOTE).map(str::to_string)
}

/// The ledger branch's commit that was the tip at `time` (seconds): the newest first-parent
/// ancestor made at or before it.
fn ledger_at(repo: &git2::Repository, time: i64) -> Option<git2::Commit<'_>> {
    let mut commit = crate::ledger::history::tip(repo)?;
    loop {
        if commit.time().seconds() <= time {
            return Some(commit);
        }
        commit = commit.parent(0).ok()?;
    }
}
