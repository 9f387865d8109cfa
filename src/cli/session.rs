//! `abathur session ...`: agent sessions, their event logs and state.

use clap::Subcommand;

use crate::cli::Ui;
use crate::cli::output::block;
use crate::error::{Error, Result};
use crate::service::Service;
use crate::session::{SessionAppendRequest, SessionCreateRequest, SessionDetail, SessionIdRequest, SessionStatus};

/// `abathur session` subcommands.
#[derive(Debug, Subcommand)]
pub enum SessionCommand {
    /// Start a session (a debugging or hand-over thread with an event log and a state)
    Create {
        /// The application or role it belongs to
        #[arg(long)]
        app: Option<String>,
        /// Who it is for
        #[arg(long)]
        user: Option<String>,
        /// The state to start with, as a JSON object
        #[arg(long, value_name = "JSON")]
        state: Option<String>,
    },
    /// Append an event, optionally setting state keys
    Append {
        /// The session id
        session: String,
        /// What happened, as JSON (plain text is taken as a string)
        event: String,
        /// Keys to set in the state, as a JSON object (null removes a key)
        #[arg(long, value_name = "JSON")]
        set: Option<String>,
        /// Who appends it
        #[arg(long)]
        author: Option<String>,
    },
    /// Show a session: its state and newest events
    Show {
        /// The session id
        session: String,
        /// How many of the newest events to show
        #[arg(long, default_value_t = 50)]
        events: usize,
    },
    /// List sessions, newest first
    List {
        /// Only active or only ended sessions
        #[arg(long, value_parser = ["active", "ended"])]
        status: Option<String>,
    },
    /// End a session: it stays readable, appends are refused
    End {
        /// The session id
        session: String,
    },
}

fn json(what: &str, text: &str) -> Result<serde_json::Value> {
    serde_json::from_str(text)
        .map_err(|e| Error::invalid(what, format!("not JSON: {e}")).hint("quote it for the shell: '{\"key\": 1}'"))
}

/// Dispatches one `session` subcommand.
pub fn run(ui: &Ui, service: &Service, cmd: SessionCommand) -> Result<()> {
    match cmd {
        SessionCommand::Create { app, user, state } => {
            let initial_state = state.map(|s| json("--state", &s)).transpose()?;
            let reply = service.session_create(SessionCreateRequest { app_name: app, user_id: user, initial_state })?;
            ui.status(format!("Started session {}.", reply.session.id));
            ui.reply(&reply, |r| format!("{}\n", r.session.id))
        }
        SessionCommand::Append { session, event, set, author } => {
            let event = serde_json::from_str(&event).unwrap_or(serde_json::Value::String(event));
            let state_delta = set.map(|s| json("--set", &s)).transpose()?;
            let reply =
                service.session_append(SessionAppendRequest { session_id: session, event, state_delta, author })?;
            ui.reply(&reply, |r| format!("{}\n", r.event_id))
        }
        SessionCommand::Show { session, events } => {
            let reply = service.session_get(SessionIdRequest { session_id: session, events: Some(events) })?;
            ui.reply(&reply, render)
        }
        SessionCommand::List { status } => {
            let status = status.map(|s| if s == "active" { SessionStatus::Active } else { SessionStatus::Ended });
            let reply = service.session_list(status)?;
            ui.reply(&reply, |r| {
                r.sessions
                    .iter()
                    .map(|s| format!("{}  {:?}  {}  {} {}\n", s.id, s.status, s.created_at, s.app_name, s.user_id))
                    .collect::<String>()
            })
        }
        SessionCommand::End { session } => {
            let reply = service.session_end(SessionIdRequest { session_id: session, events: Some(0) })?;
            ui.reply(&reply, render)
        }
    }
}

fn render(d: &SessionDetail) -> String {
    let mut out = block(&[
        ("session", d.session.id.to_string()),
        ("status", format!("{:?}", d.session.status).to_lowercase()),
        ("app", d.session.app_name.clone()),
        ("user", d.session.user_id.clone()),
        ("events", d.event_count.to_string()),
        ("state", serde_json::Value::Object(d.state.clone()).to_string()),
    ]);
    for e in &d.events {
        out.push_str(&format!("  {} {} {}\n", e.at, e.author, e.event));
    }
    out
}
