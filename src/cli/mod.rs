//! The command-line front end: parses arguments, calls the service, prints the reply.
//!
//! Data goes to stdout (the reply as text, or verbatim as JSON with `--json`); narration, warnings and
//! errors go to stderr. Exit codes: 0 success, 1 bad input or unknown entity, 2 bad command line,
//! 3 conflict or busy (retrying may help), 4 internal failure.

mod context;
mod decision;
mod deferred;
mod doctor;
mod engine;
mod gate;
mod init;
mod ledger;
mod memory;
mod milestone;
mod output;
mod requirement;
mod review;
mod search;
mod session;
mod task;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use self::deferred::Deferred;
use crate::error::{Error, Result};
use crate::service::Service;

/// A git repository as the coordination ledger of a project run by AI agents and their humans.
#[derive(Debug, Parser)]
#[command(name = "abathur", version, about, max_term_width = 100)]
pub struct Cli {
    /// Print the reply as JSON (the same object the MCP server returns)
    #[arg(long, global = true)]
    pub json: bool,
    /// Run as if started in DIR
    #[arg(short = 'C', long = "directory", value_name = "DIR", global = true)]
    pub directory: Option<PathBuf>,
    /// Print no narration on stderr (data and errors still print)
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// What to do
    #[command(subcommand)]
    pub command: Command,
}

/// The top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the ledger in this git repository (in a clone: check out the remote's ledger)
    Init(Deferred<init::InitArgs>),
    /// Where the ledger lives, what is not yet committed, and moving an old in-tree ledger
    #[command(subcommand)]
    Ledger(Deferred<ledger::LedgerCommand>),
    /// Fetch, merge, validate, commit and push the ledger through a git remote
    Sync(Deferred<ledger::SyncArgs>),
    /// Manage the task queue
    #[command(subcommand)]
    Task(Deferred<Box<task::TaskCommand>>),
    /// Manage milestones
    #[command(subcommand)]
    Milestone(Deferred<milestone::MilestoneCommand>),
    /// Decide validation gates: signed go/no-go decisions at milestone boundaries
    #[command(subcommand)]
    Gate(Deferred<gate::GateCommand>),
    /// Decision records: ADR-style, linked to tasks, milestones and gates
    #[command(subcommand)]
    Decision(Deferred<decision::DecisionCommand>),
    /// Project memory: facts, events and how-tos by namespace and key
    #[command(subcommand)]
    Memory(Deferred<memory::MemoryCommand>),
    /// Project requirements: what must be true of the whole project, with status and evidence
    #[command(subcommand)]
    Requirement(Deferred<requirement::RequirementCommand>),
    /// The project's completion report: every milestone, gate, decision and requirement, signed
    Report {
        /// Record it unsigned (pending a signature)
        #[arg(long)]
        unsigned: bool,
    },
    /// Agent sessions: hand-over and debugging threads with an event log and a state
    #[command(subcommand)]
    Session(Deferred<session::SessionCommand>),
    /// Search memory, decisions, validation reports and tasks (words and meaning)
    Search(Deferred<search::SearchArgs>),
    /// Bring the search index up to date (searches do this too; this also embeds everything)
    Index(Deferred<search::IndexArgs>),
    /// Install or inspect the local embedding model
    #[command(subcommand)]
    Model(Deferred<search::ModelCommand>),
    /// What the ledger did during a range of work, as Markdown for a pull request (or JSON)
    Review(Deferred<review::ReviewArgs>),
    /// What an agent starting up needs, in one bounded reply (milestone, gate, ready work, memory)
    Context(Deferred<context::ContextArgs>),
    /// Validate the whole ledger; exit 1 when anything is wrong (for CI)
    Check,
    /// Check the installation and the repository (binaries, signing, policy, remote, model) and say what to do
    Doctor,
    /// Serve the MCP tools over stdio (for agents; see docs/mcp.md)
    Mcp,
    /// Print shell completions
    Completions {
        /// Shell to generate completions for
        shell: clap_complete::Shell,
    },
}

