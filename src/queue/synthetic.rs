//! Synthetic ledgers for benchmarks and demos: realistic shape, written through the real store.
//!
//! Shape of a mature project: 70 % of tasks completed, 20 % waiting and ready, 10 % waiting on 1-3
//! recent tasks (chains and diamonds), spread over milestones M1-M4 and six agent types, with varied
//! priorities, deadlines and sources. A fixed seed makes every run produce the same shape.

use crate::error::Result;
use crate::id::Id;
use crate::queue::store::TaskStore;
use crate::queue::task::{Event, Source, State, TaskRecord};
use crate::time::Timestamp;

/// Agent types the synthetic tasks use.
pub const AGENT_TYPES: [&str; 6] =
    ["schema-implementer", "test-engineer", "api-developer", "vector-integrator", "docs-writer", "reviewer"];

/// A small deterministic generator (xorshift64) for synthetic ledgers and randomised tests: the same
/// seed gives the same sequence on every machine. `seed` must not be 0.
pub fn xorshift(seed: u64) -> impl FnMut() -> u64 {
    let mut state = seed;
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    }
}

/// Writes `n` synthetic tasks submitted from `start` on; returns their ids in creation order.
pub fn seed(store: &TaskStore, n: usize, start: Timestamp) -> Result<Vec<Id>> {
    let sources = [Source::Human, Source::AgentRequirements, Source::AgentPlanner, Source::AgentImplementation];
    let mut next = xorshift(0x2545_F491_4F6C_DD1D);
    let mut ids: Vec<Id> = Vec::with_capacity(n);
    for i in 0..n {
        let id = Id::generate();
        let at = start.plus_seconds(i as f64 * 20.0);
        let roll = next() % 100;
        let (lifecycle, mut prerequisites) = if roll < 70 || ids.is_empty() {
            (if roll < 70 { State::Completed } else { State::Pending }, Vec::new())
        } else if roll < 90 {
            (State::Pending, Vec::new())
        } else {
            let k = 1 + (next() % 3) as usize;
            let picks = (0..k).map(|_| ids[ids.len() - 1 - (next() as usize % ids.len().min(8))]).collect();
            (State::Pending, picks)
        };
        prerequisites.sort();
        prerequisites.dedup();
        let record = TaskRecord {
            id,
            summary: format!("Synthetic task {i}"),
            description: format!(
                "Synthetic task {i} for benchmarks.\n\nImplement part {i} of the milestone deliverables, with tests and docs."
            ),
            source: sources[(next() % 4) as usize],
            agent_type: AGENT_TYPES[(next() % 6) as usize].to_string(),
            base_priority: (next() % 11) as u8,
            prerequisites,
            deadline: next().is_multiple_of(4).then(|| at.plus_seconds(86_400.0 * (next() % 30) as f64)),
            estimated_duration_seconds: Some(600 + next() % 7200),
            milestone: Some(format!("M{}", 1 + i * 4 / n.max(1))),
            parent_task_id: None,
            session_id: None,
            max_retries: 3,
            lease_timeout_seconds: 600,
            created_by: Some("synthetic".into()),
            submitted_at: at,
            last_updated_at: at,
            started_at: None,
            completed_at: (lifecycle == State::Completed).then(|| at.plus_seconds(600.0)),
            state: lifecycle,
            retry_count: 0,
            not_before: None,
            error_message: None,
            input_data: None,
            result_data: None,
            lease: None,
            events: vec![Event { at, event: "created".into(), by: Some("synthetic".into()), note: None }],
        };
        store.write(&record)?;
        ids.push(id);
    }
    Ok(ids)
}
