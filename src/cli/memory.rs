//! `abathur memory ...`: what the project knows, by namespace and key.

use clap::{Args, Subcommand};

use crate::cli::output::{Table, Text, block};
use crate::cli::{Ui, complete};
use crate::error::{Error, Result};
use crate::memory::api::*;
use crate::memory::entry::MemoryType;
use crate::service::Service;

/// Subcommands of `abathur memory`.
#[derive(Debug, Subcommand)]
pub enum MemoryCommand {
    /// Store a new entry (or bring back a deleted or expired key)
    Add(AddArgs),
    /// Print an entry: its current value, or any version with --version
    Get(GetArgs),
    /// Write a new version of an entry (the old one stays readable)
    Update(WriteArgs),
    /// Delete an entry (a tombstone version; history stays, the key can be added again)
    Delete(DeleteArgs),
    /// List live entries, optionally under a namespace prefix
    List(ListArgs),
    /// Every version of an entry, newest first
    History(KeyArgs),
    /// Remove expired episodic entries and their history
    Prune(PruneArgs),
}

/// An entry's value and metadata.
#[derive(Debug, Args)]
pub struct WriteArgs {
    /// Namespace: project:, session:<id>:, task:<id>:, agent:<type>: ...
    #[arg(add = complete::namespaces())]
    pub namespace: String,
    /// Key within the namespace (a-z, 0-9, `.`, `_`, `-`)
    pub key: String,
    /// The value as Markdown (or JSON with --json-value); `-` reads stdin
    #[arg(required_unless_present = "file")]
    pub value: Option<String>,
    /// Read the value from a file
    #[arg(long, conflicts_with = "value")]
    pub file: Option<std::path::PathBuf>,
    /// The value is a JSON document
    #[arg(long)]
    pub json_value: bool,
    /// Episodic lifetime such as 7d or 12h (default from config: 90 days)
    #[arg(long)]
    pub ttl: Option<String>,
    /// Who writes it (default $ABATHUR_AGENT, then $USER)
    #[arg(long)]
    pub by: Option<String>,
}

/// A new entry: its value and its type.
#[derive(Debug, Args)]
pub struct AddArgs {
    #[command(flatten)]
    pub write: WriteArgs,
    /// semantic (facts), episodic (events; expire) or procedural (how-tos)
    #[arg(long = "type", value_enum, default_value = "semantic")]
    pub memory_type: MemoryTypeArg,
}

/// Memory types as command-line values.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum MemoryTypeArg {
    /// Facts and conventions
    Semantic,
    /// Events; expire after a TTL
    Episodic,
    /// How-tos
    Procedural,
}

impl From<MemoryTypeArg> for MemoryType {
    fn from(t: MemoryTypeArg) -> Self {
        match t {
            MemoryTypeArg::Semantic => MemoryType::Semantic,
            MemoryTypeArg::Episodic => MemoryType::Episodic,
            MemoryTypeArg::Procedural => MemoryType::Procedural,
        }
    }
}

/// One key.
#[derive(Debug, Args)]
pub struct KeyArgs {
    /// Namespace of the entry
    #[arg(add = complete::namespaces())]
    pub namespace: String,
    /// Key of the entry
    pub key: String,
}

/// One key, at its current or a given version.
#[derive(Debug, Args)]
pub struct GetArgs {
    #[command(flatten)]
    pub key: KeyArgs,
    /// A specific version
    #[arg(long)]
    pub version: Option<u32>,
}

/// One key to delete, and who deletes it.
#[derive(Debug, Args)]
pub struct DeleteArgs {
    #[command(flatten)]
    pub key: KeyArgs,
    /// Who deletes it (default $ABATHUR_AGENT, then $USER)
    #[arg(long)]
    pub by: Option<String>,
}

/// Listing filters.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only namespaces starting with this (e.g. task: or agent:rust-dev:)
    #[arg(add = complete::namespaces())]
    pub namespace_prefix: Option<String>,
    /// Only this type
    #[arg(long = "type", value_enum)]
    pub memory_type: Option<MemoryTypeArg>,
    /// Include expired episodic entries
    #[arg(long)]
    pub include_expired: bool,
    /// At most this many rows, 1 to 500
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
    /// Show the page after this one (the cursor the previous page printed)
    #[arg(long)]
    pub cursor: Option<String>,
}

/// Prune options.
#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Only namespaces starting with this
    #[arg(add = complete::namespaces())]
    pub namespace_prefix: Option<String>,
    /// Show what would be removed, remove nothing
    #[arg(long)]
    pub dry_run: bool,
}

