//! `abathur ledger ...` and `abathur sync`: where the ledger lives and how it travels (docs/storage.md).

use std::path::Path;

use clap::Subcommand;

use crate::cli::Ui;
use crate::error::Result;
use crate::service::Service;
use crate::sync::{SyncRequest, migrate};
use crate::words::plural;

/// Subcommands of `abathur ledger`.
#[derive(Debug, Subcommand)]
pub enum LedgerCommand {
    /// Print the ledger folder's path (for `cd`, an editor, or `git log -p abathur-ledger`)
    Path,
    /// The ledger's branch, tip, uncommitted files and remote
    Status,
    /// Commit what was changed in the ledger folder by hand (allowed_signers, templates, config.toml)
    Commit {
        /// The commit message: its first line is the subject (abathur's summary of the files follows)
        #[arg(short, long)]
        message: Option<String>,
        /// Sign the commit with git's signing key: a change of allowed_signers counts only so
        #[arg(long)]
        sign: bool,
    },
    /// Show the ledger in this work tree as `.abathur/` (a link git ignores)
    Mount,
    /// Move an old in-tree `.abathur/` to the ledger folder and commit it on the ledger branch
    Migrate,
}

/// Fetch, merge field-wise, validate, commit and push the ledger (compare-and-swap, retried)
#[derive(Debug, clap::Args)]
pub struct SyncArgs {
    /// The remote to sync with (remembered for this clone as `git config abathur.remote`)
    #[arg(long)]
    pub remote: Option<String>,
}

/// Dispatches one `ledger` subcommand.
pub fn run(ui: &Ui, cwd: &Path, cmd: LedgerCommand) -> Result<()> {
    match cmd {
        LedgerCommand::Path => {
            let service = Service::open(cwd)?;
            let reply = crate::ledger::LedgerPath { ledger: service.ledger().root().to_path_buf() };
            ui.reply(&reply, |r| format!("{}\n", r.ledger.display()))
        }
        LedgerCommand::Status => {
            let status = Service::open(cwd)?.ledger_status()?;
            ui.reply(&status, |s| {
                let mut out = format!(
                    "ledger     {}\nbranch     {} at {}\nremote     {}\nclaims     {}\n",
                    s.ledger,
                    s.branch,
                    s.tip.as_deref().map(|t| &t[..12]).unwrap_or("(no commits)"),
                    s.remote.as_deref().unwrap_or("(none: run `abathur sync --remote origin`)"),
                    s.claims
                );
                if s.uncommitted.is_empty() {
                    out.push_str("everything is committed\n");
                } else {
                    out.push_str(&format!(
                        "not yet committed ({}; `abathur sync` records them):\n",
                        s.uncommitted.len()
                    ));
                    out.extend(s.uncommitted.iter().map(|f| format!("  {f}\n")));
                }
                out
            })
        }
        LedgerCommand::Commit { message, sign } => {
            let reply = Service::open(cwd)?.ledger_record(message.as_deref(), sign)?;
            if reply.files.is_empty() {
                ui.status("Nothing to commit: the ledger folder matches its branch.");
            }
            ui.reply(&reply, |r| r.files.iter().map(|f| format!("committed {f}\n")).collect::<String>())
        }
        LedgerCommand::Mount => {
            let reply = migrate::mount(cwd)?;
            ui.status(format!("{} now shows {}", reply.link, reply.ledger));
            ui.reply(&reply, |r| format!("{}\n", r.link))
        }
        LedgerCommand::Migrate => {
            let reply = migrate::migrate(cwd)?;
            ui.status(format!("Moved {} files from {} to {}.", reply.files, reply.from, reply.to));
            ui.reply(&reply, |r| format!("ledger commit {}\nremoval commit {}\n", r.ledger_commit, r.removal_commit))
        }
    }
}

/// Runs `abathur sync`; in a fresh clone it first checks out the remote's ledger.
pub fn cmd_sync(ui: &Ui, cwd: &Path, args: SyncArgs) -> Result<()> {
    let service = match Service::open(cwd) {
        Ok(service) => service,
        Err(_) => {
            crate::ledger::Ledger::init(cwd)?;
            Service::open(cwd)?
        }
    };
    let reply = service.sync(SyncRequest { remote: args.remote })?;
    ui.reply(&reply, |r| {
        let mut out = format!(
            "synced with {}: {} received, {} recorded, {}\n",
            r.remote,
            plural(r.received.len(), "file", "files"),
            plural(r.recorded, "local change", "local changes"),
            if r.pushed { "pushed" } else { "nothing to push" }
        );
        out.extend(r.conflicts.iter().map(|c| format!("conflict kept this side's text: {c}\n")));
        out.extend(r.reopened.iter().map(|t| format!("re-opened {t}: its prerequisite was completed elsewhere\n")));
        out.extend(r.warnings.iter().map(|w| format!("warning: {w}\n")));
        out
    })
}
