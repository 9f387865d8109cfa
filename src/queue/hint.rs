//! The claim hint: every ready task as the last full claim ranked it, so that the next claim need not
//! load and rank the whole queue again.
//!
//! Agents tend to claim in bursts (a milestone opens, a swarm starts), and a claim that loads the
//! whole queue costs a one-shot process most of its time. A claim that built the queue's view leaves
//! behind, in `cache/claims.hint`, each ready task's priority terms and dependents. The next
//! claim uses it only when it provably describes the queue now, and then answers exactly what a full
//! claim would:
//!
//! - Every change since is journaled, and all of them are claims or heartbeats (`running`): they take
//!   tasks out of the ready set but change no other task's status, depth or blocking count. The
//!   cache describes the folder exactly (no hand edit, no compaction), which the store checks.
//! - No lease held then or taken since has lapsed, and no retry backoff has ended: either would
//!   make a task ready.
//! - The gates and the priority weights are the same.
//!
//! Priorities depend on the time, so they are computed anew from the stored terms; the chosen
//! task's file is read and checked under the lock as in a full claim. Anything else, or a hint that
//! does not decode, and the claim takes the full path, which writes a fresh hint.

use std::collections::{BinaryHeap, HashMap};

use serde::{Deserialize, Serialize};

use crate::config::PriorityWeights;
use crate::id::Id;
use crate::queue::store::{JournalMark, TaskHead};
use crate::queue::task::Status;
use crate::queue::view::{Derived, GateBlocks, PriorityTerms, QueueView, RankKey};
use crate::time::Timestamp;

/// The first bytes of a hint file: its format. Another format is ignored.
const MAGIC: &[u8; 8] = b"ABHINT01";

/// The ready tasks of one view, with what ranking them needs.
#[derive(Debug, Serialize, Deserialize)]
pub struct ClaimHint {
    /// The journal position the view reflected.
    mark: JournalMark,
    /// The view's agent types and milestones, which the heads' symbols index.
    names: Vec<String>,
    /// Every ready task.
    ready: Vec<ReadyTask>,
    /// When the first lease lapses or the first backoff ends, among the unfinished tasks.
    valid_until: Option<Timestamp>,
    /// The milestones gates closed, and why, sorted; and an escalation's pause.
    gates: (Vec<(String, String)>, Option<String>),
    /// The weights the ranking used.
    weights: PriorityWeights,
}

/// One ready task.
#[derive(Debug, Serialize, Deserialize)]
struct ReadyTask {
    id: Id,
    /// Its agent type, as an index into [`ClaimHint::names`].
    agent_type: u32,
    /// What its priority is computed from.
    terms: PriorityTerms,
    /// Retries used, a lapsed lease counted.
    retry_count: u32,
    dependency_depth: u32,
    /// What waits on it, in id order (for the reply).
    dependents: Vec<Id>,
}

/// A task the hint offers, ranked: what a claim's reply needs beyond the task's file.
pub struct Offer<'a> {
    /// Its id.
    pub id: Id,
    /// The derived figures as a full view would give them now.
    pub derived: Derived,
    /// What waits on it.
    pub dependents: &'a [Id],
}

impl ClaimHint {
    /// The hint for the ready tasks of `view`, built for every agent type (`Scope::Ready(None)`);
    /// `None` when the view cannot be shared (a malformed file, or a view not from the cache).
    pub fn of(view: &QueueView, weights: &PriorityWeights) -> Option<ClaimHint> {
        let mark = view.journal_mark?;
        if !view.problems.is_empty() {
            return None;
        }
        // Finished tasks seldom wait on an unfinished one (only if cancelled or failed first): one pass.
        let mut finished_dependents: HashMap<Id, Vec<Id>> = HashMap::new();
        for t in view.finished.iter().flat_map(|f| f.iter()) {
            for p in t.prerequisites.iter() {
                finished_dependents.entry(*p).or_default().push(t.id);
            }
        }
        let ready = (0..view.heads.len())
            .filter(|&i| view.derived[i].status == Status::Ready)
            .map(|i| {
                let (h, d) = (&view.heads[i], &view.derived[i]);
                let mut dependents: Vec<Id> = view.graph.dependents[i].iter().map(|&j| view.heads[j].id).collect();
                dependents.extend(finished_dependents.get(&h.id).into_iter().flatten());
                dependents.sort_unstable();
                ReadyTask {
                    id: h.id,
                    agent_type: h.agent_type.index() as u32,
                    terms: PriorityTerms::of(h, d),
                    retry_count: d.retry_count,
                    dependency_depth: d.dependency_depth,
                    dependents,
                }
            })
            .collect();
        let valid_until = view
            .heads
            .iter()
            .zip(&view.derived)
            .filter_map(|(h, d)| match d.status {
                Status::Running => h.lease_expires_at, // then it may be claimed again
                Status::Pending => h.not_before,       // backing off: then it is ready
                _ => None,
            })
            .min();
        Some(ClaimHint {
            mark,
            names: view.symbols.names().to_vec(),
            ready,
            valid_until,
            gates: gate_key(&view.gates),
            weights: weights.clone(),
        })
    }

