//! `abathur milestone ...`: the stages of the project and their progress.

use clap::{Args, Subcommand};

use crate::cli::output::{Table, Text, block};
use crate::cli::{Ui, complete};
use crate::error::Result;
use crate::milestone::api::*;
use crate::service::Service;

/// Subcommands of `abathur milestone`.
#[derive(Debug, Subcommand)]
pub enum MilestoneCommand {
    /// Define a milestone (or a whole shipped plan with --example)
    Add(AddArgs),
    /// List milestones in order, with progress
    List,
    /// Show one milestone: criteria, targets, tasks by status, effort against budget
    Show {
        /// Milestone id, e.g. M1
        id: String,
    },
    /// Change a milestone's title, plan, criteria or targets
    Update(UpdateArgs),
}

/// Change a milestone's plan
#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// Milestone id, e.g. M1
    #[arg(add = complete::milestones())]
    pub id: String,
    /// New title
    #[arg(long)]
    pub title: Option<String>,
    #[command(flatten)]
    pub plan: PlanArgs,
    /// Append an acceptance criterion (can be repeated; criteria are numbered, so none is removed)
    #[arg(long = "criterion", value_name = "TEXT")]
    pub add_criteria: Vec<String>,
    /// Add a quality target, or replace the one of the same name (can be repeated)
    #[arg(long = "target", value_name = "TARGET")]
    pub set_targets: Vec<String>,
    /// Remove the quality target of this name (can be repeated)
    #[arg(long = "remove-target", value_name = "NAME")]
    pub remove_targets: Vec<String>,
    /// Replace the milestone's checklist: a JSON array of {"content", "status", "activeForm"}
    #[arg(long, value_name = "JSON")]
    pub todos: Option<String>,
}

/// Define a milestone
#[derive(Debug, Args)]
pub struct AddArgs {
    /// Milestone id, e.g. M1
    #[arg(required_unless_present = "example")]
    pub id: Option<String>,
    /// What it delivers
    #[arg(long, required_unless_present = "example")]
    pub title: Option<String>,
    /// Position in the sequence (default: after the last)
    #[arg(long)]
    pub order: Option<u32>,
    #[command(flatten)]
    pub plan: PlanArgs,
    /// An acceptance criterion (can be repeated)
    #[arg(long = "criterion", value_name = "TEXT")]
    pub acceptance_criteria: Vec<String>,
    /// A quality target such as coverage>=95% or read_latency_ms<50ms (can be repeated)
    #[arg(long = "target", value_name = "TARGET")]
    pub quality_targets: Vec<String>,
    /// Define every milestone of a shipped plan instead (seed-plan: the seed's four milestones)
    #[arg(long, value_name = "PLAN", conflicts_with_all = ["id", "title", "order", "weeks", "budget_hours", "description"])]
    pub example: Option<String>,
}

/// The plan of a milestone, shared by `add` and `update`
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Planned weeks
    #[arg(long)]
    pub weeks: Option<f64>,
    /// Effort budget in hours
    #[arg(long)]
    pub budget_hours: Option<f64>,
    /// Longer description
    #[arg(long)]
    pub description: Option<String>,
}

