//! `abathur gate ...`: validation gates and their signed decisions.

use clap::{Args, Subcommand};

use crate::cli::output::{Table, Text, block};
use crate::cli::{Ui, complete};
use crate::error::Result;
use crate::gate::api::{DecideReply, DecideRequest};
use crate::gate::record::Decision;
use crate::service::Service;
use crate::words::plural;

/// Subcommands of `abathur gate`.
#[derive(Debug, Subcommand)]
pub enum GateCommand {
    /// Show every milestone's gate: undecided or its latest decision, signer, tag
    Status,
    /// Gather the evidence for a gate, compare it with the targets, propose a decision
    Check(CheckArgs),
    /// Approve: all criteria met; the next milestone opens
    Approve(DecideArgs),
    /// Approve with issues: the next milestone opens; each --issue becomes a follow-up task
    Conditional(DecideArgs),
    /// Send back: each --issue becomes a revision task; the next milestone stays shut
    Revise(DecideArgs),
    /// Escalate to a human: every claim pauses until `abathur gate resolve`
    Escalate(DecideArgs),
    /// Resolve an escalation (humans): claims resume; the gate awaits a new decision
    Resolve(ResolveArgs),
    /// Check gate decisions: signed by an allowed signer, unaltered, in order; exit 1 otherwise
    Verify {
        /// Check every decision ever made, not only the latest of each milestone
        #[arg(long)]
        all: bool,
    },
    /// List every gate decision with its signer and verification status
    Log,
}

/// Check a gate's evidence
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The milestone, e.g. M1
    #[arg(add = complete::milestones())]
    pub milestone: String,
    /// The evidence
    #[command(flatten)]
    pub evidence: EvidenceArgs,
}

/// Record a gate decision
#[derive(Debug, Args)]
pub struct DecideArgs {
    /// The milestone, e.g. M1
    #[arg(add = complete::milestones())]
    pub milestone: String,
    /// Why (required)
    #[arg(long, short = 'r')]
    pub rationale: String,
    /// An issue as "severity: description", severity low, medium, high or critical (can be repeated)
    #[arg(long = "issue", value_name = "ISSUE")]
    pub issues: Vec<String>,
    /// A recommendation (can be repeated)
    #[arg(long = "recommendation", value_name = "TEXT")]
    pub recommendations: Vec<String>,
    /// Context for the next milestone's agents
    #[arg(long)]
    pub next_context: Option<String>,
    /// Record without signing, marked unsigned (pending a signature)
    #[arg(long)]
    pub unsigned: bool,
    /// Issues from a file, one "severity: description" per line (blank lines and # comments skipped)
    #[arg(long, value_name = "FILE")]
    pub issues_file: Option<std::path::PathBuf>,
    /// Agent type of the follow-up or revision tasks (default: the type most of the milestone's tasks have)
    #[arg(long, short = 't', value_name = "TYPE")]
    pub agent_type: Option<String>,
    /// The agent deciding, when one does: recorded as the creator of the tasks it makes
    #[arg(long)]
    pub agent: Option<String>,
    /// Evidence to record with the decision, as for `gate check`
    #[command(flatten)]
    pub evidence: EvidenceArgs,
}

/// Evidence files, shared by `gate check` and the decisions.
#[derive(Debug, Args)]
pub struct EvidenceArgs {
    /// A JUnit XML report, for the test pass rate (can be repeated)
    #[arg(long, value_name = "FILE")]
    pub junit: Vec<std::path::PathBuf>,
    /// An LCOV tracefile, for line coverage
    #[arg(long, value_name = "FILE", conflicts_with = "cobertura")]
    pub lcov: Option<std::path::PathBuf>,
    /// A Cobertura XML report, for line coverage
    #[arg(long, value_name = "FILE")]
    pub cobertura: Option<std::path::PathBuf>,
    /// A benchmark JSON file (docs/gates.md), for named figures (can be repeated)
    #[arg(long, value_name = "FILE")]
    pub bench: Vec<std::path::PathBuf>,
    /// An acceptance criterion shown met, as "N: evidence" (can be repeated)
    #[arg(long, value_name = "N: EVIDENCE")]
    pub met: Vec<String>,
}

impl EvidenceArgs {
    fn into_request(self, milestone: String) -> crate::gate::api::CheckRequest {
        let EvidenceArgs { junit, lcov, cobertura, bench, met } = self;
        crate::gate::api::CheckRequest { milestone, junit, lcov, cobertura, bench, met }
    }
}

/// Resolve an escalation
#[derive(Debug, Args)]
pub struct ResolveArgs {
    /// The escalated milestone
    #[arg(add = complete::milestones())]
    pub milestone: String,
    /// How it was resolved (required)
    #[arg(long, short = 'r')]
    pub rationale: String,
    /// Record without signing, marked unsigned
    #[arg(long)]
    pub unsigned: bool,
}

