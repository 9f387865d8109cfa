//! The task as stored: one TOML file per task under `.abathur/tasks/`, holding facts only.
//!
//! The file records what happened (base priority, prerequisites, deadline, lifecycle state, lease,
//! events). What follows from those facts (blocked/ready, calculated priority, depth) is derived at read
//! time in [`crate::queue::view`], so it can never go stale or conflict in a merge.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::id::Id;
use crate::time::Timestamp;

pub use crate::fields::{check_chars, validate_milestone, validate_name};

/// Longest summary, in characters.
pub const MAX_SUMMARY: usize = 140;
/// Longest description, in characters.
pub const MAX_DESCRIPTION: usize = 10_000;
/// Largest `input_data` / `result_data`, in bytes of JSON.
pub const MAX_DATA_BYTES: usize = 64 * 1024;
/// Longest error message kept, in characters.
pub const MAX_ERROR_MESSAGE: usize = 10_000;
/// Most prerequisites one task may have.
pub const MAX_PREREQUISITES: usize = 100;

/// Who asked for the task; part of its priority.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
pub enum Source {
    /// A person.
    Human,
    /// An agent gathering requirements.
    AgentRequirements,
    /// An agent planning work.
    AgentPlanner,
    /// An implementing agent.
    AgentImplementation,
}

impl Source {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Human => "human",
            Source::AgentRequirements => "agent_requirements",
            Source::AgentPlanner => "agent_planner",
            Source::AgentImplementation => "agent_implementation",
        }
    }
}

/// The seven statuses agents know. `blocked` and `ready` (and `pending` while a retry backs off) are
/// derived from a waiting task's prerequisites; the others are stored.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
    clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Waiting, not yet eligible: a retry is backing off.
    Pending,
    /// Waiting on a prerequisite (or a closed gate).
    Blocked,
    /// Waiting and claimable.
    Ready,
    /// Claimed under a lease.
    Running,
    /// Done, with a result.
    Completed,
    /// Failed for good.
    Failed,
    /// Cancelled, directly or by cascade.
    Cancelled,
}

impl From<State> for Status {
    /// The status of a stored state before anything is derived (a pending task may be ready or blocked).
    fn from(state: State) -> Status {
        match state {
            State::Pending => Status::Pending,
            State::Running => Status::Running,
            State::Completed => Status::Completed,
            State::Failed => Status::Failed,
            State::Cancelled => Status::Cancelled,
        }
    }
}

impl Status {
    /// All seven, in lifecycle order.
    pub const ALL: [Status; 7] = [
        Status::Pending,
        Status::Blocked,
        Status::Ready,
        Status::Running,
        Status::Completed,
        Status::Failed,
        Status::Cancelled,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Blocked => "blocked",
            Status::Ready => "ready",
            Status::Running => "running",
            Status::Completed => "completed",
            Status::Failed => "failed",
            Status::Cancelled => "cancelled",
        }
    }

    /// Whether nothing can happen to the task any more.
    pub fn is_terminal(self) -> bool {
        matches!(self, Status::Completed | Status::Failed | Status::Cancelled)
    }
}

/// The lifecycle state stored in the file. `Pending` covers the derived pending/blocked/ready.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Waiting to be claimed.
    Pending,
    /// Claimed under a lease.
    Running,
    /// Finished with a result.
    Completed,
    /// Failed for good.
    Failed,
    /// Cancelled.
    Cancelled,
}

