//! Pictures of the task graph: Mermaid (GitHub, GitLab and most Markdown viewers draw it) and
//! Graphviz DOT, each node coloured by its status and labelled with its summary.
//!
//! Summaries are ledger text: every character that either language or the Markdown around it
//! could take as syntax is written as an entity, so a summary can neither break the picture nor
//! inject HTML into a pull request.

use serde::Serialize;

use crate::error::Result;
use crate::service::Service;

/// One task in a picture.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct GraphNode {
    /// Full task id.
    pub id: String,
    /// The id as people read it (shortest unique prefix).
    pub short_id: String,
    /// One-line summary.
    pub summary: String,
    /// Status (ready, blocked, running, completed, ...) or, in a review, what happened to it.
    pub status: String,
    /// Not selected itself, drawn because a selected task waits on it.
    pub context: bool,
}

/// A set of tasks and the prerequisite edges among them.
#[derive(Clone, Debug, Default, Serialize, schemars::JsonSchema)]
pub struct TaskGraph {
    /// The tasks, in a stable order.
    pub nodes: Vec<GraphNode>,
    /// `[prerequisite, dependent]` pairs of full ids.
    pub edges: Vec<[String; 2]>,
}

impl Service {
    /// The graph of the given tasks and every task of `milestone` (all tasks when neither is
    /// given), with the prerequisites outside that set drawn as context.
    pub fn task_graph(&self, task_ids: &[String], milestone: Option<&str>) -> Result<TaskGraph> {
        let view = self.queue_view()?;
        let mut members = self.resolve_tasks(&view, "task_ids", task_ids)?;
        if let Some(m) = milestone {
            crate::queue::task::validate_milestone(m)?;
            members.extend((0..view.heads.len()).filter(|&i| view.milestone(i) == Some(m)));
        }
        if task_ids.is_empty() && milestone.is_none() {
            members.extend(0..view.heads.len());
        }
        members.sort_unstable();
        members.dedup();
        Ok(self.graph_of(&view, members, true))
    }

    /// The given tasks as nodes (short id, summary, status), without the graph around them.
    pub fn task_nodes(&self, task_ids: &[String]) -> Result<Vec<GraphNode>> {
        let view = self.queue_view()?;
        let members = self.resolve_tasks(&view, "task_ids", task_ids)?;
        Ok(self.graph_of(&view, members, false).nodes)
    }

    /// The nodes of `members` and the edges among them; `with_context` adds the prerequisites
    /// outside them, dashed.
    fn graph_of(&self, view: &crate::queue::view::QueueView, members: Vec<usize>, with_context: bool) -> TaskGraph {
        let selected: std::collections::HashSet<usize> = members.iter().copied().collect();
        let mut context: Vec<usize> = members
            .iter()
            .flat_map(|&i| view.heads[i].prerequisites.iter().filter_map(|p| view.position(p)))
            .filter(|j| with_context && !selected.contains(j))
            .collect();
        context.sort_unstable();
        context.dedup();
        let short = crate::id::Shortener::new(view.heads.iter().map(|h| h.id).collect());
        let node = |i: usize, context: bool| {
            let id = view.heads[i].id.to_string();
            GraphNode {
                short_id: short.short(&id).to_string(),
                summary: self.tasks.read(&view.heads[i].id).map(|r| r.summary).unwrap_or_default(),
                status: view.derived[i].status.as_str().to_string(),
                context,
                id,
            }
        };
        let drawn: std::collections::HashSet<usize> = selected.iter().chain(&context).copied().collect();
        let mut edges = Vec::new();
        for &i in &members {
            for p in view.heads[i].prerequisites.iter().filter(|p| view.position(p).is_some_and(|j| drawn.contains(&j)))
            {
                edges.push([p.to_string(), view.heads[i].id.to_string()]);
            }
        }
        let nodes = members.iter().map(|&i| node(i, false)).chain(context.iter().map(|&i| node(i, true))).collect();
        TaskGraph { nodes, edges }
    }
}

/// Fill and text colours per status, shared by both languages and the HTML view.
pub fn colours(status: &str) -> (&'static str, &'static str) {
    match status {
        "completed" => ("#2da44e", "#ffffff"),
        "ready" => ("#0969da", "#ffffff"),
        "running" | "claimed" => ("#bf8700", "#ffffff"),
        "blocked" | "pending" | "waiting" => ("#eaeef2", "#24292f"),
        "failed" => ("#cf222e", "#ffffff"),
        "cancelled" | "deleted" => ("#8c959f", "#ffffff"),
        _ => ("#ffffff", "#24292f"),
    }
}

/// A node name both languages accept: `t` and the full id.
fn node(id: &str) -> String {
    format!("t{}", id.chars().filter(char::is_ascii_alphanumeric).collect::<String>())
}

/// Cuts a summary for a node label.
fn label(summary: &str) -> String {
    let one_line: String = summary.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    crate::words::cut(&one_line, 60)
}