/// Dispatches one `gate` subcommand.
pub fn run(ui: &Ui, service: &Service, cmd: GateCommand) -> Result<()> {
    let decide = |decision: Decision, args: DecideArgs| -> Result<()> {
        let DecideArgs {
            milestone,
            rationale,
            mut issues,
            recommendations,
            next_context,
            unsigned,
            issues_file,
            agent_type,
            agent,
            evidence,
        } = args;
        if let Some(path) = issues_file {
            // fs: a file the user names on the command line
            let text = std::fs::read_to_string(&path)
                .map_err(|e| crate::error::Error::io(&path, e).context("cannot read the file --issues-file names"))?;
            issues.extend(
                text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(str::to_string),
            );
        }
        let req = DecideRequest {
            evidence: Some(evidence.into_request(milestone.clone())),
            milestone,
            decision: Some(decision),
            rationale,
            issues,
            recommendations,
            next_milestone_context: next_context,
            unsigned,
            agent_type,
            agent,
        };
        let reply = service.gate_decide(req)?;
        narrate(ui, &reply);
        ui.reply(&reply, render_decision)
    };
    match cmd {
        GateCommand::Status => {
            let reply = service.gate_status()?;
            if let Some(paused) = &reply.paused {
                ui.warn(paused);
            }
            ui.reply(&reply, |r| {
                let mut t = Table::new(&["MILESTONE", "ORDER", "GATE", "DECIDED", "BY", "COUNTS"]).state_column(2);
                for g in &r.gates {
                    t.add_row(vec![
                        g.milestone.clone(),
                        g.order.to_string(),
                        g.state.clone(),
                        g.decided_at.clone().unwrap_or_default(),
                        g.decided_by.clone().unwrap_or_default(),
                        g.verification.clone().unwrap_or_default(),
                    ]);
                }
                if r.gates.is_empty() { Text::default() } else { t.into() }
            })
        }
        GateCommand::Check(args) => {
            let reply = service.gate_check(args.evidence.into_request(args.milestone))?;
            ui.reply(&reply, render_check)
        }
        GateCommand::Approve(args) => decide(Decision::Approve, args),
        GateCommand::Conditional(args) => decide(Decision::Conditional, args),
        GateCommand::Revise(args) => decide(Decision::Revise, args),
        GateCommand::Escalate(args) => decide(Decision::Escalate, args),
        GateCommand::Verify { all } => {
            let report = service.gate_verify(all)?;
            ui.reply(&report, render_verify)?;
            if report.ok {
                ui.status(format!("{} verified.", plural(report.decisions.len(), "gate decision", "gate decisions")));
                Ok(())
            } else {
                ui.failed_after_report(crate::gate::verify::failed(&report))
            }
        }
        GateCommand::Log => {
            let report = service.gate_verify(true)?;
            ui.reply(&report, render_verify)
        }
        GateCommand::Resolve(args) => {
            let reply = service.gate_resolve(&args.milestone, &args.rationale, args.unsigned)?;
            narrate(ui, &reply);
            ui.reply(&reply, render_decision)
        }
    }
}

fn render_check(c: &crate::gate::api::GateCheck) -> Text {
    let mut out = format!("gate {}: {} of {} tasks completed\n\n", c.milestone, c.tasks_completed, c.tasks_total);
    for (i, cr) in c.criteria.iter().enumerate() {
        let mark = if cr.met { "x" } else { " " };
        let evidence = cr.evidence.as_deref().map(|e| format!(" ({e})")).unwrap_or_default();
        out.push_str(&format!("[{mark}] {}. {}{evidence}\n", i + 1, cr.criterion));
    }
    let mut t = Table::new(&["METRIC", "TARGET", "MEASURED", "MET", "SOURCE"]).state_column(3);
    for m in &c.metrics {
        t.add_row(vec![
            m.name.clone(),
            m.target.clone(),
            m.measured.map(|v| v.to_string()).unwrap_or_else(|| "-".into()),
            m.met.map(|ok| if ok { "yes" } else { "no" }.to_string()).unwrap_or_else(|| "?".into()),
            m.source.clone().unwrap_or_default(),
        ]);
    }
    let mut text = Text::default().plain(out);
    if !c.metrics.is_empty() {
        text = text.plain("\n").table(t);
    }
    let mut tail = format!("\nproposed decision: {}\n", c.proposed_decision.as_str());
    tail.extend(c.reasons.iter().map(|r| format!("  - {r}\n")));
    text.plain(tail)
}

fn render_verify(r: &crate::gate::api::VerifyReport) -> Text {
    let mut t = Table::new(&["DECIDED", "MILESTONE", "DECISION", "BY", "SIGNER", "STATUS"]).state_column(2).flexible(4);
    for d in &r.decisions {
        t.add_row(vec![
            d.decided_at.clone(),
            d.milestone.clone(),
            d.decision.as_str().to_string(),
            d.decided_by.clone(),
            d.signer.clone().unwrap_or_default(),
            d.status.clone(),
        ]);
    }
    let mut out = String::new();
    for d in &r.decisions {
        out.extend(d.problems.iter().skip(1).map(|p| format!("{} {}: {p}\n", d.milestone, d.id)));
    }
    out.extend(r.problems.iter().map(|p| format!("problem: {p}\n")));
    let text = if r.decisions.is_empty() { Text::default() } else { Text::from(t) };
    text.plain(out)
}

fn narrate(ui: &Ui, r: &DecideReply) {
    narrate_decision(ui, r);
    ui.status(format!("Next: {}.", r.next_step));
}

fn narrate_decision(ui: &Ui, r: &DecideReply) {
    let signed = match (r.signed, r.decision.opens(), r.next_milestone_opens) {
        (true, _, _) => "signed",
        (false, true, true) => "UNSIGNED, counted: the ledger allows unsigned decisions",
        (false, true, false) => "UNSIGNED: pending a signature, it opens nothing",
        (false, false, _) => "UNSIGNED",
    };
    ui.status(format!(
        "Gate {}: {} recorded in commit {} and tag {} ({signed}).",
        r.milestone,
        r.decision.as_str(),
        &r.commit[..12],
        r.tag
    ));
}

fn render_decision(r: &DecideReply) -> String {
    block(&[
        ("decision", r.decision.as_str().to_string()),
        ("milestone", r.milestone.clone()),
        ("commit", r.commit.clone()),
        ("tag", r.tag.clone()),
        ("signed", r.signed.to_string()),
        ("report", r.report.clone()),
        ("tasks created", r.follow_up_task_ids.join(", ")),
        ("next opens", r.next_milestone_opens.to_string()),
    ])
}
