//! `abathur hooks ...`: the git hooks that keep the ledger valid (docs/git.md).

use clap::Subcommand;

use crate::cli::Ui;
use crate::error::Result;
use crate::git::hooks::{self, HooksReport};
use crate::service::Service;

/// Subcommands of `abathur hooks`.
#[derive(Debug, Subcommand)]
pub enum HooksCommand {
    /// Install pre-commit, pre-push, post-merge and post-checkout hooks (existing hooks are chained)
    Install {
        /// Rewrite hooks abathur installed before
        #[arg(long)]
        force: bool,
    },
    /// Remove abathur's hooks and restore the ones they chained
    Uninstall,
}

/// Dispatches one `hooks` subcommand.
pub fn run(ui: &Ui, service: &Service, cmd: HooksCommand) -> Result<()> {
    let repo = crate::git::open(service.ledger().workdir())?;
    let report = match cmd {
        HooksCommand::Install { force } => hooks::install(&repo, force)?,
        HooksCommand::Uninstall => hooks::uninstall(&repo)?,
    };
    ui.reply(&report, |r: &HooksReport| {
        let mut out = format!("hooks in {}\n", r.hooks_dir);
        for h in &r.hooks {
            out.push_str(&format!("  {:<14} {}\n", h.hook, h.outcome));
        }
        out
    })
}

/// Commit pending ledger changes with a generated summary and provenance trailers
#[derive(Debug, clap::Args)]
pub struct CommitArgs {
    /// A paragraph to put before the generated list of changes
    #[arg(short, long)]
    pub message: Option<String>,
    /// Who made the changes (an Abathur-Agent trailer; default $ABATHUR_AGENT)
    #[arg(long)]
    pub agent: Option<String>,
    /// Sign the commit with git's configured key
    #[arg(long)]
    pub sign: bool,
    /// Print the message; commit nothing
    #[arg(long)]
    pub dry_run: bool,
}

/// Runs `abathur commit`.
pub fn cmd_commit(ui: &Ui, service: &Service, args: CommitArgs) -> Result<()> {
    let req = crate::git::ledger_commit::LedgerCommitRequest {
        agent: args.agent.or_else(|| std::env::var("ABATHUR_AGENT").ok()),
        note: args.message,
        sign: args.sign,
        dry_run: args.dry_run,
    };
    let reply = service.ledger_commit(req)?;
    if reply.files.is_empty() {
        ui.status("Nothing to commit: the ledger has no pending changes.");
    } else if reply.commit.is_empty() {
        ui.status(format!("Would commit {} file(s):", reply.files.len()));
    } else {
        ui.status(format!("Committed {} file(s) as {}.", reply.files.len(), &reply.commit[..12]));
    }
    ui.reply(&reply, |r| r.message.clone())
}

/// Summarise what a range of commits did to the ledger (for a pull-request comment)
#[derive(Debug, clap::Args)]
pub struct ReviewArgs {
    /// The range, e.g. main..HEAD (a single revision means REV..HEAD)
    pub range: String,
    /// markdown (default) or json
    #[arg(long, value_parser = ["markdown", "json"], default_value = "markdown")]
    pub format: String,
}

/// Runs `abathur review`.
pub fn cmd_review(ui: &Ui, service: &Service, args: ReviewArgs) -> Result<()> {
    let review = service.review(&args.range)?;
    if args.format == "json" {
        let ui = Ui { json: true, quiet: ui.quiet };
        return ui.reply(&review, |_| String::new());
    }
    ui.reply(&review, |r| r.to_markdown())
}
