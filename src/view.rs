//! `abathur view`: the ledger as one self-contained HTML page: milestones with progress against
//! their budgets, gates with what their signatures prove, the task graph as columns of cards (each
//! column can run once the ones before it are done) and recent decisions.
//!
//! The page needs no network and no script: styles are inline, and every piece of ledger text goes
//! through the template engine's HTML escaping.

use serde::Serialize;

use crate::error::{Error, ErrorKind, Result};
use crate::queue::picture::{GraphNode, TaskGraph};
use crate::service::Service;

const TEMPLATE: &str = include_str!("../templates/view.html.j2");

/// More tasks than this and the page shows only unfinished ones.
const ALL_TASKS_UP_TO: usize = 300;

/// A task card: the node, its colours, and the short ids it waits on.
#[derive(Serialize)]
struct Card {
    #[serde(flatten)]
    node: GraphNode,
    fill: &'static str,
    text: &'static str,
    after: Vec<String>,
}

/// Reply of `abathur view`.
#[derive(Debug, Serialize)]
pub struct ViewReply {
    /// Where the page was written.
    pub path: String,
    /// Its size.
    pub bytes: usize,
}

impl Service {
    /// Writes the page to `out`, or to `view.html` in the ledger's cache folder.
    pub fn write_html_view(&self, out: Option<&std::path::Path>) -> Result<ViewReply> {
        let html = self.html_view()?;
        let path = match out {
            Some(p) => p.to_path_buf(),
            None => self.ledger.cache_dir().join("view.html"),
        };
        crate::ledger::atomic::write_with(&path, html.as_bytes(), false)?;
        Ok(ViewReply { path: path.display().to_string(), bytes: html.len() })
    }

    /// The page, as HTML text.
    pub fn html_view(&self) -> Result<String> {
        let milestones = self.milestone_list()?.milestones;
        let gates = self.gate_status()?;
        let mut decisions = self.decision_list(None)?.decisions;
        decisions.reverse();
        decisions.truncate(10);
        // Chosen before any summary is read: a large ledger shows only its unfinished tasks.
        let view = self.queue_view()?;
        let all_shown = view.heads.len() <= ALL_TASKS_UP_TO;
        let graph = if all_shown {
            self.task_graph(&[], None)?
        } else {
            let unfinished: Vec<String> = (0..view.heads.len())
                .filter(|&i| !view.derived[i].state.is_terminal())
                .map(|i| view.heads[i].id.to_string())
                .collect();
            let mut graph = self.task_graph(&unfinished, None)?;
            graph.nodes.retain(|n| !n.context);
            let kept: std::collections::HashSet<String> = graph.nodes.iter().map(|n| n.id.clone()).collect();
            graph.edges.retain(|[a, b]| kept.contains(a) && kept.contains(b));
            graph
        };
        let columns = columns(&graph);
        let mut env = minijinja::Environment::new();
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
        let render = || -> std::result::Result<String, minijinja::Error> {
            env.template_from_str(TEMPLATE)?.render(minijinja::context! {
                generated_at => self.clock.now().to_string(),
                milestones => minijinja::value::Serde(&milestones),
                gates => minijinja::value::Serde(&gates),
                decisions => minijinja::value::Serde(&decisions),
                columns => minijinja::value::Serde(&columns),
                all_shown => all_shown,
                mermaid => graph.mermaid(),
            })
        };
        render().map_err(|e| Error::new(ErrorKind::Internal, format!("the HTML view: {e}")))
    }
}

/// The graph's cards in columns by dependency depth: a card's column is one more than the deepest
/// of the prerequisites drawn.
fn columns(graph: &TaskGraph) -> Vec<Vec<Card>> {
    let index: std::collections::HashMap<&str, usize> =
        graph.nodes.iter().enumerate().map(|(i, n)| (n.id.as_str(), i)).collect();
    let mut before: Vec<Vec<usize>> = vec![Vec::new(); graph.nodes.len()];
    for [from, to] in &graph.edges {
        if let (Some(&f), Some(&t)) = (index.get(from.as_str()), index.get(to.as_str())) {
            before[t].push(f);
        }
    }
    // The ledger refuses cycles; a depth is still bounded by the node count if a file was edited.
    let mut depth = vec![0usize; graph.nodes.len()];
    for _ in 0..graph.nodes.len() {
        let mut changed = false;
        for t in 0..graph.nodes.len() {
            let d = before[t].iter().map(|&f| depth[f] + 1).max().unwrap_or(0).min(graph.nodes.len());
            if d != depth[t] {
                depth[t] = d;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let mut columns: Vec<Vec<Card>> = Vec::new();
    for (i, node) in graph.nodes.iter().enumerate() {
        let (fill, text) = crate::queue::picture::colours(&node.status);
        let after = before[i].iter().map(|&f| graph.nodes[f].short_id.clone()).collect();
        if columns.len() <= depth[i] {
            columns.resize_with(depth[i] + 1, Vec::new);
        }
        columns[depth[i]].push(Card { node: node.clone(), fill, text, after });
    }
    columns
}
