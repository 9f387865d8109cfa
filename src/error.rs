//! The one error type every service call returns, shared by the CLI and the MCP server.
//!
//! An error says what went wrong, where (file and field when there is one), and what to do next
//! (`hints`). Its `kind` decides the MCP error type and the CLI exit code, so scripts and agents can
//! tell "fix your input" from "retry later" without parsing text.

use std::path::Path;

use serde::Serialize;

/// What a caller can do about an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub enum ErrorKind {
    /// The input or a ledger file is wrong; fix it and run again.
    Validation,
    /// The named entity does not exist (or a prefix matches nothing).
    NotFound,
    /// The change would create a dependency cycle.
    CircularDependency,
    /// The operation is illegal in the entity's current state, or another writer got there first.
    Conflict,
    /// The ledger is locked by another process for too long; retry.
    Busy,
    /// Something outside the caller's control failed (I/O, git).
    Internal,
}

impl ErrorKind {
    /// The type name agents see in MCP errors, as the earlier implementation named them.
    pub fn type_name(self) -> &'static str {
        match self {
            ErrorKind::Validation => "ValidationError",
            ErrorKind::NotFound => "NotFoundError",
            ErrorKind::CircularDependency => "CircularDependencyError",
            ErrorKind::Conflict => "ConflictError",
            ErrorKind::Busy => "BusyError",
            ErrorKind::Internal => "InternalError",
        }
    }

    /// The process exit code documented in docs/cli.md.
    pub fn exit_code(self) -> u8 {
        match self {
            ErrorKind::Validation | ErrorKind::NotFound | ErrorKind::CircularDependency => 1,
            ErrorKind::Conflict | ErrorKind::Busy => 3,
            ErrorKind::Internal => 4,
        }
    }
}

/// A failed service call: kind, message and hints.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    /// What the caller can do about it.
    pub kind: ErrorKind,
    /// One sentence naming the file or field and the problem.
    pub message: String,
    /// What to do next, one suggestion per entry.
    pub hints: Vec<String>,
    /// What lies under the message, nearest first: the error it wraps, and that one's cause, ...
    /// (printed as "Caused by:").
    pub causes: Vec<String>,
    /// Set when the process has said everything already (a report on stdout, a closed pipe): the
    /// front end exits with this code and prints nothing more.
    pub quiet_exit: Option<u8>,
}

impl Error {
    /// An error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error { kind, message: message.into(), hints: Vec::new(), causes: Vec::new(), quiet_exit: None }
    }

    /// Ends the command with `code` and no further output: what it printed is the whole answer.
    pub fn exit_quietly(code: u8) -> Error {
        Error { quiet_exit: Some(code), ..Error::new(ErrorKind::Internal, "") }
    }

    /// Bad input in `field`.
    pub fn invalid(field: &str, message: impl Into<String>) -> Error {
        let message = message.into();
        if message.starts_with(field) || field.is_empty() {
            Error::new(ErrorKind::Validation, message)
        } else {
            Error::new(ErrorKind::Validation, format!("{field}: {message}"))
        }
    }

    /// A malformed ledger file: names the file and field, and says how to repair it.
    pub fn malformed(path: &Path, message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Validation, format!("{}: {}", path.display(), message.into()))
            .hint("fix or restore the file (`git diff`/`git checkout -- <file>`), then run `abathur check`")
    }

    /// No `what` named `id`.
    pub fn not_found(what: &str, id: &str) -> Error {
        Error::new(ErrorKind::NotFound, format!("no {what} matches `{id}`"))
    }

    /// A dependency cycle, reported as its path `a -> b -> a`.
    pub fn cycle(path: &[String]) -> Error {
        Error::new(ErrorKind::CircularDependency, format!("dependency cycle: {}", path.join(" -> ")))
            .hint("remove one of these prerequisites to break the cycle")
    }

    /// An operation that the entity's state does not allow.
    pub fn conflict(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Conflict, message)
    }

    /// An I/O failure on `path`.
    pub fn io(path: &Path, err: std::io::Error) -> Error {
        use std::io::ErrorKind as Io;
        // A path that is not there, or not readable, is the caller's to fix (exit 1); a failing disk
        // or system is not (exit 4).
        let kind = match err.kind() {
            Io::NotFound
            | Io::PermissionDenied
            | Io::IsADirectory
            | Io::NotADirectory
            | Io::InvalidInput
            | Io::InvalidData => ErrorKind::Validation,
            _ => ErrorKind::Internal,
        };
        Error::new(kind, format!("{}: {err}", path.display()))
    }

    /// Says what was being done when this error happened: `message` becomes the error's message,
    /// and the old message its first cause. Kind and hints are kept.
    pub fn context(mut self, message: impl Into<String>) -> Error {
        let inner = std::mem::replace(&mut self.message, message.into());
        self.causes.insert(0, inner);
        self
    }

    /// Adds a suggestion of what to do next.
    pub fn hint(mut self, hint: impl Into<String>) -> Error {
        self.hints.push(hint.into());
        self
    }

    /// The `{error, message}` object MCP replies and `--json` errors carry.
    pub fn to_json(&self) -> serde_json::Value {
        let mut obj = serde_json::json!({ "error": self.kind.type_name(), "message": self.message });
        if !self.hints.is_empty() {
            obj["hints"] = serde_json::json!(self.hints);
        }
        if !self.causes.is_empty() {
            obj["causes"] = serde_json::json!(self.causes);
        }
        obj
    }
}

/// Shorthand for service results.
pub type Result<T, E = Error> = std::result::Result<T, E>;
