//! `abathur task ...`: the task queue from the command line.
//!
//! Each subcommand turns its flags into the service's request type, calls the service, and prints the
//! reply: as text for people, or verbatim as JSON with `--json` (exactly what the MCP tool returns).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};

use crate::cli::output::{Shortener, Table, Text, block};
use crate::cli::{Ui, complete};
use crate::error::{Error, Result};
use crate::queue::api::*;
use crate::queue::task::{Source, Status};
use crate::service::Service;
use crate::words::plural;

/// Subcommands of `abathur task`.
#[derive(Debug, Subcommand)]
pub enum TaskCommand {
    /// Enqueue a task (MCP: task_enqueue)
    Add(AddArgs),
    /// List tasks by calculated priority, then age (MCP: task_list)
    List(ListArgs),
    /// Show one task (MCP: task_get)
    Get(GetArgs),
    /// Show queue statistics (MCP: task_queue_status)
    Status,
    /// Cancel a task and its unfinished dependents (MCP: task_cancel)
    Cancel(CancelArgs),
    /// Show the execution plan: batches that can run in parallel (MCP: task_execution_plan)
    Plan(PlanArgs),
    /// Draw the task graph as Mermaid or Graphviz DOT, coloured by status
    Graph(GraphArgs),
    /// Claim the best ready task under a lease (MCP: task_claim)
    Claim(ClaimArgs),
    /// Renew a lease (MCP: task_heartbeat)
    Heartbeat(HeartbeatArgs),
    /// Complete a running task with a result (MCP: task_complete)
    Complete(CompleteArgs),
    /// Report a failed attempt: retried with backoff, or failed for good (MCP: task_fail)
    Fail(FailArgs),
    /// Change a waiting task's priority, deadline, milestone or prerequisites
    Update(UpdateArgs),
}

/// Enqueue a task
#[derive(Debug, Args)]
pub struct AddArgs {
    /// What to do; `-` reads it from stdin
    pub description: String,
    /// One-line label (default: the description's first line, cut to 140 characters)
    #[arg(long)]
    pub summary: Option<String>,
    /// Who asks for it
    #[arg(long, value_enum, default_value = "human")]
    pub source: Source,
    /// Agent definition that should run it
    #[arg(long, short = 't')]
    pub agent_type: Option<String>,
    /// Base priority, 0 (lowest) to 10
    #[arg(long, short = 'p', value_name = "0-10")]
    pub priority: Option<u8>,
    /// A task that must complete first (id or unique prefix; can be repeated)
    #[arg(long = "after", value_name = "TASK", add = complete::tasks())]
    pub prerequisites: Vec<String>,
    /// Deadline: RFC 3339 (2026-12-01T17:00:00Z) or a date (2026-12-01)
    #[arg(long)]
    pub deadline: Option<String>,
    /// Expected effort, e.g. 90m, 2h, 1day
    #[arg(long, value_parser = humantime::parse_duration)]
    pub estimate: Option<Duration>,
    /// Milestone whose gate governs the task
    #[arg(long, short = 'm')]
    #[arg(add = complete::milestones())]
    pub milestone: Option<String>,
    /// The task that spawned this one
    #[arg(long)]
    pub parent: Option<String>,
    /// The agent session it belongs to
    #[arg(long)]
    pub session: Option<String>,
    /// Input data as JSON
    #[arg(long, conflicts_with = "input_file")]
    pub input: Option<String>,
    /// Input data as a JSON file
    #[arg(long, value_name = "FILE")]
    pub input_file: Option<PathBuf>,
    /// Retries before the task fails for good
    #[arg(long)]
    pub max_retries: Option<u32>,
    /// Lease length for claims, e.g. 10m
    #[arg(long, value_parser = humantime::parse_duration)]
    pub lease_timeout: Option<Duration>,
    /// Who is enqueueing
    #[arg(long)]
    pub created_by: Option<String>,
    /// Record work that is already done: stored completed at once (its prerequisites must be too)
    #[arg(long)]
    pub completed: bool,
    /// With --completed: the result, as JSON
    #[arg(long, value_name = "JSON", requires = "completed")]
    pub result: Option<String>,
}