/// How a command talks to the terminal.
pub struct Ui {
    json: bool,
    quiet: bool,
}

impl Ui {
    /// Narration for people, on stderr.
    pub fn status(&self, message: impl AsRef<str>) {
        if !self.quiet && !self.json {
            eprintln!("{}", message.as_ref());
        }
    }

    /// A warning, on stderr, even with --json.
    pub fn warn(&self, message: impl AsRef<str>) {
        if !self.quiet {
            eprintln!("warning: {}", message.as_ref());
        }
    }

    /// Prints `reply` as JSON when asked, else calls `human` to print it as text.
    pub fn reply<T: serde::Serialize>(&self, reply: &T, human: impl FnOnce(&T) -> String) -> Result<()> {
        let text = if self.json {
            serde_json::to_string_pretty(reply).expect("replies serialise") + "\n"
        } else {
            // Text from the ledger (summaries, memory values) must not drive the terminal.
            output::neutralise_controls(&human(reply))
        };
        write_stdout(text.as_bytes())
    }
}

/// Writes `bytes` to stdout. A closed pipe (`abathur task list | head`) ends the process quietly
/// with exit 0; any other failure (a full disk, `> /dev/full`) is an error, so lost output is never
/// reported as success.
pub fn write_stdout(bytes: &[u8]) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(e) => Err(Error::new(crate::error::ErrorKind::Internal, format!("cannot write the output: {e}"))
            .hint("check where stdout goes (a full disk or a closed file)")),
    }
}

/// Runs the command line with every command in this process: the `abathur-full` binary.
pub fn main() -> ExitCode {
    if let Err(e) = engine::check_paired_version() {
        report(&Ui { json: false, quiet: false }, &e);
        return ExitCode::from(e.kind.exit_code());
    }
    main_with(engine::run_in_process)
}

/// Runs the command line with the engine's commands handed to `abathur-full`: the `abathur` binary
/// (see `engine` for why).
pub fn main_without_engine() -> ExitCode {
    main_with(engine::delegate)
}

/// Parses the command line, runs it and returns the process exit code.
fn main_with(engine: engine::EngineRunner) -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    let ui = Ui { json: cli.json, quiet: cli.quiet };
    match run(cli, &ui, engine) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            report(&ui, &e);
            ExitCode::from(e.kind.exit_code())
        }
    }
}

fn run(cli: Cli, ui: &Ui, engine: engine::EngineRunner) -> Result<()> {
    use engine::EngineCommand;
    let cwd = match &cli.directory {
        Some(dir) => dir.clone(),
        None => std::env::current_dir().map_err(|e| Error::io(std::path::Path::new("."), e))?,
    };
    match cli.command {
        Command::Init(Deferred(args)) if args.claude => engine(ui, &cwd, EngineCommand::InitClaude(args)),
        Command::Init(Deferred(args)) => init::cmd_init(ui, &cwd, &args, None),
        Command::Task(Deferred(cmd)) => task::run(ui, &Service::open(&cwd)?, *cmd),
        Command::Milestone(Deferred(cmd)) => milestone::run(ui, &Service::open(&cwd)?, cmd),
        Command::Gate(Deferred(cmd)) => gate::run(ui, &Service::open(&cwd)?, cmd),
        Command::Ledger(Deferred(cmd)) => ledger::run(ui, &cwd, cmd),
        Command::Sync(Deferred(args)) => ledger::cmd_sync(ui, &cwd, args),
        Command::Review(Deferred(args)) => review::cmd_review(ui, &Service::open(&cwd)?, args),
        Command::Context(Deferred(args)) => context::cmd_context(ui, &Service::open(&cwd)?, args),
        Command::Decision(Deferred(cmd)) => decision::run(ui, &Service::open(&cwd)?, cmd),
        Command::Memory(Deferred(cmd)) => memory::run(ui, &Service::open(&cwd)?, cmd),
        Command::Session(Deferred(cmd)) => session::run(ui, &Service::open(&cwd)?, cmd),
        Command::Requirement(Deferred(cmd)) => requirement::run(ui, &Service::open(&cwd)?, cmd),
        Command::Report { unsigned } => requirement::cmd_report(ui, &Service::open(&cwd)?, unsigned),
        Command::Search(Deferred(args)) => engine(ui, &cwd, EngineCommand::Search(args)),
        Command::Index(Deferred(args)) => engine(ui, &cwd, EngineCommand::Index(args)),
        Command::Model(Deferred(cmd)) => engine(ui, &cwd, EngineCommand::Model(cmd)),
        Command::Check => cmd_check(ui, &Service::open(&cwd)?),
        Command::Doctor => doctor::cmd_doctor(ui, &cwd),
        Command::Mcp => engine(ui, &cwd, EngineCommand::Mcp),
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut deferred::whole_command(), "abathur", &mut script);
            write_stdout(&script)
        }
    }
}

