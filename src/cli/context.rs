//! `abathur context`: what an agent (or a person) starting up needs, in one call.

use crate::cli::Ui;
use crate::context::{ContextReply, ContextRequest};
use crate::error::Result;
use crate::service::Service;

/// What an agent starting up needs: the milestone in progress, its gate, a pause, the handed-over
/// context, ready work, latest decisions and project memory
#[derive(Debug, clap::Args)]
pub struct ContextArgs {
    /// Your agent type: the ready work shown is yours
    #[arg(long, short = 't')]
    pub agent_type: Option<String>,
    /// Your name: the tasks you hold are shown
    #[arg(long)]
    pub agent: Option<String>,
}

/// Runs `abathur context`.
pub fn cmd_context(ui: &Ui, service: &Service, args: ContextArgs) -> Result<()> {
    let reply = service.context(ContextRequest { agent_type: args.agent_type, agent: args.agent })?;
    ui.reply(&reply, render)
}

fn render(c: &ContextReply) -> String {
    let mut out = String::new();
    if let Some(m) = &c.milestone {
        out.push_str(&format!(
            "milestone {} ({}): {} of {} tasks completed; {}; gate {}\n",
            m.id, m.title, m.completed, m.total, m.effort, m.gate
        ));
    }
    if let Some(p) = &c.paused {
        out.push_str(&format!("PAUSED: {p}\n"));
    }
    if let Some(h) = &c.handover {
        out.push_str(&format!("handed over: {h}\n"));
    }
    let section = |out: &mut String, title: String, items: Vec<String>| {
        if !items.is_empty() {
            out.push_str(&format!("{title}\n"));
            out.extend(items.into_iter().map(|i| format!("  {i}\n")));
        }
    };
    section(&mut out, "gates:".into(), c.gates.clone());
    let task = |t: &crate::context::TaskLine| format!("{} {:.1} {}", t.id, t.priority, t.summary);
    section(&mut out, format!("ready ({} in all):", c.ready_total), c.ready.iter().map(task).collect());
    section(&mut out, "holding:".into(), c.holding.iter().map(task).collect());
    section(&mut out, "decisions:".into(), c.decisions.clone());
    section(&mut out, format!("memory ({} in project:):", c.memory_total), c.memory.clone());
    out
}
