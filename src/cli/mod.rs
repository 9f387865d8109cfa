//! The command-line front end: parses arguments, calls the service, prints the reply.
//!
//! Data goes to stdout (the reply as text, or verbatim as JSON with `--json`); narration, warnings and
//! errors go to stderr. Exit codes: 0 success, 1 bad input or unknown entity, 2 bad command line,
//! 3 conflict or busy (retrying may help), 4 internal failure.

mod complete;
mod context;
mod decision;
mod doctor;
mod engine;
mod examples;
mod gate;
mod hook;
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
mod view;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::error::{Error, Result};
use crate::service::Service;

/// A git repository as the coordination ledger of a project run by AI agents and their humans.
#[derive(Debug, Parser)]
#[command(name = "abathur", version, about, max_term_width = 100)]
pub struct Cli {
    /// Print the reply as JSON (the same object the MCP server returns)
    #[arg(long, global = true, help_heading = GLOBAL)]
    pub json: bool,
    /// Run as if started in DIR
    #[arg(short = 'C', long = "directory", value_name = "DIR", global = true, help_heading = GLOBAL)]
    pub directory: Option<PathBuf>,
    /// Print no narration on stderr (data and errors still print)
    #[arg(short, long, global = true, help_heading = GLOBAL)]
    pub quiet: bool,
    /// Colour states in tables: auto (a terminal without NO_COLOR), always or never
    #[arg(long, value_enum, value_name = "WHEN", default_value_t, global = true, help_heading = GLOBAL)]
    pub color: output::ColorChoice,
    /// Print long output straight to the terminal instead of through $PAGER (less)
    #[arg(long, global = true, help_heading = GLOBAL)]
    pub no_pager: bool,
    /// What to do
    #[command(subcommand)]
    pub command: Command,
}

/// How to install completions, in `completions --help`.
const COMPLETION_HELP: &str = "\
Install (the script asks abathur for task ids, milestones and namespaces as you type):
  bash:  echo 'source <(abathur completions bash)' >> ~/.bashrc
  zsh:   echo 'source <(abathur completions zsh)' >> ~/.zshrc
  fish:  abathur completions fish > ~/.config/fish/completions/abathur.fish";

/// The heading of the options every command takes.
const GLOBAL: &str = "Global options";