/// List tasks
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only this status
    #[arg(long, short = 's', value_enum)]
    pub status: Option<Status>,
    /// Every status except this one
    #[arg(long, value_enum, conflicts_with = "status")]
    pub exclude_status: Option<Status>,
    /// Only tasks from this source
    #[arg(long, value_enum)]
    pub source: Option<Source>,
    /// Only tasks for this agent type
    #[arg(long, short = 't')]
    pub agent_type: Option<String>,
    /// Only tasks of this milestone
    #[arg(long, short = 'm')]
    #[arg(add = complete::milestones())]
    pub milestone: Option<String>,
    /// How many to show, 1 to 500
    #[arg(long, short = 'n', default_value_t = 50)]
    pub limit: u32,
    /// Show the page after this one (the cursor the previous page printed)
    #[arg(long)]
    pub cursor: Option<String>,
    /// Check every task file first (catches files other tools rewrote in place)
    #[arg(long)]
    pub verify: bool,
}

/// Show one task
#[derive(Debug, Args)]
pub struct GetArgs {
    /// Task id or unique prefix
    #[arg(add = complete::tasks())]
    pub task: String,
}

/// Cancel a task
#[derive(Debug, Args)]
pub struct CancelArgs {
    /// Task id or unique prefix
    #[arg(add = complete::tasks())]
    pub task: String,
    /// Why (kept in the task's history)
    #[arg(long)]
    pub reason: Option<String>,
}

/// Show an execution plan
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Task ids or unique prefixes
    #[arg(add = complete::tasks())]
    pub tasks: Vec<String>,
    /// Plan every unfinished task of this milestone
    #[arg(long, short = 'm')]
    #[arg(add = complete::milestones())]
    pub milestone: Option<String>,
}

/// Draw a task graph
#[derive(Debug, Args)]
pub struct GraphArgs {
    /// Task ids or unique prefixes (default: every task)
    #[arg(add = complete::tasks())]
    pub tasks: Vec<String>,
    /// Every task of this milestone
    #[arg(long, short = 'm')]
    #[arg(add = complete::milestones())]
    pub milestone: Option<String>,
    /// mermaid (GitHub and GitLab draw it in Markdown) or dot (`dot -Tsvg`)
    #[arg(long, value_enum, default_value = "mermaid")]
    pub format: GraphFormat,
}

/// The languages `task graph` writes.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum GraphFormat {
    /// Mermaid flowchart
    Mermaid,
    /// Graphviz DOT
    Dot,
}

/// Claim a task
#[derive(Debug, Args)]
pub struct ClaimArgs {
    /// Claim this task (id or unique prefix) instead of the best ready one
    #[arg(long = "task", value_name = "TASK")]
    pub task_id: Option<String>,
    /// Only tasks for this agent type
    #[arg(long, short = 't')]
    pub agent_type: Option<String>,
    /// Who claims (recorded as the lease holder)
    #[arg(long)]
    pub agent: Option<String>,
    /// Lease length, e.g. 10m (default: the task's lease timeout)
    #[arg(long, value_parser = humantime::parse_duration)]
    pub lease: Option<Duration>,
    /// When nothing is ready, wait up to this long (e.g. 30s, at most 10m) for a task to become ready
    #[arg(long, value_parser = humantime::parse_duration)]
    pub wait: Option<Duration>,
}

/// Renew a lease
#[derive(Debug, Args)]
pub struct HeartbeatArgs {
    /// Task id or unique prefix
    #[arg(add = complete::tasks())]
    pub task: String,
    /// The lease id the claim returned
    #[arg(long)]
    pub lease: String,
}

/// Complete a task
#[derive(Debug, Args)]
pub struct CompleteArgs {
    /// Task id or unique prefix
    #[arg(add = complete::tasks())]
    pub task: String,
    /// The lease id the claim returned (checked when given)
    #[arg(long)]
    pub lease: Option<String>,
    /// Result data as JSON
    #[arg(long)]
    pub result: Option<String>,
    /// Who completes it
    #[arg(long)]
    pub agent: Option<String>,
}

/// Report a failure
#[derive(Debug, Args)]
pub struct FailArgs {
    /// Task id or unique prefix
    #[arg(add = complete::tasks())]
    pub task: String,
    /// What went wrong
    #[arg(long, short = 'e')]
    pub error: String,
    /// The lease id the claim returned (checked when given)
    #[arg(long)]
    pub lease: Option<String>,
    /// Who reports it
    #[arg(long)]
    pub agent: Option<String>,
}

