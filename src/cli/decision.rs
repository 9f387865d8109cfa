//! `abathur decision ...`: ADR-style decision records under `.abathur/decisions/`.

use clap::{Args, Subcommand};

use crate::cli::Ui;
use crate::cli::output::{Table, Text, block};
use crate::decision::api::*;
use crate::decision::record::DecisionStatus;
use crate::error::Result;
use crate::service::Service;

/// Subcommands of `abathur decision`.
#[derive(Debug, Subcommand)]
pub enum DecisionCommand {
    /// Record a decision (accepted unless --status proposed)
    Add(AddArgs),
    /// List decisions, oldest first
    List {
        /// Only this status
        #[arg(long, value_enum)]
        status: Option<DecisionStatus>,
    },
    /// Show one decision
    Show {
        /// Decision id or unique prefix
        id: String,
    },
    /// Mark OLD as superseded by the existing decision NEW
    Supersede {
        /// The decision being replaced
        old: String,
        /// The decision replacing it
        new: String,
    },
    /// Accept a proposed decision
    Accept {
        /// Decision id or unique prefix
        id: String,
    },
    /// Reject a proposed decision
    Reject {
        /// Decision id or unique prefix
        id: String,
    },
}

/// A new decision.
#[derive(Debug, Args)]
pub struct AddArgs {
    /// What was decided, in one line
    pub title: String,
    /// Why a decision was needed
    #[arg(long, default_value = "")]
    pub context: String,
    /// What was decided
    #[arg(long, default_value = "")]
    pub decision: String,
    /// What follows from it
    #[arg(long, default_value = "")]
    pub consequences: String,
    /// proposed or accepted
    #[arg(long, value_enum)]
    pub status: Option<DecisionStatus>,
    /// A task it concerns (can be repeated)
    #[arg(long = "task", value_name = "ID")]
    pub tasks: Vec<String>,
    /// A milestone it concerns (can be repeated)
    #[arg(long = "milestone", short = 'm', value_name = "M")]
    pub milestones: Vec<String>,
    /// A gate decision it concerns (can be repeated)
    #[arg(long = "gate", value_name = "ID")]
    pub gates: Vec<String>,
    /// A decision it replaces (can be repeated)
    #[arg(long = "supersedes", value_name = "ID")]
    pub supersedes: Vec<String>,
    /// Who records it (default $ABATHUR_AGENT, then $USER)
    #[arg(long)]
    pub by: Option<String>,
}

/// Dispatches one `decision` subcommand.
pub fn run(ui: &Ui, service: &Service, cmd: DecisionCommand) -> Result<()> {
    let written = |r: &DecisionWriteReply| {
        let mut out = format!("{} {} ({}) {}\n", r.status.as_str(), r.id, r.title, r.path);
        for s in &r.superseded {
            out.push_str(&format!("superseded {s}\n"));
        }
        out
    };
    match cmd {
        DecisionCommand::Add(a) => {
            let req = DecisionAddRequest {
                title: a.title,
                context: a.context,
                decision: a.decision,
                consequences: a.consequences,
                status: a.status,
                tasks: a.tasks,
                milestones: a.milestones,
                gates: a.gates,
                supersedes: a.supersedes,
                author: a.by.or_else(crate::cli::memory::default_author),
            };
            ui.reply(&service.decision_add(req)?, written)
        }
        DecisionCommand::Supersede { old, new } => ui.reply(&service.decision_supersede(&old, &new)?, written),
        DecisionCommand::Accept { id } => ui.reply(&service.decision_settle(&id, DecisionStatus::Accepted)?, written),
        DecisionCommand::Reject { id } => ui.reply(&service.decision_settle(&id, DecisionStatus::Rejected)?, written),
        DecisionCommand::List { status } => ui.reply(&service.decision_list(status)?, |r| {
            if r.decisions.is_empty() {
                return Text::default();
            }
            let mut t = Table::new(&["ID", "STATUS", "DATE", "MILESTONES", "TITLE"]).state_column(1);
            for d in &r.decisions {
                t.add_row(vec![
                    d.id.clone(),
                    d.status.as_str().to_string(),
                    d.date.to_string()[..10].to_string(),
                    d.milestones.join(","),
                    d.title.clone(),
                ]);
            }
            t.into()
        }),
        DecisionCommand::Show { id } => ui.reply(&service.decision_show(&id)?, |d| {
            let ids = |v: &[crate::id::Id]| v.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(", ");
            let m = &d.meta;
            let mut out = block(&[
                ("decision", m.id.to_string()),
                ("title", m.title.clone()),
                ("status", m.status.as_str().to_string()),
                ("date", m.date.to_string()),
                ("author", m.author.clone().unwrap_or_default()),
                ("tasks", ids(&m.tasks)),
                ("milestones", m.milestones.join(", ")),
                ("gates", ids(&m.gates)),
                ("supersedes", ids(&m.supersedes)),
                ("superseded by", m.superseded_by.map(|i| i.to_string()).unwrap_or_default()),
                ("file", d.path.clone()),
            ]);
            out.push('\n');
            out.push_str(&d.body);
            out
        }),
    }
}
