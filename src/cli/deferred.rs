//! Builds a command's arguments only when that command is the one being run.
//!
//! clap's derive builds the whole command tree, every argument of every subcommand with its help
//! text, before it parses anything: a first parse took about 0.75 ms in process, most of it first
//! touches of code and memory for commands the process never runs. Deferring them saved about
//! 0.2 ms of every abathur process (docs/benchmarks.md). [`Deferred`] wraps a subcommand's arguments (or its nested
//! subcommands) so that clap's `Command::defer` builds them when that subcommand is selected; the
//! top level still knows every name and its one-line help, so `--help`, suggestions and
//! completions are unchanged.

use std::cell::Cell;

use clap::{ArgMatches, Args, Command, FromArgMatches, Subcommand};

thread_local! {
    static BUILD_EAGERLY: Cell<bool> = const { Cell::new(false) };
}

/// The whole command tree at once, nothing deferred: shell completions list every nested
/// subcommand under `help` too, which clap derives while it builds the top level.
pub fn whole_command() -> Command {
    BUILD_EAGERLY.set(true);
    let cmd = <crate::cli::Cli as clap::CommandFactory>::command();
    BUILD_EAGERLY.set(false);
    cmd
}

/// Builds `cmd` with `augment` now (see [`whole_command`]), or when it is selected.
fn defer_or_build(cmd: Command, augment: fn(Command) -> Command) -> Command {
    if BUILD_EAGERLY.get() {
        return augment(cmd);
    }
    cmd.defer(augment)
}

/// Runs `augment` and keeps `cmd`'s help. A command's one-line help is the variant's doc comment,
/// which clap applies before a deferred `augment` runs; the wrapped type's own doc comment would
/// otherwise replace it.
fn keeping_about(cmd: Command, augment: impl FnOnce(Command) -> Command) -> Command {
    let about = cmd.get_about().cloned();
    let long_about = cmd.get_long_about().cloned();
    let built = augment(cmd);
    let built = match about {
        Some(about) => built.about(about),
        None => built,
    };
    match long_about {
        Some(long_about) => built.long_about(long_about),
        None => built,
    }
}

/// A subcommand's arguments, or its nested subcommands, built only when it is used.
#[derive(Debug)]
pub struct Deferred<T>(pub T);

impl<T: FromArgMatches> FromArgMatches for Deferred<T> {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        T::from_arg_matches(matches).map(Deferred)
    }

    fn from_arg_matches_mut(matches: &mut ArgMatches) -> Result<Self, clap::Error> {
        T::from_arg_matches_mut(matches).map(Deferred)
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        self.0.update_from_arg_matches(matches)
    }
}

impl<T: Args> Args for Deferred<T> {
    fn augment_args(cmd: Command) -> Command {
        defer_or_build(cmd, |c| keeping_about(c, T::augment_args))
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        defer_or_build(cmd, |c| keeping_about(c, T::augment_args_for_update))
    }
}

impl<T: Subcommand> Subcommand for Deferred<T> {
    fn augment_subcommands(cmd: Command) -> Command {
        defer_or_build(cmd, |c| keeping_about(c, T::augment_subcommands))
    }

    fn augment_subcommands_for_update(cmd: Command) -> Command {
        defer_or_build(cmd, |c| keeping_about(c, T::augment_subcommands_for_update))
    }

    fn has_subcommand(name: &str) -> bool {
        T::has_subcommand(name)
    }
}
