//! The field-wise merge of ledger files, run in process by `abathur sync` (docs/storage.md).
//!
//! A line merge treats a task file as text, so two machines that touch neighbouring lines of one
//! task conflict, and a conflict it does not see can leave an invalid file. This merges by field
//! instead (TOML files, and the TOML front matter of Markdown files):
//!
//! - a field changed on one side only takes that side's value;
//! - `events` are the union of both sides, in time order; `prerequisites` merge as sets (an addition
//!   or removal on either side is kept);
//! - competing lifecycle changes (state, lease, timestamps, result, retries) resolve as a group by
//!   lifecycle order (a finished task beats a running one, which beats a waiting one; among equals the
//!   later `last_updated_at`), so a completion is never undone by a branch that only claimed the task;
//! - other values changed on both sides take the later side (by `last_updated_at`), and the task's
//!   event log records the value that lost;
//! - free text changed differently on both sides (description, summary, title, rationale, a Markdown
//!   body's same lines) is a conflict with git's markers: never a silent loss.

use toml::{Table, Value};

use crate::error::{Error, ErrorKind, Result};

/// Keys whose values are prose: both sides changing them differently is a conflict.
const FREE_TEXT: [&str; 6] = ["description", "summary", "title", "rationale", "context", "consequences"];
/// A task's lifecycle: these move together, resolved as one group.
const LIFECYCLE: [&str; 10] = [
    "state",
    "started_at",
    "completed_at",
    "retry_count",
    "not_before",
    "error_message",
    "result_data",
    "lease",
    "last_updated_at",
    "status",
];

/// The outcome of merging one file.
pub struct Merged {
    /// The merged text (with conflict markers when `conflicts` is not empty).
    pub text: String,
    /// Fields (or body regions) both sides changed differently.
    pub conflicts: Vec<String>,
}

/// Merges three versions of the ledger file at `path`.
pub fn merge_file(path: &str, base: &str, ours: &str, theirs: &str) -> Result<Merged> {
    if path.ends_with(".toml") {
        let parse = |t: &str, side: &str| {
            t.parse::<Table>()
                .map_err(|e| Error::new(ErrorKind::Validation, format!("{path} ({side}): {}", e.message())))
        };
        let (b, o, t) = (parse(base, "base")?, parse(ours, "ours")?, parse(theirs, "theirs")?);
        let (table, conflicts) = merge_tables(&b, &o, &t);
        return Ok(render_toml(path, table, conflicts));
    }
    // Markdown with TOML front matter: the front matter by field, the body by line.
    let split = |t: &str| -> Option<(Table, String)> {
        let (front, body) = crate::ledger::codec::split_front_matter(t, "+++")?;
        Some((front.parse().ok()?, body.trim_start_matches(['\r', '\n']).to_string()))
    };
    match (split(base), split(ours), split(theirs)) {
        (Some((fb, bb)), Some((fo, bo)), Some((ft, bt))) => {
            let (table, field_conflicts) = merge_tables(&fb, &fo, &ft);
            let front = render_toml(path, table, field_conflicts);
            let mut conflicts = front.conflicts;
            let (body, clean) = merge_lines(&bb, &bo, &bt)?;
            if !clean {
                conflicts.push("body".into());
            }
            Ok(Merged { text: format!("+++\n{}+++\n\n{body}", front.text), conflicts })
        }
        _ => {
            let (text, clean) = merge_lines(base, ours, theirs)?;
            Ok(Merged { text, conflicts: if clean { Vec::new() } else { vec!["text".into()] } })
        }
    }
}