impl State {
    /// Whether the task has finished, one way or another.
    pub fn is_terminal(self) -> bool {
        matches!(self, State::Completed | State::Failed | State::Cancelled)
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Running => "running",
            State::Completed => "completed",
            State::Failed => "failed",
            State::Cancelled => "cancelled",
        }
    }

    /// Refuses an illegal transition with a message saying what is allowed instead.
    pub fn check_transition(self, to: State, id: &Id) -> Result<()> {
        use State::*;
        let legal = matches!(
            (self, to),
            (Pending, Running)
                | (Pending, Cancelled)
                | (Running, Completed)
                | (Running, Failed)
                | (Running, Pending)
                | (Running, Cancelled)
        );
        if legal {
            return Ok(());
        }
        let why = match self {
            Completed | Failed | Cancelled => {
                format!("task {id} is already {}; a finished task cannot change", self.as_str())
            }
            Pending => format!("task {id} is waiting, not running; claim it before marking it {}", to.as_str()),
            Running => format!("task {id} is running; it cannot become {}", to.as_str()),
        };
        Err(Error::conflict(why))
    }
}

/// A claim on a running task; it expires unless renewed by a heartbeat.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Lease {
    /// Token the claimant presents to heartbeat, complete or fail.
    pub lease_id: String,
    /// Who holds it (agent name).
    pub holder: String,
    /// When it was taken.
    pub claimed_at: Timestamp,
    /// When it was last renewed.
    pub renewed_at: Timestamp,
    /// When it lapses unless renewed.
    pub expires_at: Timestamp,
}

/// One lifecycle event in the task's history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Event {
    /// When it happened.
    pub at: Timestamp,
    /// What happened: created, claimed, completed, retried, failed, cancelled, expired, updated.
    pub event: String,
    /// Who did it, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// Detail, such as an error message or the cause of a cascade.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A task file. Field order here is the key order on disk.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskRecord {
    /// Full id; must match the file name.
    pub id: Id,
    /// One-line label, at most 140 characters.
    pub summary: String,
    /// What to do, at most 10,000 characters.
    pub description: String,
    /// Who asked for it.
    pub source: Source,
    /// The agent definition that should run it.
    pub agent_type: String,
    /// 0..=10, set by whoever enqueued it.
    pub base_priority: u8,
    /// Tasks that must complete first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prerequisites: Vec<Id>,
    /// When it should be done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<Timestamp>,
    /// Expected effort.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_duration_seconds: Option<u64>,
    /// The milestone whose gate governs it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub milestone: Option<String>,
    /// The task that spawned it (lineage, not a dependency).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_task_id: Option<Id>,
    /// The agent session it belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<Id>,
    /// Retries allowed before it fails for good.
    pub max_retries: u32,
    /// Lease length for claims of this task.
    pub lease_timeout_seconds: u64,
    /// Who enqueued it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// When it was enqueued.
    pub submitted_at: Timestamp,
    /// When the file last changed.
    pub last_updated_at: Timestamp,
    /// When it was last claimed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Timestamp>,
    /// When it finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<Timestamp>,
    /// Stored lifecycle state.
    pub state: State,
    /// Retries used so far.
    pub retry_count: u32,
    /// A retrying task is not claimable before this instant (backoff).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<Timestamp>,
    /// Why the last attempt failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    /// Free-form input, kept exactly as given (JSON text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_data: Option<String>,
    /// Free-form result, kept exactly as given (JSON text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_data: Option<String>,
    /// The current claim, while running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease: Option<Lease>,
    /// Lifecycle history, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<Event>,
}

impl TaskRecord {
    /// A new waiting task: a fresh id, every lifecycle field at its start, and the project's
    /// defaults; callers then set what their request specifies.
    pub fn new_waiting(description: String, now: Timestamp, defaults: &crate::config::QueueConfig) -> TaskRecord {
        TaskRecord {
            id: Id::generate(),
            summary: summary_from_description(&description),
            description,
            source: Source::Human,
            agent_type: defaults.default_agent_type.clone(),
            base_priority: 5,
            prerequisites: Vec::new(),
            deadline: None,
            estimated_duration_seconds: None,
            milestone: None,
            parent_task_id: None,
            session_id: None,
            max_retries: defaults.max_retries,
            lease_timeout_seconds: defaults.lease_timeout_seconds,
            created_by: None,
            submitted_at: now,
            last_updated_at: now,
            started_at: None,
            completed_at: None,
            state: State::Pending,
            retry_count: 0,
            not_before: None,
            error_message: None,
            input_data: None,
            result_data: None,
            lease: None,
            events: Vec::new(),
        }
    }

