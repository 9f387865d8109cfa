//! The engine commands, and the split between the two binaries that serve them.
//!
//! Search, indexing, the embedding model, the MCP server and `init --claude` (which lists the MCP
//! tools) need tantivy, usearch, ONNX Runtime and rmcp: most of abathur's machine code and four times
//! the relocations of the rest. A process pays for what its binary links every time it starts, so
//! `abathur` (src/main.rs) links everything but the engine and hands engine commands to
//! `abathur-full` (src/bin/abathur-full.rs), which links it all and runs every command itself. Each
//! task command, hook and merge-driver call then starts about a millisecond sooner; an engine command
//! starts one small process more, about 2 ms for the MCP server (docs/benchmarks.md has the figures).

use std::path::{Path, PathBuf};

use crate::cli::{Ui, init, search};
use crate::error::{Error, ErrorKind, Result};
use crate::service::Service;

/// The file name of the binary that links the engine.
pub const FULL_BINARY: &str = "abathur-full";

/// Set by `abathur` for the `abathur-full` it runs: its version, which the two must share.
const PAIRED_VERSION: &str = "ABATHUR_PAIRED_VERSION";

/// A command that needs the engine, parsed.
pub enum EngineCommand {
    /// `init --claude`: the ledger and the Claude Code integration, which names the MCP tools.
    InitClaude(init::InitArgs),
    /// `search`.
    Search(search::SearchArgs),
    /// `index`.
    Index(search::IndexArgs),
    /// `model ...`.
    Model(search::ModelCommand),
    /// `mcp`.
    Mcp,
}

/// Runs an engine command: in this process (`abathur-full`) or in `abathur-full` (`abathur`).
pub type EngineRunner = fn(&Ui, &Path, EngineCommand) -> Result<()>;

/// Runs an engine command in this process.
pub fn run_in_process(ui: &Ui, cwd: &Path, command: EngineCommand) -> Result<()> {
    match command {
        EngineCommand::InitClaude(args) => init::cmd_init(ui, cwd, &args, Some(&crate::mcp::tool_catalog())),
        EngineCommand::Search(args) => search::cmd_search(ui, &Service::open(cwd)?, args),
        EngineCommand::Index(args) => search::cmd_index(ui, &Service::open(cwd)?, args),
        EngineCommand::Model(cmd) => search::cmd_model(ui, cwd, cmd),
        EngineCommand::Mcp => crate::mcp::serve(Service::open(cwd)?),
    }
}

/// Runs this process's command line again in `abathur-full`, which takes over stdin, stdout and the
/// exit code (on Unix it replaces this process, so an MCP client talks to it directly).
pub fn delegate(_ui: &Ui, _cwd: &Path, _command: EngineCommand) -> Result<()> {
    let full = full_binary()?;
    let mut command = std::process::Command::new(&full);
    command.args(std::env::args_os().skip(1)).env(PAIRED_VERSION, env!("CARGO_PKG_VERSION"));
    let not_started = |e: std::io::Error| {
        Error::new(ErrorKind::Internal, format!("cannot run {}: {e}", full.display()))
            .hint(format!("reinstall abathur (`cargo install --path .` installs `abathur` and `{FULL_BINARY}`)"))
    };
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        // `ps` and `pkill abathur` see the command the user typed.
        Err(not_started(command.arg0("abathur").exec()))
    }
    #[cfg(not(unix))]
    {
        let status = command.status().map_err(not_started)?;
        Err(Error::exit_quietly(status.code().and_then(|c| u8::try_from(c).ok()).unwrap_or(4)))
    }
}

/// Refuses to run for an `abathur` of another version: a mixed pair would read and write the ledger
/// by two sets of rules. Called by `abathur-full` before anything else.
pub fn check_paired_version() -> Result<()> {
    match std::env::var_os(PAIRED_VERSION) {
        Some(v) if v != env!("CARGO_PKG_VERSION") => Err(Error::new(
            ErrorKind::Internal,
            format!(
                "{FULL_BINARY} {} was run by abathur {}; the two must be the same version",
                env!("CARGO_PKG_VERSION"),
                v.to_string_lossy()
            ),
        )
        .hint("reinstall both from one source: `cargo install --path .`")),
        _ => Ok(()),
    }
}

/// `doctor`'s check of the pair: `abathur-full` is found, and is this version.
pub fn paired_binaries() -> crate::doctor::Finding {
    use crate::doctor::{Finding, Health};
    let full = match full_binary() {
        Ok(full) => full,
        Err(e) => return Finding::new("binaries", Health::Fail, e.message, e.hints.join("; ")),
    };
    let version =
        std::process::Command::new(&full).arg("--version").env(PAIRED_VERSION, env!("CARGO_PKG_VERSION")).output();
    let text = version.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string()).unwrap_or_default();
    if text.ends_with(env!("CARGO_PKG_VERSION")) {
        Finding::new(
            "binaries",
            Health::Ok,
            format!("abathur and {} {}", full.display(), env!("CARGO_PKG_VERSION")),
            "",
        )
    } else {
        Finding::new(
            "binaries",
            Health::Fail,
            format!("{} says `{text}`, this abathur is {}", full.display(), env!("CARGO_PKG_VERSION")),
            "reinstall both from one source: `cargo install --locked --path .`",
        )
    }
}

/// `abathur-full` beside this executable (as `cargo install` and `cargo build` place it), else the
/// first on `PATH`.
fn full_binary() -> Result<PathBuf> {
    let name = format!("{FULL_BINARY}{}", std::env::consts::EXE_SUFFIX);
    let beside = std::env::current_exe().ok().map(|exe| exe.with_file_name(&name));
    beside.filter(|p| p.is_file()).or_else(|| crate::git::sign::on_path(&name)).ok_or_else(|| {
        Error::new(
            ErrorKind::Internal,
            format!("this command runs in {name}, which is neither beside this abathur nor on PATH"),
        )
        .hint("install both binaries: `cargo install --path .` (or `cargo build` for a development tree)")
    })
}