/// Update a task
#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// Task id or unique prefix
    #[arg(add = complete::tasks())]
    pub task: String,
    /// New one-line label
    #[arg(long)]
    pub summary: Option<String>,
    /// New base priority, 0 to 10
    #[arg(long, short = 'p')]
    pub priority: Option<u8>,
    /// New deadline ("" removes it)
    #[arg(long)]
    pub deadline: Option<String>,
    /// New agent type
    #[arg(long, short = 't')]
    pub agent_type: Option<String>,
    /// New milestone ("" removes it)
    #[arg(long, short = 'm')]
    #[arg(add = complete::milestones())]
    pub milestone: Option<String>,
    /// Add a prerequisite (can be repeated)
    #[arg(long = "after", value_name = "TASK", add = complete::tasks())]
    pub add_prerequisites: Vec<String>,
    /// Remove a prerequisite (can be repeated)
    #[arg(long = "not-after", value_name = "TASK", add = complete::tasks())]
    pub remove_prerequisites: Vec<String>,
}

/// Dispatches one `task` subcommand.
pub fn run(ui: &Ui, service: &Service, cmd: TaskCommand) -> Result<()> {
    match cmd {
        TaskCommand::Add(args) => cmd_task_add(ui, service, args),
        TaskCommand::List(args) => cmd_task_list(ui, service, args),
        TaskCommand::Get(args) => {
            let reply = service.task_get(GetRequest { task_id: args.task })?;
            ui.reply(&reply, render_detail)
        }
        TaskCommand::Status => cmd_task_status(ui, service),
        TaskCommand::Cancel(args) => {
            let reply = service.task_cancel(CancelRequest { task_id: args.task, reason: args.reason })?;
            ui.status(format!("Cancelled {}.", plural(reply.total_cancelled, "task", "tasks")));
            ui.reply(&reply, |r| {
                let mut out = format!("cancelled {}\n", r.cancelled_task_id);
                out.extend(r.cascaded_task_ids.iter().map(|id| format!("cascaded {id}\n")));
                out
            })
        }
        TaskCommand::Plan(args) => cmd_task_plan(ui, service, args),
        TaskCommand::Graph(args) => {
            let graph = service.task_graph(&args.tasks, args.milestone.as_deref())?;
            ui.reply(&graph, |g| match args.format {
                GraphFormat::Mermaid => g.mermaid(),
                GraphFormat::Dot => g.dot(),
            })
        }
        TaskCommand::Claim(args) => cmd_task_claim(ui, service, args),
        TaskCommand::Heartbeat(args) => {
            let reply = service.task_heartbeat(HeartbeatRequest { task_id: args.task, lease_id: args.lease })?;
            ui.reply(&reply, |r| format!("lease on {} renewed until {}\n", r.task_id, r.lease_expires_at))
        }
        TaskCommand::Complete(args) => {
            let result_data = args.result.as_deref().map(|r| parse_json("--result", r)).transpose()?;
            let req = CompleteRequest { task_id: args.task, lease_id: args.lease, result_data, agent: args.agent };
            let reply = service.task_complete(req)?;
            ui.status(format!(
                "Completed {}; {} now ready.",
                reply.task_id,
                plural(reply.unblocked_task_ids.len(), "dependent", "dependents")
            ));
            ui.reply(&reply, |r| r.unblocked_task_ids.iter().map(|id| format!("ready {id}\n")).collect::<String>())
        }
        TaskCommand::Fail(args) => {
            let req =
                FailRequest { task_id: args.task, error_message: args.error, lease_id: args.lease, agent: args.agent };
            let reply = service.task_fail(req)?;
            match reply.status {
                Status::Failed => ui.status(format!(
                    "Task {} failed for good after {}; {} cancelled.",
                    reply.task_id,
                    plural(reply.retry_count as usize, "retry", "retries"),
                    plural(reply.cascaded_task_ids.len(), "dependent", "dependents")
                )),
                _ => ui.status(format!(
                    "Task {} will be retried ({}/{}) after {}.",
                    reply.task_id,
                    reply.retry_count,
                    reply.max_retries,
                    reply.retry_at.as_deref().unwrap_or("now")
                )),
            }
            ui.reply(&reply, |r| format!("{} {}\n", r.status.as_str(), r.task_id))
        }
        TaskCommand::Update(args) => {
            let req = UpdateRequest {
                task_id: args.task,
                summary: args.summary,
                base_priority: args.priority,
                deadline: args.deadline,
                agent_type: args.agent_type,
                milestone: args.milestone,
                add_prerequisites: args.add_prerequisites,
                remove_prerequisites: args.remove_prerequisites,
                agent: None,
            };
            let reply = service.task_update(req)?;
            ui.reply(&reply, render_detail)
        }
    }
}