    /// Parses a task file and checks every field, naming the file and field on error.
    pub fn from_toml(text: &str, path: &std::path::Path) -> Result<TaskRecord> {
        let record: TaskRecord = toml::from_str(text).map_err(|e| {
            let mut msg = e.message().trim_end().to_string();
            if let Some(span) = e.span() {
                let start = span.start.min(text.len());
                let line = text[..start].matches('\n').count() + 1;
                let line_text = text[..start].rsplit('\n').next().unwrap_or("").to_string()
                    + text[start..].split('\n').next().unwrap_or("");
                match line_text.split_once('=').map(|(k, _)| k.trim()).filter(|k| !k.is_empty() && !k.starts_with('#'))
                {
                    Some(key) if !msg.contains(key) => msg = format!("line {line}, field `{key}`: {msg}"),
                    _ => msg = format!("line {line}: {msg}"),
                }
            }
            Error::malformed(path, msg)
        })?;
        record.validate().map_err(|e| Error::malformed(path, e.message))?;
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        if stem != record.id.to_string() {
            return Err(Error::malformed(
                path,
                format!("field `id` is {} but the file is named {stem}.toml; they must match", record.id),
            ));
        }
        Ok(record)
    }

    /// The canonical text: stable key order and formatting, so re-saving changes no byte.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("a task record always serialises to TOML")
    }

    /// Checks every field's range and size.
    pub fn validate(&self) -> Result<()> {
        check_chars("summary", &self.summary, MAX_SUMMARY)?;
        if self.summary.contains(['\n', '\r']) {
            return Err(Error::invalid("summary", "summary must be a single line"));
        }
        if self.description.trim().is_empty() {
            return Err(Error::invalid("description", "description is required and cannot be blank"));
        }
        check_chars("description", &self.description, MAX_DESCRIPTION)?;
        validate_name("agent_type", &self.agent_type)?;
        if self.base_priority > 10 {
            return Err(Error::invalid(
                "base_priority",
                format!("base_priority {} is out of range; use 0 to 10", self.base_priority),
            ));
        }
        if self.prerequisites.len() > MAX_PREREQUISITES {
            return Err(Error::invalid(
                "prerequisites",
                format!("{} prerequisites; at most {MAX_PREREQUISITES} are allowed", self.prerequisites.len()),
            ));
        }
        if self.prerequisites.contains(&self.id) {
            return Err(Error::cycle(&[self.id.to_string(), self.id.to_string()]));
        }
        if let Some(m) = &self.milestone {
            validate_milestone(m)?;
        }
        if let Some(by) = &self.created_by {
            check_chars("created_by", by, 200)?;
        }
        if let Some(msg) = &self.error_message {
            check_chars("error_message", msg, MAX_ERROR_MESSAGE)?;
        }
        for (field, data) in [("input_data", &self.input_data), ("result_data", &self.result_data)] {
            if let Some(data) = data {
                check_json(field, data)?;
            }
        }
        if self.lease_timeout_seconds == 0 {
            return Err(Error::invalid("lease_timeout_seconds", "lease_timeout_seconds must be at least 1"));
        }
        match (&self.state, &self.lease) {
            (State::Running, None) => {
                return Err(Error::invalid("lease", "a running task must have a [lease] table"));
            }
            (s, Some(_)) if *s != State::Running => {
                return Err(Error::invalid(
                    "lease",
                    format!("a {} task cannot hold a lease; remove the [lease] table", s.as_str()),
                ));
            }
            _ => {}
        }
        Ok(())
    }

    /// Appends a lifecycle event and stamps the update time.
    pub fn record_event(&mut self, at: Timestamp, event: &str, by: Option<&str>, note: Option<String>) {
        self.last_updated_at = at;
        self.events.push(Event { at, event: event.to_string(), by: by.map(str::to_string), note });
    }
}

