//! Agent sessions: a debugging or hand-over thread with an event log and a state, kept as ledger
//! files like the rest (the 2025 implementation's `session_*` tools, on files instead of SQLite).
//!
//! A session is `sessions/<id>.toml` (who, status, initial state) and one file per event under
//! `sessions/<id>/<event id>.toml`, each with an optional `state_delta`. The state is the initial
//! state with every event's delta applied in id order (time order), so an append never rewrites
//! anything: appends from many agents, or from two machines merged by sync, never conflict.

use std::collections::BTreeMap;
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::id::Id;
use crate::queue::task::check_chars;
use crate::service::Service;
use crate::time::Timestamp;

/// Where a session is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    /// Open: events may be appended.
    Active,
    /// Ended: kept for reading; appends are refused.
    Ended,
}

/// A session's file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionRecord {
    /// The session's id; its file name.
    pub id: Id,
    /// The application or role it belongs to (for example `implementation-orchestrator`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub app_name: String,
    /// Who it is for (an agent or a person).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub user_id: String,
    /// Active or ended.
    pub status: SessionStatus,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<Timestamp>,
    /// The state it started with (JSON object text).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub initial_state: String,
}

/// One event of a session's log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionEvent {
    /// The event's id (time-ordered); its file name.
    pub id: Id,
    /// When it was appended.
    pub at: Timestamp,
    /// Who appended it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub author: String,
    /// What happened (JSON text: any value).
    pub event: String,
    /// Keys the event sets in the session's state (JSON object text; a null value removes the key).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub state_delta: String,
}

/// `session_create`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionCreateRequest {
    /// The application or role it belongs to.
    #[serde(default)]
    pub app_name: Option<String>,
    /// Who it is for.
    #[serde(default)]
    pub user_id: Option<String>,
    /// The state to start with (an object).
    #[serde(default)]
    pub initial_state: Option<serde_json::Value>,
}

/// `session_append_event`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionAppendRequest {
    /// The session.
    pub session_id: String,
    /// What happened (any JSON value).
    pub event: serde_json::Value,
    /// Keys to set in the session's state (an object; a null value removes the key).
    #[serde(default)]
    pub state_delta: Option<serde_json::Value>,
    /// Who appends it.
    #[serde(default)]
    pub author: Option<String>,
}

/// `session_get`, `session_end`: one session.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionIdRequest {
    /// The session.
    pub session_id: String,
    /// `session_get` only: the newest events to return (default 50, at most 500).
    #[serde(default)]
    pub events: Option<usize>,
}

/// A session with its state and its latest events.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct SessionDetail {
    /// Its file's fields.
    #[serde(flatten)]
    pub session: SessionRecord,
    /// The state now: the initial state with every event's delta applied in order.
    pub state: serde_json::Map<String, serde_json::Value>,
    /// How many events it has.
    pub event_count: usize,
    /// The newest events, oldest first.
    pub events: Vec<EventReply>,
}

/// An event as replies show it.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct EventReply {
    /// Its id.
    pub id: String,
    /// When.
    pub at: Timestamp,
    /// Who.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub author: String,
    /// What happened.
    pub event: serde_json::Value,
    /// What it set in the state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_delta: Option<serde_json::Value>,
}

/// Reply of `session_append_event`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct AppendReply {
    /// The session.
    pub session_id: String,
    /// The new event's id.
    pub event_id: String,
    /// The state after it.
    pub state: serde_json::Map<String, serde_json::Value>,
}

/// Reply of `session_list`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct SessionList {
    /// Sessions, newest first.
    pub sessions: Vec<SessionRecord>,
}

const MAX_JSON: usize = 64 * 1024;

fn json_text(field: &str, value: &serde_json::Value) -> Result<String> {
    let text = serde_json::to_string(value).expect("a JSON value always serialises");
    if text.len() > MAX_JSON {
        return Err(Error::invalid(field, format!("{field} is {} bytes; at most {MAX_JSON}", text.len())));
    }
    Ok(text)
}

fn object(field: &str, value: Option<&serde_json::Value>) -> Result<Option<String>> {
    match value {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(v @ serde_json::Value::Object(_)) => json_text(field, v).map(Some),
        Some(_) => Err(Error::invalid(field, format!("{field} must be a JSON object of keys to set"))),
    }
}

impl Service {
    fn sessions_dir(&self) -> PathBuf {
        self.ledger.root().join("sessions")
    }

    fn session_path(&self, id: &Id) -> PathBuf {
        self.sessions_dir().join(format!("{id}.toml"))
    }

    fn read_session(&self, text: &str) -> Result<SessionRecord> {
        let id = Id::parse(text.trim())?;
        let path = self.session_path(&id);
        if !path.exists() {
            return Err(Error::not_found("session", text).hint("`abathur session list` shows the sessions"));
        }
        let body = crate::ledger::codec::read_text(&path)?;
        toml::from_str(&body).map_err(|e| Error::malformed(&path, e.message().trim_end()))
    }

