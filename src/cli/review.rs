//! `abathur review`: what a range of work did to the ledger, for a pull request (docs/git.md).

use crate::cli::Ui;
use crate::error::Result;
use crate::service::Service;

/// Summarise what the ledger did during a range of work (for a pull-request comment)
#[derive(Debug, clap::Args)]
pub struct ReviewArgs {
    /// A code range, e.g. main..HEAD (the ledger as it stood when each end was made; a single
    /// revision means REV..HEAD), or a range of the ledger branch (abathur-ledger~5..abathur-ledger)
    pub range: String,
    /// markdown (default) or json
    #[arg(long, value_parser = ["markdown", "json"], default_value = "markdown")]
    pub format: String,
}

/// Runs `abathur review`.
pub fn cmd_review(ui: &Ui, service: &Service, args: ReviewArgs) -> Result<()> {
    let review = service.review(&args.range)?;
    if args.format == "json" {
        let ui = ui.as_json();
        return ui.reply(&review, |_| String::new());
    }
    ui.reply(&review, |r| r.to_markdown())
}