/// Dispatches one `memory` subcommand.
pub fn run(ui: &Ui, service: &Service, cmd: MemoryCommand) -> Result<()> {
    match cmd {
        MemoryCommand::Add(AddArgs { write: args, memory_type }) => {
            let ttl = args.ttl.clone();
            let (namespace, key, value, by) = write_parts(&args)?;
            let req =
                MemoryAddRequest { namespace, key, value, memory_type: Some(memory_type.into()), created_by: by, ttl };
            write_reply(ui, &service.memory_add(req)?)
        }
        MemoryCommand::Update(args) => {
            let ttl = args.ttl.clone();
            let (namespace, key, value, by) = write_parts(&args)?;
            write_reply(ui, &service.memory_update(MemoryUpdateRequest { namespace, key, value, updated_by: by, ttl })?)
        }
        MemoryCommand::Delete(args) => {
            let by = args.by.or_else(default_author);
            let req =
                MemoryKeyRequest { namespace: args.key.namespace, key: args.key.key, version: None, deleted_by: by };
            write_reply(ui, &service.memory_delete(req)?)
        }
        MemoryCommand::Get(args) => {
            let req = MemoryKeyRequest {
                namespace: args.key.namespace,
                key: args.key.key,
                version: args.version,
                deleted_by: None,
            };
            ui.reply(&service.memory_get(req)?, render_entry)
        }
        MemoryCommand::History(args) => {
            let req = MemoryKeyRequest { namespace: args.namespace, key: args.key, version: None, deleted_by: None };
            ui.reply(&service.memory_history(req)?, |r| {
                let mut t = Table::new(&["VERSION", "UPDATED", "BY", "VALUE"]);
                for v in &r.versions {
                    let value = if v.deleted { "(deleted)".to_string() } else { first_line(&v.value) };
                    t.add_row(vec![
                        v.version.to_string(),
                        v.updated_at.to_string(),
                        v.author.clone().unwrap_or_default(),
                        value,
                    ]);
                }
                t
            })
        }
        MemoryCommand::List(args) => {
            let req = MemoryListRequest {
                namespace_prefix: args.namespace_prefix,
                memory_type: args.memory_type.map(Into::into),
                include_expired: args.include_expired,
                limit: Some(args.limit),
                cursor: args.cursor,
            };
            let reply = service.memory_list(req)?;
            if let Some(next) = &reply.next_cursor {
                ui.status(format!(
                    "{} of {} entries shown; next page: --cursor {next}",
                    reply.entries.len(),
                    reply.total
                ));
            }
            ui.reply(&reply, |r| {
                if r.entries.is_empty() {
                    return Text::default();
                }
                let mut t = Table::new(&["NAMESPACE", "KEY", "TYPE", "V", "UPDATED", "SUMMARY"]);
                for e in &r.entries {
                    t.add_row(vec![
                        e.namespace.clone(),
                        e.key.clone(),
                        e.memory_type.as_str().to_string(),
                        e.version.to_string(),
                        e.updated_at.to_string()[..10].to_string(),
                        e.summary.clone(),
                    ]);
                }
                t.into()
            })
        }
        MemoryCommand::Prune(args) => {
            let req = MemoryPruneRequest { namespace_prefix: args.namespace_prefix, dry_run: args.dry_run };
            let reply = service.memory_prune(req)?;
            let verb = if reply.dry_run { "would prune" } else { "pruned" };
            ui.status(format!("{verb} {} expired entries ({} files).", reply.pruned.len(), reply.files_removed));
            ui.reply(&reply, |r| r.pruned.iter().map(|e| format!("{}{}\n", e.namespace, e.key)).collect::<String>())
        }
    }
}

type WriteParts = (String, String, serde_json::Value, Option<String>);

fn write_parts(args: &WriteArgs) -> Result<WriteParts> {
    let text = match (&args.value, &args.file) {
        (Some(v), _) if v == "-" => {
            std::io::read_to_string(std::io::stdin()).map_err(|e| Error::io(std::path::Path::new("<stdin>"), e))?
        }
        (Some(v), _) => v.clone(),
        // fs: a file the user names on the command line
        (None, Some(path)) => std::fs::read_to_string(path)
            .map_err(|e| Error::io(path, e).context("cannot read the file --file names"))?,
        (None, None) => unreachable!("clap requires a value or --file"),
    };
    let value = if args.json_value {
        serde_json::from_str(&text).map_err(|e| Error::invalid("value", format!("--json-value: not JSON: {e}")))?
    } else {
        serde_json::Value::String(text)
    };
    Ok((args.namespace.clone(), args.key.clone(), value, args.by.clone().or_else(default_author)))
}

/// Who is writing, when not given: the agent's name, else the login.
pub(crate) fn default_author() -> Option<String> {
    ["ABATHUR_AGENT", "USER"].iter().find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
}

fn write_reply(ui: &Ui, reply: &MemoryWriteReply) -> Result<()> {
    ui.reply(reply, |r| format!("{} {}{} version {} ({})\n", r.status, r.namespace, r.key, r.version, r.path))
}

fn first_line(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.lines().find(|l| !l.trim().is_empty()).unwrap_or("").to_string(),
        other => other.to_string(),
    }
}

fn render_entry(e: &MemoryEntryReply) -> String {
    let mut out = block(&[
        ("entry", format!("{}{}", e.namespace, e.key)),
        ("type", e.memory_type.as_str().to_string()),
        ("version", if e.deleted { format!("{} (deleted)", e.version) } else { e.version.to_string() }),
        ("updated", e.updated_at.to_string()),
        ("by", e.author.clone().unwrap_or_default()),
        ("expires", e.expires_at.map(|t| t.to_string()).unwrap_or_default()),
        ("file", e.path.clone()),
    ]);
    out.push('\n');
    match &e.value {
        serde_json::Value::String(s) => out.push_str(s),
        other => out.push_str(&serde_json::to_string_pretty(other).expect("JSON serialises")),
    }
    out.push('\n');
    out
}
