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