fn cmd_task_add(ui: &Ui, service: &Service, args: AddArgs) -> Result<()> {
    let AddArgs {
        description,
        summary,
        source,
        agent_type,
        priority,
        prerequisites,
        deadline,
        estimate,
        milestone,
        parent,
        session,
        input,
        input_file,
        max_retries,
        lease_timeout,
        created_by,
        completed,
        result,
    } = args;
    let description = if description == "-" {
        std::io::read_to_string(std::io::stdin()).map_err(|e| Error::io(std::path::Path::new("<stdin>"), e))?
    } else {
        description
    };
    let input_data = match (input, input_file) {
        (Some(text), _) => Some(parse_json("--input", &text)?),
        (None, Some(path)) => {
            // fs: a file the user names on the command line
            let text = std::fs::read_to_string(&path)
                .map_err(|e| Error::io(&path, e).context("cannot read the file --input-file names"))?;
            Some(parse_json(&path.display().to_string(), &text)?)
        }
        (None, None) => None,
    };
    let req = EnqueueRequest {
        description,
        summary,
        source: Some(source),
        agent_type,
        base_priority: priority,
        prerequisites,
        deadline,
        estimated_duration_seconds: estimate.map(|d| d.as_secs()),
        milestone,
        parent_task_id: parent,
        session_id: session,
        input_data,
        max_retries,
        lease_timeout_seconds: lease_timeout.map(|d| d.as_secs()),
        created_by,
        completed,
        result_data: result.map(|text| parse_json("--result", &text)).transpose()?,
    };
    let reply = service.task_enqueue(req)?;
    if completed {
        ui.status(format!("Recorded task {} as completed.", reply.task_id));
    } else {
        ui.status(format!(
            "Enqueued task {} ({}, calculated priority {}).",
            reply.task_id,
            reply.status.as_str(),
            reply.calculated_priority
        ));
    }
    ui.reply(&reply, |r| format!("{}\n", r.task_id))
}

fn cmd_task_list(ui: &Ui, service: &Service, args: ListArgs) -> Result<()> {
    let ListArgs { status, exclude_status, source, agent_type, milestone, limit, cursor, verify } = args;
    let req = ListRequest { status, exclude_status, source, agent_type, milestone, limit: Some(limit), cursor, verify };
    let reply = service.task_list(req)?;
    for w in &reply.warnings {
        ui.warn(w);
    }
    ui.reply(&reply, |r| {
        let short = shortener(service); // only people read short ids
        let mut t = Table::new(&["ID", "STATUS", "PRIO", "AGENT TYPE", "MILESTONE", "SUMMARY"]).state_column(1);
        for task in &r.tasks {
            t.add_row(vec![
                short.short(&task.id).to_string(),
                task.status.as_str().to_string(),
                format!("{:.1}", task.calculated_priority),
                task.agent_type.clone(),
                task.milestone.clone().unwrap_or_default(),
                task.summary.clone(),
            ]);
        }
        let text = if r.tasks.is_empty() { Text::default() } else { Text::from(t) };
        match &r.next_cursor {
            Some(next) => {
                text.plain(format!("({} of {} shown; next page: --cursor {next})\n", r.tasks.len(), r.total_matching))
            }
            None => text,
        }
    })
}

fn cmd_task_status(ui: &Ui, service: &Service) -> Result<()> {
    let reply = service.task_queue_status()?;
    for w in &reply.warnings {
        ui.warn(w);
    }
    ui.reply(&reply, |s| {
        // People read the two tasks named with their summaries: one read of the ledger for both.
        let named: Vec<String> =
            [&s.oldest_pending_task_id, &s.newest_task_id].into_iter().flatten().cloned().collect();
        let nodes = service.task_nodes(&named).unwrap_or_default();
        let with_summary = |id: &Option<String>, at: &Option<String>| {
            let (Some(id), Some(at)) = (id, at) else { return String::new() };
            match nodes.iter().find(|n| &n.id == id) {
                Some(n) => format!("{} {} ({at})", n.short_id, n.summary),
                None => format!("{id} ({at})"),
            }
        };
        block(&[
            ("total", s.total_tasks.to_string()),
            ("ready", s.ready.to_string()),
            ("blocked", s.blocked.to_string()),
            ("pending", s.pending.to_string()),
            ("running", s.running.to_string()),
            ("completed", s.completed.to_string()),
            ("failed", s.failed.to_string()),
            ("cancelled", s.cancelled.to_string()),
            ("avg priority", format!("{:.2}", s.avg_priority)),
            ("max depth", s.max_depth.to_string()),
            ("active leases", s.active_leases.to_string()),
            ("expired leases", s.expired_leases.to_string()),
            ("oldest waiting", with_summary(&s.oldest_pending_task_id, &s.oldest_pending)),
            ("newest", with_summary(&s.newest_task_id, &s.newest_task)),
        ])
    })
}

