//! `abathur view`: the ledger as a static HTML page (src/view.rs).

use std::path::PathBuf;

use crate::cli::{Ui, write_stdout};
use crate::error::Result;
use crate::service::Service;

/// Write the ledger as one self-contained HTML page
#[derive(Debug, clap::Args)]
pub struct ViewArgs {
    /// Write it here (`-` for stdout) instead of the ledger's cache/view.html
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Runs `abathur view`.
pub fn cmd_view(ui: &Ui, service: &Service, args: ViewArgs) -> Result<()> {
    if args.output.as_deref() == Some(std::path::Path::new("-")) {
        return write_stdout(service.html_view()?.as_bytes());
    }
    let reply = service.write_html_view(args.output.as_deref())?;
    ui.status(format!(
        "Open it in a browser: file://{}",
        std::path::absolute(&reply.path).unwrap_or_else(|_| reply.path.clone().into()).display()
    ));
    ui.reply(&reply, |r| format!("{}\n", r.path))
}