    /// The journal position the hint starts from.
    pub fn mark(&self) -> JournalMark {
        self.mark
    }

    /// Whether the hint still holds at `now` for these gates and weights (the journal is checked by
    /// the caller, with [`crate::queue::store::TaskStore::journaled_since`]).
    pub fn holds(&self, now: Timestamp, gates: &GateBlocks, weights: &PriorityWeights) -> bool {
        self.valid_until.is_none_or(|t| now < t) && self.gates == gate_key(gates) && &self.weights == weights
    }

    /// The ready tasks of `agent_type` (or all) not `taken` since, best first by their priority at
    /// `now`, in a full claim's order ([`RankKey`]). Lazily: a claim usually takes the first.
    pub fn offers<'a>(
        &'a self,
        agent_type: Option<&str>,
        taken: &HashMap<Id, TaskHead>,
        now: Timestamp,
        weights: &PriorityWeights,
    ) -> impl Iterator<Item = Offer<'a>> + 'a {
        let wanted = agent_type.map(|a| self.names.iter().position(|n| n == a));
        let mut ranked: BinaryHeap<Ranked> = self
            .ready
            .iter()
            .enumerate()
            .filter(|(_, r)| wanted.is_none_or(|w| w == Some(r.agent_type as usize)))
            .filter(|(_, r)| !taken.contains_key(&r.id))
            .map(|(at, r)| {
                let priority = r.terms.priority(true, now, weights);
                Ranked { key: RankKey { priority, submitted_at: r.terms.submitted_at, id: r.id }, at }
            })
            .collect();
        std::iter::from_fn(move || ranked.pop()).map(move |Ranked { key, at }| {
            let r = &self.ready[at];
            let mut derived = Derived::ready_alone();
            derived.retry_count = r.retry_count;
            derived.dependency_depth = r.dependency_depth;
            derived.downstream_depth = r.terms.downstream_depth;
            derived.blocking_count = r.terms.blocking_count;
            derived.calculated_priority = key.priority;
            Offer { id: r.id, derived, dependents: &r.dependents }
        })
    }

    /// The hint as stored: format, CRC-32, postcard body.
    pub fn encode(&self) -> Option<Vec<u8>> {
        let body = postcard::to_allocvec(self).ok()?;
        let mut bytes = Vec::with_capacity(body.len() + 12);
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
        bytes.extend_from_slice(&body);
        Some(bytes)
    }

    /// A stored hint, or `None` for anything else (another format, a torn or damaged file).
    pub fn decode(bytes: &[u8]) -> Option<ClaimHint> {
        let body = bytes.strip_prefix(MAGIC.as_slice())?;
        let (sum, body) = body.split_at_checked(4)?;
        if crc32fast::hash(body).to_le_bytes() != sum {
            return None;
        }
        let hint: ClaimHint = postcard::from_bytes(body).ok()?;
        let symbols = hint.names.len();
        hint.ready.iter().all(|r| (r.agent_type as usize) < symbols).then_some(hint)
    }
}

/// A ready task's place in the ranking, for a max-heap: the task ranked first is the greatest.
struct Ranked {
    key: RankKey,
    /// Its position in the hint.
    at: usize,
}

impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        other.key.rank(&self.key)
    }
}

impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Ranked {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for Ranked {}

/// The gates in a comparable form.
fn gate_key(gates: &GateBlocks) -> (Vec<(String, String)>, Option<String>) {
    let mut closed: Vec<(String, String)> = gates.closed.iter().map(|(m, why)| (m.clone(), why.clone())).collect();
    closed.sort_unstable();
    (closed, gates.paused.clone())
}