/// Field-wise three-way merge; returns the merged table and, for each conflict, its key with both values.
fn merge_tables(base: &Table, ours: &Table, theirs: &Table) -> (Table, Vec<(String, Value, Value)>) {
    let mut merged = ours.clone();
    let mut conflicts = Vec::new();
    let mut lost = Vec::new();
    let later_is_theirs = stamp(theirs) > stamp(ours);
    // The lifecycle group: if both sides moved it differently, one side wins it whole.
    let lifecycle_differs = |a: &Table, b: &Table| LIFECYCLE.iter().any(|k| a.get(*k) != b.get(*k));
    let both_moved =
        lifecycle_differs(base, ours) && lifecycle_differs(base, theirs) && lifecycle_differs(ours, theirs);
    let lifecycle_from_theirs = if both_moved {
        (rank(theirs), stamp(theirs)) > (rank(ours), stamp(ours))
    } else {
        lifecycle_differs(base, theirs)
    };
    if both_moved && ours.contains_key("state") {
        // Two machines finished (or moved) the task differently: one outcome wins, the other is kept
        // in the event log, result included, so no work is dropped silently.
        let (winner, loser) = if lifecycle_from_theirs { (theirs, ours) } else { (ours, theirs) };
        let outcome = |t: &Table| {
            let result = t.get("result_data").map(|r| format!(" with result {r}")).unwrap_or_default();
            format!("{}{result}", show(t.get("state")))
        };
        lost.push(format!("lifecycle: kept {} over {}", outcome(winner), outcome(loser)));
    }
    let keys: std::collections::BTreeSet<&String> = base.keys().chain(ours.keys()).chain(theirs.keys()).collect();
    for key in keys {
        let (b, o, t) = (base.get(key), ours.get(key), theirs.get(key));
        if LIFECYCLE.contains(&key.as_str()) && ours.contains_key("state") {
            set(&mut merged, key, if lifecycle_from_theirs { t } else { o });
            continue;
        }
        if o == t || t == b {
            continue; // merged already holds ours
        }
        if o == b {
            set(&mut merged, key, t);
            continue;
        }
        match key.as_str() {
            "events" => set(&mut merged, key, Some(&union_events(b, o, t))),
            "prerequisites" | "tasks" | "milestones" | "gates" | "supersedes" | "acceptance_criteria" => {
                set(&mut merged, key, Some(&merge_sets(b, o, t)))
            }
            k if FREE_TEXT.contains(&k) => {
                conflicts.push((
                    key.clone(),
                    o.cloned().unwrap_or(Value::String(String::new())),
                    t.cloned().unwrap_or(Value::String(String::new())),
                ));
            }
            _ => {
                let (winner, loser) = if later_is_theirs { (t, o) } else { (o, t) };
                set(&mut merged, key, winner);
                lost.push(format!("{key}: kept {} over {}", show(winner), show(loser)));
            }
        }
    }
    if !lost.is_empty()
        && let Some(Value::Array(events)) = merged.get_mut("events")
    {
        let mut note = Table::new();
        note.insert("at".into(), merged_stamp(ours, theirs));
        note.insert("event".into(), Value::String("merged".into()));
        note.insert("note".into(), Value::String(format!("both sides changed it; {}", lost.join("; "))));
        events.push(Value::Table(note));
    }
    (merged, conflicts)
}

fn show(v: Option<&Value>) -> String {
    v.map_or("nothing".into(), |v| v.to_string())
}

fn set(table: &mut Table, key: &str, value: Option<&Value>) {
    match value {
        Some(v) => {
            table.insert(key.to_string(), v.clone());
        }
        None => {
            table.remove(key);
        }
    }
}

/// `last_updated_at` (or `updated_at`), as text: canonical timestamps sort as text.
fn stamp(t: &Table) -> String {
    ["last_updated_at", "updated_at", "decided_at"]
        .iter()
        .find_map(|k| t.get(*k).and_then(Value::as_str))
        .unwrap_or("")
        .to_string()
}

fn merged_stamp(ours: &Table, theirs: &Table) -> Value {
    Value::String(stamp(ours).max(stamp(theirs)))
}

/// Lifecycle order: finished beats running beats waiting; completion beats failure beats cancellation.
fn rank(t: &Table) -> u8 {
    match t.get("state").and_then(Value::as_str) {
        Some("completed") => 5,
        Some("failed") => 4,
        Some("cancelled") => 3,
        Some("running") => 2,
        Some(_) => 1,
        None => 0,
    }
}

fn merge_sets(base: Option<&Value>, ours: Option<&Value>, theirs: Option<&Value>) -> Value {
    let items = |v: Option<&Value>| v.and_then(Value::as_array).cloned().unwrap_or_default();
    let (b, o, t) = (items(base), items(ours), items(theirs));
    let mut out: Vec<Value> = Vec::new();
    for v in o.iter().chain(&t) {
        let removed = b.contains(v) && (!o.contains(v) || !t.contains(v));
        if !removed && !out.contains(v) {
            out.push(v.clone());
        }
    }
    Value::Array(out)
}

