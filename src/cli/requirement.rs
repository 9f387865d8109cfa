//! `abathur requirement ...` and `abathur report`: project requirements and the completion report.

use clap::Subcommand;

use crate::cli::Ui;
use crate::cli::output::block;
use crate::error::Result;
use crate::requirement::{RequirementSetRequest, RequirementStatus};
use crate::service::Service;

/// `abathur requirement` subcommands.
#[derive(Debug, Subcommand)]
pub enum RequirementCommand {
    /// Define a requirement of the whole project, or change one (links and evidence are added)
    Set {
        /// R1, R2, ...
        id: String,
        /// What must be true (required for a new requirement)
        #[arg(long)]
        title: Option<String>,
        /// Longer statement
        #[arg(long)]
        description: Option<String>,
        /// open, met, not-met or deferred
        #[arg(long, value_enum)]
        status: Option<RequirementStatus>,
        /// A milestone that delivers it (can be repeated)
        #[arg(long = "milestone", short = 'm')]
        milestones: Vec<String>,
        /// An acceptance criterion that shows it, as M1:2 (can be repeated)
        #[arg(long = "criterion")]
        criteria: Vec<String>,
        /// A task that delivers it (can be repeated)
        #[arg(long = "task")]
        tasks: Vec<String>,
        /// Evidence of its status (can be repeated)
        #[arg(long)]
        evidence: Vec<String>,
    },
    /// Every requirement with its status
    List,
}

/// Dispatches one `requirement` subcommand.
pub fn run(ui: &Ui, service: &Service, cmd: RequirementCommand) -> Result<()> {
    match cmd {
        RequirementCommand::Set { id, title, description, status, milestones, criteria, tasks, evidence } => {
            let r = service.requirement_set(RequirementSetRequest {
                id,
                title,
                description,
                status,
                milestones,
                criteria,
                tasks,
                evidence,
            })?;
            ui.reply(&r, |r| format!("{} {:?}: {}\n", r.id, r.status, r.title))
        }
        RequirementCommand::List => {
            let list = service.requirement_list()?;
            ui.reply(&list, |l| {
                l.requirements
                    .iter()
                    .map(|r| format!("{:<6} {:<9} {}\n", r.id, format!("{:?}", r.status).to_lowercase(), r.title))
                    .collect::<String>()
            })
        }
    }
}

/// Runs `abathur report`.
pub fn cmd_report(ui: &Ui, service: &Service, unsigned: bool) -> Result<()> {
    let reply = service.completion_report(unsigned)?;
    ui.status(format!(
        "Completion report {} sealed in {} ({}).",
        reply.id,
        reply.tag,
        if reply.signed { "signed" } else { "UNSIGNED" }
    ));
    ui.reply(&reply, |r| {
        block(&[
            ("report", r.report.clone()),
            ("commit", r.commit.clone()),
            ("tag", r.tag.clone()),
            ("signed", r.signed.to_string()),
            ("unmet", r.unmet.join("; ")),
        ])
    })
}