fn cmd_task_plan(ui: &Ui, service: &Service, args: PlanArgs) -> Result<()> {
    let reply = service.task_execution_plan(PlanRequest { task_ids: args.tasks, milestone: args.milestone })?;
    ui.reply(&reply, |p| {
        // People read each task's summary and status beside its short id.
        let ids: Vec<String> = p.batches.iter().flatten().cloned().collect();
        let nodes: std::collections::HashMap<String, crate::queue::picture::GraphNode> = service
            .task_nodes(&ids)
            .map(|nodes| nodes.into_iter().map(|n| (n.id.clone(), n)).collect())
            .unwrap_or_default();
        let mut text = Text::default();
        for (n, batch) in p.batches.iter().enumerate() {
            text = text.plain(format!("batch {} ({}):\n", n + 1, plural(batch.len(), "task", "tasks")));
            let mut t = Table::new(&["ID", "STATUS", "SUMMARY"]).state_column(1);
            for id in batch {
                let node = nodes.get(id);
                t.add_row(vec![
                    node.map_or(id.clone(), |n| n.short_id.clone()),
                    node.map(|n| n.status.clone()).unwrap_or_default(),
                    node.map(|n| n.summary.clone()).unwrap_or_default(),
                ]);
            }
            text = text.table(t);
        }
        text.plain(format!("{}, max parallelism {}\n", plural(p.total_batches, "batch", "batches"), p.max_parallelism))
    })
}

fn cmd_task_claim(ui: &Ui, service: &Service, args: ClaimArgs) -> Result<()> {
    let req = ClaimRequest {
        task_id: args.task_id,
        agent_type: args.agent_type,
        agent: args.agent,
        lease_seconds: args.lease.map(|d| d.as_secs()),
        wait_seconds: args.wait.map(|d| d.as_secs_f64()),
    };
    let reply = service.task_claim(req)?;
    if let Some(message) = &reply.message {
        ui.status(message);
    }
    ui.reply(&reply, |r| match (&r.task, &r.lease_id) {
        (Some(task), Some(lease)) => {
            format!(
                "{}\n",
                block(&[
                    ("task", task.id.clone()),
                    ("summary", task.summary.clone()),
                    ("lease", lease.clone()),
                    ("expires", r.lease_expires_at.clone().unwrap_or_default()),
                ])
                .trim_end()
            )
        }
        _ => String::new(),
    })
}

fn render_detail(t: &TaskDetail) -> String {
    let json = |v: &Option<serde_json::Value>| v.as_ref().map(|v| v.to_string()).unwrap_or_default();
    let mut out = block(&[
        ("id", t.id.clone()),
        ("summary", t.summary.clone()),
        ("status", t.status.as_str().to_string()),
        ("blocked by", t.blocked_by.iter().map(|b| b.message.as_str()).collect::<Vec<_>>().join("; ")),
        ("priority", format!("{} (base {})", t.calculated_priority, t.base_priority)),
        ("source", t.source.as_str().to_string()),
        ("agent type", t.agent_type.clone()),
        ("milestone", t.milestone.clone().unwrap_or_default()),
        ("prerequisites", t.prerequisites.join(", ")),
        ("dependents", t.dependents.join(", ")),
        ("deadline", t.deadline.clone().unwrap_or_default()),
        (
            "estimate",
            t.estimated_duration_seconds
                .map(|s| humantime::format_duration(Duration::from_secs(s)).to_string())
                .unwrap_or_default(),
        ),
        ("retries", format!("{}/{}", t.retry_count, t.max_retries)),
        ("retry at", t.retry_at.clone().unwrap_or_default()),
        (
            "lease",
            t.lease
                .as_ref()
                .map(|l| format!("{} held by {} until {}", l.lease_id, l.holder, l.expires_at))
                .unwrap_or_default(),
        ),
        ("error", t.error_message.clone().unwrap_or_default()),
        ("input", json(&t.input_data)),
        ("result", json(&t.result_data)),
        ("submitted", t.submitted_at.clone()),
        ("completed", t.completed_at.clone().unwrap_or_default()),
    ]);
    out.push('\n');
    out.push_str(t.description.trim_end());
    out.push('\n');
    out
}

fn parse_json(what: &str, text: &str) -> Result<serde_json::Value> {
    serde_json::from_str(text).map_err(|e| Error::invalid(what, format!("{what} is not valid JSON: {e}")))
}

/// A task id with its summary and a time, for people.
fn shortener(service: &Service) -> Shortener {
    Shortener::new(service.task_ids().unwrap_or_default())
}