/// Dispatches one `milestone` subcommand.
pub fn run(ui: &Ui, service: &Service, cmd: MilestoneCommand) -> Result<()> {
    match cmd {
        MilestoneCommand::Add(args) => cmd_milestone_add(ui, service, args),
        MilestoneCommand::List => {
            let reply = service.milestone_list()?;
            for w in &reply.warnings {
                ui.warn(w);
            }
            ui.reply(&reply, |r| {
                let mut t =
                    Table::new(&["ID", "ORDER", "TASKS", "DONE", "EST H", "SPENT H", "BUDGET H", "GATE", "TITLE"])
                        .state_column(7);
                for m in &r.milestones {
                    let p = &m.progress;
                    t.add_row(vec![
                        m.id.clone(),
                        m.order.to_string(),
                        p.total_tasks.to_string(),
                        format!("{:.0}%", p.completion_percent),
                        format!("{:.1}", p.estimated_hours),
                        format!("{:.1}", p.spent_hours),
                        p.budget_hours.map(|b| format!("{b:.0}")).unwrap_or_default(),
                        m.gate.clone(),
                        m.title.clone(),
                    ]);
                }
                if r.milestones.is_empty() { Text::default() } else { t.into() }
            })
        }
        MilestoneCommand::Show { id } => {
            let reply = service.milestone_show(&id)?;
            ui.reply(&reply, render_detail)
        }
        MilestoneCommand::Update(args) => {
            let UpdateArgs { id, title, plan, add_criteria, set_targets, remove_targets, todos } = args;
            let todos = todos
                .map(|text| {
                    serde_json::from_str(&text).map_err(|e| {
                        crate::error::Error::invalid("--todos", format!("not a checklist: {e}")).hint(
                            r#"give a JSON array such as [{"content": "Run the migration", "status": "pending"}]"#,
                        )
                    })
                })
                .transpose()?;
            let PlanArgs { weeks, budget_hours, description } = plan;
            let reply = service.milestone_update(UpdateMilestoneRequest {
                id,
                title,
                planned_weeks: weeks,
                budget_hours,
                description,
                add_criteria,
                set_targets,
                remove_targets,
                todos,
            })?;
            ui.status(format!("Milestone {} updated.", reply.id));
            ui.reply(&reply, render_detail)
        }
    }
}

fn cmd_milestone_add(ui: &Ui, service: &Service, args: AddArgs) -> Result<()> {
    let AddArgs { id, title, order, plan, acceptance_criteria, quality_targets, example } = args;
    let PlanArgs { weeks, budget_hours, description } = plan;
    let reply = match example {
        Some(plan) => service.milestone_add_example(&plan)?,
        None => service.milestone_add(AddMilestoneRequest {
            id: id.unwrap_or_default(),
            title: title.unwrap_or_default(),
            order,
            planned_weeks: weeks,
            budget_hours,
            description,
            acceptance_criteria,
            quality_targets,
        })?,
    };
    ui.status(format!(
        "{} created, {} already defined.",
        crate::words::plural(reply.created.len(), "milestone", "milestones"),
        reply.unchanged.len()
    ));
    ui.reply(&reply, |r| r.created.iter().map(|c| format!("created {c}\n")).collect::<String>())
}

fn render_detail(m: &MilestoneDetail) -> String {
    let p = &m.progress;
    let by_status: Vec<String> = p.by_status.iter().map(|(s, n)| format!("{n} {s}")).collect();
    let percent = |x: Option<f64>| x.map(|v| format!(" ({v:.0}% of budget)")).unwrap_or_default();
    let mut out = block(&[
        ("milestone", format!("{} (order {})", m.id, m.order)),
        ("title", m.title.clone()),
        ("planned weeks", m.planned_weeks.map(|w| w.to_string()).unwrap_or_default()),
        ("tasks", format!("{} ({})", p.total_tasks, by_status.join(", "))),
        ("completion", format!("{:.0}%", p.completion_percent)),
        ("budget", p.budget_hours.map(|b| format!("{b} h")).unwrap_or_default()),
        ("estimated", format!("{} h{}", p.estimated_hours, percent(p.estimate_vs_budget_percent))),
        ("spent", format!("{} h{}", p.spent_hours, percent(p.spent_vs_budget_percent))),
        ("gate", m.gate.clone()),
        ("requirements", m.requirements.join(", ")),
    ]);
    if !m.acceptance_criteria.is_empty() {
        out.push_str("\nacceptance criteria:\n");
        out.extend(m.acceptance_criteria.iter().map(|c| format!("  - {c}\n")));
    }
    if !m.quality_targets.is_empty() {
        out.push_str("\nquality targets:\n");
        out.extend(m.quality_targets.iter().map(|t| format!("  - {t}\n")));
    }
    if !m.todos.is_empty() {
        out.push_str("\nchecklist:\n");
        for t in &m.todos {
            let mark = match t.status {
                crate::milestone::record::TodoStatus::Completed => "[x]",
                crate::milestone::record::TodoStatus::InProgress => "[~]",
                crate::milestone::record::TodoStatus::Pending => "[ ]",
            };
            out.push_str(&format!("  {mark} {}\n", t.content));
        }
    }
    if !m.description.is_empty() {
        out.push_str(&format!("\n{}\n", m.description.trim_end()));
    }
    out
}