/// The top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the ledger in this git repository (in a clone: check out the remote's ledger)
    Init(init::InitArgs),
    /// Where the ledger lives, what is not yet committed, and moving an old in-tree ledger
    #[command(subcommand)]
    Ledger(ledger::LedgerCommand),
    /// Fetch, merge, validate, commit and push the ledger through a git remote
    Sync(ledger::SyncArgs),
    /// Manage the task queue
    #[command(subcommand)]
    Task(Box<task::TaskCommand>),
    /// Manage milestones
    #[command(subcommand)]
    Milestone(milestone::MilestoneCommand),
    /// Decide validation gates: signed go/no-go decisions at milestone boundaries
    #[command(subcommand)]
    Gate(gate::GateCommand),
    /// Decision records: ADR-style, linked to tasks, milestones and gates
    #[command(subcommand)]
    Decision(decision::DecisionCommand),
    /// Project memory: facts, events and how-tos by namespace and key
    #[command(subcommand)]
    Memory(memory::MemoryCommand),
    /// Project requirements: what must be true of the whole project, with status and evidence
    #[command(subcommand)]
    Requirement(requirement::RequirementCommand),
    /// The project's completion report: every milestone, gate, decision and requirement, signed
    Report {
        /// Record it unsigned (pending a signature)
        #[arg(long)]
        unsigned: bool,
    },
    /// Agent sessions: hand-over and debugging threads with an event log and a state
    #[command(subcommand)]
    Session(session::SessionCommand),
    /// Search memory, decisions, validation reports and tasks (words and meaning)
    Search(search::SearchArgs),
    /// Bring the search index up to date (searches do this too; this also embeds everything)
    Index(search::IndexArgs),
    /// Install or inspect the local embedding model
    #[command(subcommand)]
    Model(search::ModelCommand),
    /// What the ledger did during a range of work, as Markdown for a pull request (or JSON)
    Review(review::ReviewArgs),
    /// Write the ledger as one HTML page: milestones, gates and signatures, the task graph, decisions
    View(view::ViewArgs),
    /// What an agent starting up needs, in one bounded reply (milestone, gate, ready work, memory)
    Context(context::ContextArgs),
    /// Validate the whole ledger; exit 1 when anything is wrong (for CI)
    Check,
    /// Check the installation and the repository (binaries, signing, policy, remote, model) and say what to do
    Doctor,
    /// Serve the MCP tools over stdio (for agents; see docs/mcp.md)
    Mcp,
    /// Commands agent clients run as hooks (installed by `init --claude --hooks`)
    #[command(subcommand)]
    Hook(hook::HookCommand),
    /// Print the shell script that completes commands, task ids, milestones and namespaces
    #[command(after_long_help = COMPLETION_HELP)]
    Completions {
        /// bash, zsh, fish, elvish or powershell
        shell: clap_complete::Shell,
    },
    /// Write the manual pages (one per command) into DIR, or print abathur(1)
    Man {
        /// Write abathur.1, abathur-task.1, abathur-task-add.1 ... here
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

/// How a command talks to the terminal.
pub struct Ui {
    json: bool,
    quiet: bool,
    terminal: output::Terminal,
}

impl Ui {
    /// Text output with the environment's defaults, for errors before the command line is read.
    fn plain() -> Ui {
        Ui { json: false, quiet: false, terminal: output::Terminal::detect(output::ColorChoice::Auto, true) }
    }

    /// A failure whose report was just printed: under `--json` that report is the whole answer (an
    /// error object after it would make two documents), so only the exit code says it failed.
    pub fn failed_after_report(&self, e: Error) -> Result<()> {
        if self.json { Err(Error::exit_quietly(e.kind.exit_code())) } else { Err(e) }
    }

    /// The same output settings, replying in JSON.
    pub fn as_json(&self) -> Ui {
        Ui { json: true, quiet: self.quiet, terminal: self.terminal }
    }

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
    pub fn reply<T: serde::Serialize, H: Into<output::Text>>(
        &self,
        reply: &T,
        human: impl FnOnce(&T) -> H,
    ) -> Result<()> {
        if self.json {
            return write_stdout((serde_json::to_string_pretty(reply).expect("replies serialise") + "\n").as_bytes());
        }
        // Text from the ledger (summaries, memory values) must not drive the terminal.
        let text = self.terminal.render(&human(reply).into().neutralised());
        match self.terminal.pager_rows {
            Some(rows) if text.lines().count() >= rows => page(&text),
            _ => write_stdout(text.as_bytes()),
        }
    }
}

/// Shows `text` through `$ABATHUR_PAGER`, `$PAGER` or `less`, the way git does (`LESS=FRX` unless
/// set); prints it directly when no pager starts.
fn page(text: &str) -> Result<()> {
    let pager =
        ["ABATHUR_PAGER", "PAGER"].iter().find_map(|v| std::env::var(v).ok()).unwrap_or_else(|| "less".to_string());
    if pager.trim().is_empty() || pager == "cat" {
        return write_stdout(text.as_bytes());
    }
    let mut command = std::process::Command::new("sh");
    command.arg("-c").arg(&pager).stdin(std::process::Stdio::piped());
    if std::env::var_os("LESS").is_none() {
        command.env("LESS", "FRX");
    }
    let Ok(mut child) = command.spawn() else { return write_stdout(text.as_bytes()) };
    if let Some(mut stdin) = child.stdin.take() {
        // The person quitting the pager early closes the pipe: not an error.
        let _ = stdin.write_all(text.as_bytes());
    }
    let _ = child.wait();
    Ok(())
}

/// Writes `bytes` to stdout. A closed pipe (`abathur task list | head`) ends the process quietly
/// with exit 0; any other failure (a full disk, `> /dev/full`) is an error, so lost output is never
/// reported as success.
pub fn write_stdout(bytes: &[u8]) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(Error::exit_quietly(0)),
        Err(e) => Err(Error::new(crate::error::ErrorKind::Internal, format!("cannot write the output: {e}"))
            .hint("check where stdout goes (a full disk or a closed file)")),
    }
}

/// Runs the command line with every command in this process: the `abathur-full` binary.
pub fn main() -> ExitCode {
    if let Err(e) = engine::check_paired_version() {
        report(&Ui::plain(), &e);
        return ExitCode::from(e.kind.exit_code());
    }
    main_with(engine::run_in_process)
}

/// Runs the command line with the engine's commands handed to `abathur-full`: the `abathur` binary
/// (see `engine` for why).
pub fn main_without_engine() -> ExitCode {
    main_with(engine::delegate)
}

/// The whole command line definition, examples included.
pub fn command() -> clap::Command {
    examples::add(<Cli as clap::CommandFactory>::command())
}

/// The variable through which the shell asks for completions (clap_complete's protocol).
const COMPLETE_VAR: &str = "COMPLETE";