fn union_events(base: Option<&Value>, ours: Option<&Value>, theirs: Option<&Value>) -> Value {
    let items = |v: Option<&Value>| v.and_then(Value::as_array).cloned().unwrap_or_default();
    let mut out = items(base);
    for v in items(ours).into_iter().chain(items(theirs)) {
        if !out.contains(&v) {
            out.push(v);
        }
    }
    let at = |v: &Value| v.get("at").and_then(Value::as_str).unwrap_or("").to_string();
    out.sort_by_key(at);
    Value::Array(out)
}

/// The merged table as TOML; a task goes through its typed record so the file stays canonical.
fn render_toml(path: &str, table: Table, conflicts: Vec<(String, Value, Value)>) -> Merged {
    let mut table = table;
    let mut head = String::new();
    let mut names = Vec::new();
    for (key, o, t) in &conflicts {
        table.remove(key);
        let line = |v: &Value| {
            let mut one = Table::new();
            one.insert(key.clone(), v.clone());
            toml::to_string(&one).unwrap_or_default()
        };
        head.push_str(&format!(
            "<<<<<<< ours (abathur: both branches changed `{key}`)\n{}=======\n{}>>>>>>> theirs\n",
            line(o),
            line(t)
        ));
        names.push(key.clone());
    }
    let canonical = (path.contains("tasks/") && conflicts.is_empty())
        .then(|| toml::to_string(&table).ok())
        .flatten()
        .and_then(|text| crate::queue::task::TaskRecord::from_toml(&text, std::path::Path::new(path)).ok())
        .map(|record| record.to_toml());
    let body = canonical.unwrap_or_else(|| toml::to_string(&table).unwrap_or_default());
    Merged { text: format!("{head}{body}"), conflicts: names }
}

/// Line-wise three-way merge (libgit2's, in process); returns the text and whether it merged cleanly.
fn merge_lines(base: &str, ours: &str, theirs: &str) -> Result<(String, bool)> {
    fn input(text: &str) -> git2::MergeFileInput<'_> {
        let mut input = git2::MergeFileInput::new();
        input.content(text.as_bytes());
        input
    }
    let (b, o, t) = (input(base), input(ours), input(theirs));
    let mut options = git2::MergeFileOptions::new();
    options.ancestor_label("base").our_label("ours").their_label("theirs");
    let merged = git2::merge_file(&b, &o, &t, Some(&mut options))
        .map_err(|e| Error::new(ErrorKind::Internal, format!("merging lines: {}", e.message())))?;
    Ok((String::from_utf8_lossy(merged.content()).into_owned(), merged.is_automergeable()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "id = \"01m8syzs3yv4mj0xed2pz57fjk\"\nsummary = \"Y\"\ndescription = \"Y\"\nsource = \"human\"\nagent_type = \"x\"\nbase_priority = 5\nmax_retries = 3\nlease_timeout_seconds = 600\nsubmitted_at = \"2026-12-01T23:27:59.089Z\"\nlast_updated_at = \"2026-12-01T23:27:59.089Z\"\nstate = \"pending\"\nretry_count = 0\n\n[[events]]\nat = \"2026-12-01T23:27:59.089Z\"\nevent = \"created\"\n";

    fn completed(by: &str, at: &str) -> String {
        BASE.replace(
            "last_updated_at = \"2026-12-01T23:27:59.089Z\"",
            &format!("last_updated_at = \"{at}\"\nstarted_at = \"{at}\"\ncompleted_at = \"{at}\""),
        )
        .replace("state = \"pending\"", "state = \"completed\"")
        .replace("retry_count = 0\n", &format!("retry_count = 0\nresult_data = '{{\"by\":\"{by}\"}}'\n"))
            + &format!("\n[[events]]\nat = \"{at}\"\nevent = \"completed\"\nby = \"{by}\"\n")
    }

    #[test]
    fn two_completions_keep_the_losing_result_in_the_events() {
        let ours = completed("two", "2026-12-01T23:28:00.000Z");
        let theirs = completed("one", "2026-12-01T23:27:59.500Z");
        let merged = merge_file("tasks/01m8syzs3yv4mj0xed2pz57fjk.toml", BASE, &ours, &theirs).unwrap();
        assert!(merged.conflicts.is_empty());
        assert!(merged.text.contains(r#"result_data = '{"by":"two"}'"#), "{}", merged.text);
        assert!(merged.text.contains(r#"over "completed" with result '{"by":"one"}'"#), "{}", merged.text);
    }
}