impl TaskGraph {
    /// Mermaid flowchart text (without the Markdown fence).
    pub fn mermaid(&self) -> String {
        let mut out = String::from("graph TD\n");
        let mut classes: Vec<&str> = Vec::new();
        for n in &self.nodes {
            let text = format!("{} {}", n.short_id, mermaid_escape(&label(&n.summary)));
            out.push_str(&format!("  {}[\"{text}<br/><i>{}</i>\"]\n", node(&n.id), mermaid_escape(&n.status)));
            let class = class_name(&n.status);
            out.push_str(&format!("  class {} {class}\n", node(&n.id)));
            if !classes.contains(&class) {
                classes.push(class);
            }
        }
        for [from, to] in &self.edges {
            out.push_str(&format!("  {} --> {}\n", node(from), node(to)));
        }
        for class in classes {
            let (fill, text) = colours(class);
            out.push_str(&format!("  classDef {class} fill:{fill},color:{text},stroke:#57606a\n"));
        }
        let context: Vec<String> = self.nodes.iter().filter(|n| n.context).map(|n| node(&n.id)).collect();
        if !context.is_empty() {
            out.push_str(&format!("  style {} stroke-dasharray:4 3\n", context.join(",")));
        }
        out
    }

    /// Graphviz DOT text (`dot -Tsvg`).
    pub fn dot(&self) -> String {
        let mut out = String::from(
            "digraph tasks {\n  rankdir=TB;\n  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\"];\n",
        );
        for n in &self.nodes {
            let (fill, text) = colours(&n.status);
            let style = if n.context { "rounded,filled,dashed" } else { "rounded,filled" };
            out.push_str(&format!(
                "  {} [label=\"{}\\n{}\\n({})\", fillcolor=\"{fill}\", fontcolor=\"{text}\", style=\"{style}\"];\n",
                node(&n.id),
                dot_escape(&n.short_id),
                dot_escape(&label(&n.summary)),
                dot_escape(&n.status)
            ));
        }
        for [from, to] in &self.edges {
            out.push_str(&format!("  {} -> {};\n", node(from), node(to)));
        }
        out.push_str("}\n");
        out
    }
}

/// Mermaid class names are identifiers.
fn class_name(status: &str) -> &'static str {
    match status {
        "completed" => "completed",
        "ready" => "ready",
        "running" | "claimed" => "running",
        "blocked" | "pending" | "waiting" => "blocked",
        "failed" => "failed",
        "cancelled" | "deleted" => "cancelled",
        _ => "other",
    }
}

/// Mermaid's entity codes (`#quot;`, `#60;`) for every character that is syntax in a label or in
/// the HTML Mermaid renders, and in the Markdown around the fence.
fn mermaid_escape(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '"' | '<' | '>' | '&' | '#' | '`' | '[' | ']' | '(' | ')' | '{' | '}' | '|' | '\\' | '*' | '_' => {
                format!("#{};", c as u32)
            }
            c => c.to_string(),
        })
        .collect()
}

/// A DOT string's escapes: quotes and backslashes.
fn dot_escape(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(summary: &str) -> TaskGraph {
        let node = |id: &str, status: &str, context| GraphNode {
            id: id.into(),
            short_id: id[..4].into(),
            summary: summary.into(),
            status: status.into(),
            context,
        };
        TaskGraph {
            nodes: vec![node("01aaaa", "completed", true), node("01bbbb", "ready", false)],
            edges: vec![["01aaaa".into(), "01bbbb".into()]],
        }
    }

    #[test]
    fn hostile_summaries_cannot_break_out_of_a_label() {
        let evil = "</i>\"]\n  x --> y <script>alert(1)</script> `code` [[a]] \\\"";
        let mermaid = graph(evil).mermaid();
        for bad in ["<script", "\n  x -->", "`code`"] {
            assert!(!mermaid.contains(bad), "{bad:?} got through: {mermaid}");
        }
        for line in mermaid.lines().filter(|l| l.contains("[\"")) {
            assert_eq!(line.matches("\"]").count(), 1, "the label ends once: {line}");
            assert_eq!(line.matches("</i>").count(), 1, "only abathur's own markup: {line}");
        }
        assert_eq!(mermaid.lines().filter(|l| l.contains("-->")).count(), 1, "{mermaid}");
        let dot = graph(evil).dot();
        assert!(!dot.contains("\n  x -> "), "{dot}");
        assert!(dot.contains("\\\"]"), "quotes are escaped: {dot}");
    }

    #[test]
    fn nodes_are_coloured_by_status_and_context_is_dashed() {
        let mermaid = graph("Schema").mermaid();
        assert!(mermaid.contains("classDef completed fill:#2da44e"), "{mermaid}");
        assert!(mermaid.contains("class t01bbbb ready"), "{mermaid}");
        assert!(mermaid.contains("style t01aaaa stroke-dasharray"), "{mermaid}");
        let dot = graph("Schema").dot();
        assert!(dot.contains("fillcolor=\"#0969da\""), "{dot}");
        assert!(dot.contains("dashed"), "{dot}");
    }
}