/// Parses the command line, runs it and returns the process exit code.
fn main_with(engine: engine::EngineRunner) -> ExitCode {
    let completion = clap_complete::CompleteEnv::with_factory(command)
        .var(COMPLETE_VAR)
        .try_complete(std::env::args_os(), std::env::current_dir().ok().as_deref());
    match completion {
        Ok(true) => return ExitCode::SUCCESS,
        Ok(false) => {}
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(2);
        }
    }
    // Examples appear only in help; every other run skips writing them into the command tree.
    let asks_for_help = std::env::args_os().skip(1).any(|a| a == "--help" || a == "-h" || a == "help");
    let cmd = if asks_for_help { command() } else { <Cli as clap::CommandFactory>::command() };
    let cli = match cmd.try_get_matches().and_then(|m| <Cli as clap::FromArgMatches>::from_arg_matches(&m)) {
        Ok(cli) => cli,
        Err(e) => {
            if e.use_stderr() && std::env::args_os().take_while(|a| a != "--").any(|a| a == "--json") {
                let _ = write_stdout(usage_error_json(&e).as_bytes());
            }
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    let ui = Ui { json: cli.json, quiet: cli.quiet, terminal: output::Terminal::detect(cli.color, cli.no_pager) };
    match run(cli, &ui, engine) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Error { quiet_exit: Some(code), .. }) => ExitCode::from(code),
        Err(e) => {
            report(&ui, &e);
            ExitCode::from(e.kind.exit_code())
        }
    }
}

/// A command-line mistake as the JSON error object every other failure prints under `--json`.
fn usage_error_json(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let message = text.lines().next().unwrap_or_default().trim_start_matches("error: ").to_string();
    let mut hints: Vec<String> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("tip: ").map(str::to_string))
        .chain(text.lines().find(|l| l.starts_with("Usage: ")).map(str::to_string))
        .collect();
    hints.push("`abathur help <command>` lists every option".to_string());
    let object = serde_json::json!({ "error": "UsageError", "message": message, "hints": hints });
    serde_json::to_string_pretty(&object).expect("errors serialise") + "\n"
}

fn run(cli: Cli, ui: &Ui, engine: engine::EngineRunner) -> Result<()> {
    use engine::EngineCommand;
    let cwd = match &cli.directory {
        Some(dir) => {
            // fs: the folder the user names with -C
            std::fs::metadata(dir).map_err(|e| Error::io(dir, e).context("cannot run in the folder -C names"))?;
            dir.clone()
        }
        None => std::env::current_dir().map_err(|e| Error::io(std::path::Path::new("."), e))?,
    };
    match cli.command {
        Command::Init(args) if args.claude => engine(ui, &cwd, EngineCommand::InitClaude(args)),
        Command::Init(args) => init::cmd_init(ui, &cwd, &args, None),
        Command::Task(cmd) => task::run(ui, &Service::open(&cwd)?, *cmd),
        Command::Milestone(cmd) => milestone::run(ui, &Service::open(&cwd)?, cmd),
        Command::Gate(cmd) => gate::run(ui, &Service::open(&cwd)?, cmd),
        Command::Ledger(cmd) => ledger::run(ui, &cwd, cmd),
        Command::Sync(args) => ledger::cmd_sync(ui, &cwd, args),
        Command::Review(args) => review::cmd_review(ui, &Service::open(&cwd)?, args),
        Command::View(args) => view::cmd_view(ui, &Service::open(&cwd)?, args),
        Command::Context(args) => context::cmd_context(ui, &Service::open(&cwd)?, args),
        Command::Decision(cmd) => decision::run(ui, &Service::open(&cwd)?, cmd),
        Command::Memory(cmd) => memory::run(ui, &Service::open(&cwd)?, cmd),
        Command::Session(cmd) => session::run(ui, &Service::open(&cwd)?, cmd),
        Command::Requirement(cmd) => requirement::run(ui, &Service::open(&cwd)?, cmd),
        Command::Report { unsigned } => requirement::cmd_report(ui, &Service::open(&cwd)?, unsigned),
        Command::Search(args) => engine(ui, &cwd, EngineCommand::Search(args)),
        Command::Index(args) => engine(ui, &cwd, EngineCommand::Index(args)),
        Command::Model(cmd) => engine(ui, &cwd, EngineCommand::Model(cmd)),
        Command::Check => cmd_check(ui, &Service::open(&cwd)?),
        Command::Doctor => doctor::cmd_doctor(ui, &cwd),
        Command::Mcp => engine(ui, &cwd, EngineCommand::Mcp),
        Command::Hook(cmd) => hook::run(ui, &Service::open(&cwd)?, cmd),
        Command::Completions { shell } => {
            let mut script = Vec::new();
            let shells = clap_complete::env::Shells::builtins();
            let completer = shells.completer(&shell.to_string()).expect("every clap_complete shell has a completer");
            completer
                .write_registration(COMPLETE_VAR, "abathur", "abathur", "abathur", &mut script)
                .expect("writing to memory succeeds");
            write_stdout(&script)
        }
        Command::Man { dir } => cmd_man(dir),
    }
}

