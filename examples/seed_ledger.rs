//! Seeds a ledger with N synthetic tasks for benchmarks: `seed_ledger DIR N`.
//!
//! Shape (a mature project): 70 % completed, 20 % waiting and ready, 10 % waiting on chains of
//! prerequisites up to 5 deep, spread over 4 milestones and 6 agent types, with varied priorities,
//! deadlines and sources. Files are written through the real store, so they are canonical.

use abathur::id::Id;
use abathur::ledger::Ledger;
use abathur::queue::store::TaskStore;
use abathur::queue::task::{Event, Source, State, TaskRecord};
use abathur::time::Timestamp;

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(args.next().expect("usage: seed_ledger DIR N"));
    let n: usize = args.next().and_then(|s| s.parse().ok()).expect("usage: seed_ledger DIR N");
    let (ledger, _) = Ledger::init(&dir).expect("init");
    let store = TaskStore::new(&ledger);
    let start = Timestamp::parse("2026-11-01T00:00:00Z").unwrap();
    let agents = ["schema-implementer", "test-engineer", "api-developer", "vector-integrator", "docs-writer", "reviewer"];
    let sources = [Source::Human, Source::AgentRequirements, Source::AgentPlanner, Source::AgentImplementation];
    let mut ids: Vec<Id> = Vec::with_capacity(n);
    let mut rng = 0x2545F4914F6CDD1Du64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    for i in 0..n {
        let id = Id::generate();
        let at = start.plus_seconds(i as f64 * 20.0);
        let roll = next() % 100;
        let (state, prerequisites) = if roll < 70 {
            (State::Completed, vec![])
        } else if roll < 90 {
            (State::Pending, vec![])
        } else {
            // Waits on 1-3 recent tasks, which forms chains and diamonds.
            let k = 1 + (next() % 3) as usize;
            let mut p: Vec<Id> = (0..k.min(ids.len())).map(|j| ids[ids.len() - 1 - j * (1 + (next() % 4) as usize).min(ids.len() - 1)].clone()).collect();
            p.sort();
            p.dedup();
            (State::Pending, p)
        };
        let record = TaskRecord {
            id: id.clone(),
            summary: format!("Synthetic task {i}"),
            description: format!("Synthetic task {i} for benchmarks.\n\nImplement part {i} of the milestone deliverables, with tests and docs. {}", "Lorem ipsum dolor sit amet. ".repeat(8)),
            source: sources[(next() % 4) as usize],
            agent_type: agents[(next() % 6) as usize].to_string(),
            base_priority: (next() % 11) as u8,
            prerequisites,
            deadline: if next() % 4 == 0 { Some(at.plus_seconds(86_400.0 * (next() % 30) as f64)) } else { None },
            estimated_duration_seconds: Some(600 + next() % 7200),
            milestone: Some(format!("M{}", 1 + i * 4 / n.max(1))),
            parent_task_id: None,
            max_retries: 3,
            lease_timeout_seconds: 600,
            created_by: Some("seed".into()),
            submitted_at: at,
            last_updated_at: at,
            started_at: None,
            completed_at: if state == State::Completed { Some(at.plus_seconds(600.0)) } else { None },
            state,
            retry_count: 0,
            not_before: None,
            error_message: None,
            input_data: None,
            result_data: None,
            lease: None,
            events: vec![Event { at, event: "created".into(), by: Some("seed".into()), note: None }],
        };
        store.write(&record).expect("write");
        ids.push(id);
    }
    println!("{}", ledger.root().display());
}