/// Checks that `text` is JSON of reasonable size.
pub fn check_json(field: &str, text: &str) -> Result<()> {
    if text.len() > MAX_DATA_BYTES {
        return Err(Error::invalid(
            field,
            format!("{field} is {} bytes; at most {MAX_DATA_BYTES} are allowed", text.len()),
        ));
    }
    serde_json::from_str::<serde_json::Value>(text)
        .map(|_| ())
        .map_err(|e| Error::invalid(field, format!("{field} is not valid JSON: {e}")))
}

/// The summary shown when none is given: the description's first line, cut to 140 characters.
pub fn summary_from_description(description: &str) -> String {
    let first = description.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("Task");
    if first.chars().count() <= MAX_SUMMARY {
        first.to_string()
    } else {
        let mut cut: String = first.chars().take(MAX_SUMMARY - 1).collect();
        cut.push('…');
        cut
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> TaskRecord {
        let now = Timestamp::parse("2026-11-24T08:00:00Z").unwrap();
        TaskRecord {
            id: Id::parse("01jdq1y7k3m0000000000000aa").unwrap(),
            summary: "Write the schema".into(),
            description: "Line one\nLine \"two\" with 'quotes' and a \\ backslash\n".into(),
            source: Source::Human,
            agent_type: "database-schema-implementer".into(),
            base_priority: 7,
            prerequisites: vec![Id::parse("01jdq1y7k3m0000000000000ab").unwrap()],
            deadline: Some(now.plus_seconds(3600.0)),
            estimated_duration_seconds: Some(1800),
            milestone: Some("M1".into()),
            parent_task_id: None,
            session_id: None,
            max_retries: 3,
            lease_timeout_seconds: 600,
            created_by: Some("orchestrator".into()),
            submitted_at: now,
            last_updated_at: now,
            started_at: None,
            completed_at: None,
            state: State::Running,
            retry_count: 0,
            not_before: None,
            error_message: None,
            input_data: Some(r#"{"b":1,"a":[null,true,"x"]}"#.into()),
            result_data: None,
            lease: Some(Lease {
                lease_id: "l1".into(),
                holder: "agent-1".into(),
                claimed_at: now,
                renewed_at: now,
                expires_at: now,
            }),
            events: vec![Event { at: now, event: "created".into(), by: None, note: None }],
        }
    }

    #[test]
    fn canonical_toml_round_trips_byte_for_byte() {
        let record = sample();
        let text = record.to_toml();
        let path = std::path::PathBuf::from(format!("{}.toml", record.id));
        let back = TaskRecord::from_toml(&text, &path).unwrap();
        assert_eq!(back, record);
        assert_eq!(back.to_toml(), text);
    }

    #[test]
    fn transitions_are_enforced() {
        let id = Id::generate();
        assert!(State::Pending.check_transition(State::Running, &id).is_ok());
        assert!(State::Completed.check_transition(State::Cancelled, &id).is_err());
        assert!(State::Pending.check_transition(State::Completed, &id).is_err());
        assert!(State::Cancelled.check_transition(State::Running, &id).is_err());
    }

    #[test]
    fn malformed_files_name_the_field() {
        let text = sample().to_toml().replace("base_priority = 7", "base_priority = 70");
        let err = TaskRecord::from_toml(&text, std::path::Path::new("01jdq1y7k3m0000000000000aa.toml")).unwrap_err();
        assert!(err.message.contains("base_priority"), "{}", err.message);
        let err = TaskRecord::from_toml("id = 3", std::path::Path::new("x.toml")).unwrap_err();
        assert!(err.message.contains("x.toml"), "{}", err.message);
    }

    #[test]
    fn summary_is_derived_from_the_first_line() {
        assert_eq!(summary_from_description("\n  Fix it  \nmore"), "Fix it");
        assert_eq!(summary_from_description(&"x".repeat(300)).chars().count(), MAX_SUMMARY);
    }
}