/// The manual: every command's page into `dir`, or the top page on stdout.
fn cmd_man(dir: Option<PathBuf>) -> Result<()> {
    let cmd = command();
    match dir {
        Some(dir) => {
            std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?; // fs: where the user wants the pages
            clap_mangen::generate_to(cmd, &dir).map_err(|e| Error::io(&dir, e))
        }
        None => {
            let mut page = Vec::new();
            clap_mangen::Man::new(cmd).render(&mut page).map_err(|e| Error::io(std::path::Path::new("<stdout>"), e))?;
            write_stdout(&page)
        }
    }
}

fn cmd_check(ui: &Ui, service: &Service) -> Result<()> {
    let report = service.check()?;
    ui.reply(&report, |r| r.problems.iter().map(|p| format!("{}: {}\n", p.file, p.message)).collect::<String>())?;
    if report.problems.is_empty() {
        ui.status(format!(
            "The ledger is valid ({} checked, {}).",
            crate::words::plural(report.files_checked, "file", "files"),
            crate::words::plural(report.tasks_checked, "task", "tasks")
        ));
        Ok(())
    } else {
        ui.failed_after_report(
            Error::new(
                crate::error::ErrorKind::Validation,
                format!("{} in the ledger", crate::words::plural(report.problems.len(), "problem", "problems")),
            )
            .hint("fix each file named above, then run `abathur check` again"),
        )
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
    for cause in &e.causes {
        let _ = writeln!(err, "Caused by: {cause}");
    }
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
    fn each_command_keeps_its_own_help_and_parses_nested_arguments() {
        // The variant's doc comment, not the wrapped type's, is a command's one-line help.
        let help = Cli::try_parse_from(["abathur", "task", "--help"]).unwrap_err().to_string();
        assert!(help.starts_with("Manage the task queue\n"), "{help}");
        let help = Cli::try_parse_from(["abathur", "init", "--help"]).unwrap_err().to_string();
        assert!(help.starts_with("Create the ledger in this git repository"), "{help}");
        // Arguments two levels down are parsed, globals included.
        let cli = Cli::try_parse_from(["abathur", "task", "claim", "--json", "-t", "implementer"]).unwrap();
        assert!(cli.json);
        let super::Command::Task(task) = cli.command else { panic!("not a task command") };
        let super::task::TaskCommand::Claim(claim) = *task else { panic!("not a claim") };
        assert_eq!(claim.agent_type.as_deref(), Some("implementer"));
        let bad = Cli::try_parse_from(["abathur", "task", "claim", "--bogus"]).unwrap_err();
        assert_eq!(bad.kind(), clap::error::ErrorKind::UnknownArgument);
    }

    #[test]
    fn the_built_command_is_whole() {
        // Completions need every nested command, `help task add` included.
        let mut cmd = Cli::command();
        cmd.build();
        let help = cmd.find_subcommand("help").expect("a help command");
        let task = help.find_subcommand("task").expect("help task");
        assert!(task.find_subcommand("add").is_some(), "help task add is missing");
        let add = cmd.find_subcommand("task").and_then(|t| t.find_subcommand("add")).expect("task add");
        assert!(add.get_arguments().any(|a| a.get_id() == "summary"));
    }

    #[test]
    fn every_main_command_has_examples_and_each_example_parses() {
        let mut cmd = super::command();
        cmd.build();
        for path in super::examples::documented() {
            let mut sub = &cmd;
            for name in path.split(' ') {
                sub = sub.find_subcommand(name).unwrap_or_else(|| panic!("examples for `{path}`, which is no command"));
            }
            let help = sub.get_after_help().map(|h| h.to_string()).unwrap_or_default();
            assert!(help.starts_with("Examples:"), "`{path}` has no examples");
            for line in help.lines().skip(1) {
                // The abathur command of the line, without the shell around it.
                let line = line.trim().split(" # ").next().unwrap();
                let Some(start) = line.find("abathur ") else { continue };
                let line = line[start..].split(['|', '>']).next().unwrap().split("&&").next().unwrap();
                let words = shlex::split(line).unwrap_or_else(|| panic!("unbalanced quotes: {line}"));
                if let Err(e) = super::command().try_get_matches_from(&words) {
                    panic!("the example `{line}` of `{path}` does not parse: {e}");
                }
            }
        }
    }
}
