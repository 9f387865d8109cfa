//! `abathur init`.

use std::path::Path;

use crate::cli::Ui;
use crate::error::Result;
use crate::ledger::Ledger;

/// Create the ledger (.abathur/) in this git repository; running it again changes nothing
#[derive(Debug, clap::Args)]
pub struct InitArgs {}

/// Creates whatever part of the ledger is missing.
pub fn cmd_init(ui: &Ui, cwd: &Path, _args: &InitArgs) -> Result<()> {
    let (_ledger, report) = Ledger::init(cwd)?;
    if report.created.is_empty() {
        ui.status(format!("Ledger already set up in {}; nothing changed.", report.ledger));
    } else {
        ui.status(format!("Created the ledger in {}", report.ledger));
    }
    ui.reply(&report, |r| r.created.iter().map(|c| format!("created {c}\n")).collect())
}