    fn session_events(&self, id: &Id) -> Result<Vec<SessionEvent>> {
        let dir = self.sessions_dir().join(id.to_string());
        let mut events = Vec::new();
        for path in crate::ledger::codec::list(&dir, "toml")? {
            let body = crate::ledger::codec::read_text(&path)?;
            let event: SessionEvent =
                toml::from_str(&body).map_err(|e| Error::malformed(&path, e.message().trim_end()))?;
            events.push(event);
        }
        events.sort_by_key(|e| e.id);
        Ok(events)
    }

    fn session_state(
        &self,
        session: &SessionRecord,
        events: &[SessionEvent],
    ) -> serde_json::Map<String, serde_json::Value> {
        let mut state: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&session.initial_state).unwrap_or_default();
        for e in events {
            if let Ok(serde_json::Value::Object(delta)) = serde_json::from_str(&e.state_delta) {
                for (k, v) in delta {
                    if v.is_null() {
                        state.remove(&k);
                    } else {
                        state.insert(k, v);
                    }
                }
            }
        }
        state
    }

    /// `session_create`: a new active session.
    pub fn session_create(&self, req: SessionCreateRequest) -> Result<SessionDetail> {
        let app_name = req.app_name.unwrap_or_default();
        let user_id = req.user_id.unwrap_or_default();
        check_chars("app_name", &app_name, 200)?;
        check_chars("user_id", &user_id, 200)?;
        let initial_state = object("initial_state", req.initial_state.as_ref())?.unwrap_or_default();
        let session = SessionRecord {
            id: Id::generate(),
            app_name,
            user_id,
            status: SessionStatus::Active,
            created_at: self.clock.now(),
            ended_at: None,
            initial_state,
        };
        let _lock = self.ledger.lock()?;
        let text = toml::to_string(&session).expect("a session always serialises");
        self.ledger.write(&self.session_path(&session.id), text.as_bytes())?;
        let state = self.session_state(&session, &[]);
        Ok(SessionDetail { session, state, event_count: 0, events: Vec::new() })
    }

    /// `session_append_event`: one more event, and its state delta. Refused once the session ended.
    pub fn session_append(&self, req: SessionAppendRequest) -> Result<AppendReply> {
        let event = json_text("event", &req.event)?;
        let state_delta = object("state_delta", req.state_delta.as_ref())?.unwrap_or_default();
        let author = req.author.unwrap_or_default();
        check_chars("author", &author, 200)?;
        let _lock = self.ledger.lock()?;
        let session = self.read_session(&req.session_id)?;
        if session.status == SessionStatus::Ended {
            return Err(Error::conflict(format!("session {} has ended; start a new one", session.id)));
        }
        let record = SessionEvent { id: Id::generate(), at: self.clock.now(), author, event, state_delta };
        let dir = self.sessions_dir().join(session.id.to_string());
        let text = toml::to_string(&record).expect("an event always serialises");
        self.ledger.write(&dir.join(format!("{}.toml", record.id)), text.as_bytes())?;
        let events = self.session_events(&session.id)?;
        Ok(AppendReply {
            session_id: session.id.to_string(),
            event_id: record.id.to_string(),
            state: self.session_state(&session, &events),
        })
    }

    /// `session_get`: the session, its state and its newest events.
    pub fn session_get(&self, req: SessionIdRequest) -> Result<SessionDetail> {
        let limit = req.events.unwrap_or(50);
        if limit > 500 {
            return Err(Error::invalid("events", "events is at most 500"));
        }
        let session = self.read_session(&req.session_id)?;
        let events = self.session_events(&session.id)?;
        let state = self.session_state(&session, &events);
        let shown = events
            .iter()
            .skip(events.len().saturating_sub(limit))
            .map(|e| EventReply {
                id: e.id.to_string(),
                at: e.at,
                author: e.author.clone(),
                event: serde_json::from_str(&e.event).unwrap_or(serde_json::Value::String(e.event.clone())),
                state_delta: serde_json::from_str(&e.state_delta).ok(),
            })
            .collect();
        Ok(SessionDetail { event_count: events.len(), session, state, events: shown })
    }

    /// `session_end`: no more events; the session stays readable.
    pub fn session_end(&self, req: SessionIdRequest) -> Result<SessionDetail> {
        {
            let _lock = self.ledger.lock()?;
            let mut session = self.read_session(&req.session_id)?;
            if session.status == SessionStatus::Active {
                session.status = SessionStatus::Ended;
                session.ended_at = Some(self.clock.now());
                let text = toml::to_string(&session).expect("a session always serialises");
                self.ledger.write(&self.session_path(&session.id), text.as_bytes())?;
            }
        }
        self.session_get(req)
    }

    /// `session_list`: every session, newest first (optionally only active or ended ones).
    pub fn session_list(&self, status: Option<SessionStatus>) -> Result<SessionList> {
        let mut sessions: BTreeMap<Id, SessionRecord> = BTreeMap::new();
        for path in crate::ledger::codec::list(&self.sessions_dir(), "toml")? {
            let stem = path.file_stem().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let session = self.read_session(&stem)?;
            if status.is_none_or(|s| s == session.status) {
                sessions.insert(session.id, session);
            }
        }
        Ok(SessionList { sessions: sessions.into_values().rev().collect() })
    }
}