fn cmd_check(ui: &Ui, service: &Service) -> Result<()> {
    let report = service.check()?;
    ui.reply(&report, |r| r.problems.iter().map(|p| format!("{}: {}\n", p.file, p.message)).collect())?;
    if report.problems.is_empty() {
        ui.status(format!("The ledger is valid ({} tasks checked).", report.tasks_checked));
        Ok(())
    } else if ui.json {
        // The report on stdout is the whole answer; an error object after it would make two documents.
        std::process::exit(i32::from(crate::error::ErrorKind::Validation.exit_code()));
    } else {
        Err(Error::new(
            crate::error::ErrorKind::Validation,
            format!("{} problem(s) in the ledger", report.problems.len()),
        )
        .hint("fix each file named above, then run `abathur check` again"))
    }
}

fn report(ui: &Ui, e: &Error) {
    use std::io::Write;
    if ui.json {
        // Best effort: stdout may be what failed; the error is on stderr as well.
        let _ =
            writeln!(std::io::stdout(), "{}", serde_json::to_string_pretty(&e.to_json()).expect("errors serialise"));
    }
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "Error: {}", e.message);
    for hint in &e.hints {
        let _ = writeln!(err, "Hint: {hint}");
    }
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::Cli;

    #[test]
    fn command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn deferred_commands_keep_their_own_help_and_parse_as_before() {
        // Deferred: before parsing, `task` knows its name and help but not its subcommands.
        let task = Cli::command().find_subcommand("task").cloned().expect("a task command");
        assert_eq!(task.get_subcommands().count(), 0);
        // The variant's doc comment, not the wrapped type's, is a deferred command's one-line help.
        let help = Cli::try_parse_from(["abathur", "task", "--help"]).unwrap_err().to_string();
        assert!(help.starts_with("Manage the task queue\n"), "{help}");
        let help = Cli::try_parse_from(["abathur", "init", "--help"]).unwrap_err().to_string();
        assert!(help.starts_with("Create the ledger in this git repository"), "{help}");
        // Arguments two levels down are still parsed, globals included.
        let cli = Cli::try_parse_from(["abathur", "task", "claim", "--json", "-t", "implementer"]).unwrap();
        assert!(cli.json);
        let super::Command::Task(super::Deferred(task)) = cli.command else { panic!("not a task command") };
        let super::task::TaskCommand::Claim(super::Deferred(claim)) = *task else { panic!("not a claim") };
        assert_eq!(claim.agent_type.as_deref(), Some("implementer"));
        let bad = Cli::try_parse_from(["abathur", "task", "claim", "--bogus"]).unwrap_err();
        assert_eq!(bad.kind(), clap::error::ErrorKind::UnknownArgument);
    }

    #[test]
    fn an_eager_build_is_whole() {
        // Completions need every nested command at once, `help task add` included.
        let mut cmd = super::deferred::whole_command();
        cmd.build();
        let help = cmd.find_subcommand("help").expect("a help command");
        let task = help.find_subcommand("task").expect("help task");
        assert!(task.find_subcommand("add").is_some(), "help task add is missing");
        let add = cmd.find_subcommand("task").and_then(|t| t.find_subcommand("add")).expect("task add");
        assert!(add.get_arguments().any(|a| a.get_id() == "summary"));
    }
}
