//! What the facts in the task files mean right now: status, blocked reasons, depth, priority.
//!
//! Nothing here is stored. A [`QueueView`] is computed from the task heads and the clock each time it
//! is needed, so a derived value can never be stale, and an expired lease is seen as expired by every
//! reader at once without any daemon (the next writer makes it permanent; see `service`).

use std::collections::HashMap;

use crate::config::PriorityWeights;
use crate::id::Id;
use crate::queue::api::{BlockReason, BlockedBy};
use crate::queue::graph::Graph;
use crate::queue::store::{Heads, JournalMark, Symbols, TaskHead};
use crate::queue::task::{Source, State, Status};
use crate::time::Timestamp;

/// Milestones whose tasks may not be claimed yet, with the reason; filled by the gate module.
#[derive(Clone, Debug, Default)]
pub struct GateBlocks {
    /// Milestone id → why its tasks are blocked.
    pub closed: HashMap<String, String>,
    /// The milestones defined in the ledger.
    pub known: std::collections::HashSet<String>,
    /// Why a task of a milestone that is not defined is blocked (set whenever milestones are
    /// defined, or a milestone file cannot be read): such a task never slips past a gate.
    pub unknown: Option<String>,
    /// Set while an escalation (or a gate record that cannot be read) pauses every claim.
    pub paused: Option<String>,
}

impl GateBlocks {
    /// Why tasks of `milestone` are held, if they are.
    pub fn holds(&self, milestone: &str) -> Option<&String> {
        self.closed.get(milestone).or(self.unknown.as_ref().filter(|_| !self.known.contains(milestone)))
    }
}

/// One reason a waiting task is not ready; formatted only when shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Blocker {
    /// A prerequisite is not completed (it may be running, waiting, failed or cancelled).
    Prerequisite(Id, State),
    /// A prerequisite names no task in the ledger.
    Missing(Id),
    /// The task's milestone is behind a closed gate.
    Gate(crate::queue::store::Sym),
    /// An escalation pauses every claim.
    Paused,
}

impl Blocker {
    /// Whether only prerequisites (not a gate or a pause) hold the task back.
    pub fn is_prerequisite(self) -> bool {
        matches!(self, Blocker::Prerequisite(..) | Blocker::Missing(_))
    }
}

/// Derived facts about one task.
#[derive(Clone, Debug)]
pub struct Derived {
    /// One of the seven statuses.
    pub status: Status,
    /// Stored state after applying an expired lease.
    pub state: State,
    /// Retry count after applying an expired lease.
    pub retry_count: u32,
    /// Whether the stored lease has lapsed.
    pub lease_expired: bool,
    /// Why a waiting task is not ready (empty when ready).
    pub blocked_by: Vec<Blocker>,
    /// 0..=100, see docs/priority.md; 0 once the task is finished.
    pub calculated_priority: f64,
    /// Longest chain of unfinished prerequisites above the task.
    pub dependency_depth: u32,
    /// Longest chain of unfinished dependents below the task (its critical path).
    pub downstream_depth: u32,
    /// Unfinished tasks waiting, directly or transitively, on this one.
    pub blocking_count: u32,
}

impl Derived {
    /// A waiting task with nothing unfinished above or below it: ready, and its own only influence
    /// on priority. What a new task with no open prerequisites is.
    pub fn ready_alone() -> Derived {
        Derived {
            status: Status::Ready,
            state: State::Pending,
            retry_count: 0,
            lease_expired: false,
            blocked_by: vec![],
            calculated_priority: 0.0,
            dependency_depth: 0,
            downstream_depth: 0,
            blocking_count: 0,
        }
    }
}

/// Every task with its derived facts, indexed for lookups.
#[derive(Debug)]
pub struct QueueView {
    /// Task heads sorted by id.
    pub heads: std::sync::Arc<Vec<TaskHead>>,
    /// `derived[i]` belongs to `heads[i]`.
    pub derived: Vec<Derived>,
    /// Prerequisite edges between known tasks.
    pub graph: Graph,
    /// The agent types and milestones the heads refer to.
    pub symbols: std::sync::Arc<Symbols>,
    /// The journal position the heads reflect (see [`crate::queue::store::TaskStore::changed_since`]).
    pub journal_mark: Option<JournalMark>,
    /// Files that could not be read.
    pub problems: Vec<crate::error::Error>,
    /// The gates the view was derived with.
    pub gates: GateBlocks,
}

/// Which tasks a view works out depth, downstream work and priority for. Status and blocked reasons
/// are always derived for every task; the graph work is what a single-task read can skip.
#[derive(Clone, Copy, Debug)]
pub enum Scope<'a> {
    /// Every task (lists, queue status, claims, plans).
    All,
    /// Only the ready tasks, of one agent type when given (what a claim ranks); every other task
    /// reads 0.
    Ready(Option<&'a str>),
}

impl QueueView {
    /// Derives everything from `heads` as of `now`.
    pub fn build(heads: Heads, now: Timestamp, weights: &PriorityWeights, gates: &GateBlocks) -> QueueView {
        QueueView::build_scoped(heads, now, weights, gates, Scope::All)
    }

    /// Derives status for every task and the rest for the tasks of `scope`.
    pub fn build_scoped(
        heads: Heads,
        now: Timestamp,
        weights: &PriorityWeights,
        gates: &GateBlocks,
        scope: Scope<'_>,
    ) -> QueueView {
        let Heads { tasks: heads, symbols, problems, journal_mark } = heads;
        let find = |id: &Id| heads.binary_search_by(|h| h.id.cmp(id)).ok();
        let graph = Graph::build(heads.len(), |i| heads[i].prerequisites.iter().filter_map(find));

        // 1. Effective state: a lapsed lease returns the task to the queue, or fails it past max_retries.
        let mut derived: Vec<Derived> = heads
            .iter()
            .map(|h| {
                let expired = h.state == State::Running && h.lease_expires_at.is_some_and(|t| t <= now);
                let (state, retry_count) = match expired {
                    true if h.retry_count < h.max_retries => (State::Pending, h.retry_count + 1),
                    true => (State::Failed, h.retry_count),
                    false => (h.state, h.retry_count),
                };
                Derived {
                    status: Status::Pending,
                    state,
                    retry_count,
                    lease_expired: expired,
                    blocked_by: Vec::new(),
                    calculated_priority: 0.0,
                    dependency_depth: 0,
                    downstream_depth: 0,
                    blocking_count: 0,
                }
            })
            .collect();

        // 2. Status and blocked reasons.
        for i in 0..heads.len() {
            let h = &heads[i];
            let status = match derived[i].state {
                State::Running => Status::Running,
                State::Completed => Status::Completed,
                State::Failed => Status::Failed,
                State::Cancelled => Status::Cancelled,
                State::Pending => {
                    let mut reasons = Vec::new();
                    for p in &h.prerequisites {
                        match find(p).map(|j| derived[j].state) {
                            None => reasons.push(Blocker::Missing(*p)),
                            Some(State::Completed) => {}
                            Some(s) => reasons.push(Blocker::Prerequisite(*p, s)),
                        }
                    }
                    if let Some(m) = h.milestone.filter(|m| gates.holds(symbols.name(*m)).is_some()) {
                        reasons.push(Blocker::Gate(m));
                    }
                    if gates.paused.is_some() {
                        reasons.push(Blocker::Paused);
                    }
                    let backing_off = !derived[i].lease_expired && h.not_before.is_some_and(|t| t > now);
                    derived[i].blocked_by = reasons;
                    if !derived[i].blocked_by.is_empty() {
                        Status::Blocked
                    } else if backing_off {
                        Status::Pending
                    } else {
                        Status::Ready
                    }
                }
            };
            derived[i].status = status;
        }

        // 3. Depths and downstream work, over unfinished tasks only.
        let live_flags: Vec<bool> = derived.iter().map(|d| !d.state.is_terminal()).collect();
        let live = |i: usize| live_flags[i];
        let scoped: Vec<usize> = match scope {
            Scope::All => (0..heads.len()).collect(),
            Scope::Ready(agent_type) => {
                let wanted = agent_type.map(|a| symbols.find(a));
                (0..heads.len())
                    .filter(|&i| derived[i].status == Status::Ready)
                    .filter(|&i| wanted.is_none_or(|sym| sym == Some(heads[i].agent_type)))
                    .collect()
            }
        };
        let upstream = Graph::longest_paths(&graph.prereqs, &live, scoped.iter().copied());
        let downstream = Graph::longest_paths(&graph.dependents, &live, scoped.iter().copied());
        let blocking = Graph::reach_counts(&graph.dependents, &live, scoped.iter().copied());

        // 4. Priority.
        for i in scoped {
            let d = &mut derived[i];
            d.dependency_depth = upstream[i];
            d.downstream_depth = downstream[i];
            d.blocking_count = blocking[i];
            // A finished task has nothing left to prioritise: 0, so finished tasks list by age.
            if !d.state.is_terminal() {
                let waiting = d.state == State::Pending;
                d.calculated_priority = calculated_priority(&heads[i], d, waiting, now, weights);
            }
        }

        QueueView { heads, derived, graph, symbols, journal_mark, problems, gates: gates.clone() }
    }

    /// Position of task `id` among the heads.
    pub fn position(&self, id: &Id) -> Option<usize> {
        self.heads.binary_search_by(|h| h.id.cmp(id)).ok()
    }

    /// The tasks that list `id` among their prerequisites, in id order.
    pub fn dependents_of(&self, id: &Id) -> Vec<Id> {
        match self.position(id) {
            Some(i) => self.graph.dependents[i].iter().map(|&j| self.heads[j].id).collect(),
            None => self.heads.iter().filter(|h| h.prerequisites.contains(id)).map(|h| h.id).collect(),
        }
    }

    /// Why the task at `i` waits: each reason typed, with its sentence.
    pub fn blocked_by(&self, i: usize) -> Vec<BlockedBy> {
        let gates = &self.gates;
        let reason = |reason, message| BlockedBy { reason, task_id: None, status: None, milestone: None, message };
        self.derived[i]
            .blocked_by
            .iter()
            .map(|b| match *b {
                Blocker::Missing(p) => BlockedBy {
                    task_id: Some(p.to_string()),
                    ..reason(BlockReason::MissingPrerequisite, format!("prerequisite {p} does not exist"))
                },
                Blocker::Prerequisite(p, state) => {
                    // The status `task list` shows for it, not the stored state.
                    let status = self.position(&p).map(|j| self.derived[j].status).unwrap_or(Status::from(state));
                    let message = match state {
                        State::Failed | State::Cancelled => format!("prerequisite {p} is {}", status.as_str()),
                        _ => format!("waiting on {p} ({})", status.as_str()),
                    };
                    BlockedBy {
                        task_id: Some(p.to_string()),
                        status: Some(status),
                        ..reason(BlockReason::Prerequisite, message)
                    }
                }
                Blocker::Gate(m) => BlockedBy {
                    milestone: Some(self.symbols.name(m).to_string()),
                    ..reason(BlockReason::Gate, gates.holds(self.symbols.name(m)).cloned().unwrap_or_default())
                },
                Blocker::Paused => reason(BlockReason::Paused, gates.paused.clone().unwrap_or_default()),
            })
            .collect()
    }

    /// Agent type of the task at `i`.
    pub fn agent_type(&self, i: usize) -> &str {
        self.symbols.name(self.heads[i].agent_type)
    }

    /// Milestone of the task at `i`.
    pub fn milestone(&self, i: usize) -> Option<&str> {
        self.heads[i].milestone.map(|m| self.symbols.name(m))
    }

    /// Indices ordered for claiming and listing: calculated priority (high first), then age, then id.
    pub fn ranked(&self, mut indices: Vec<usize>) -> Vec<usize> {
        indices.sort_by(|&a, &b| self.rank_order(a, b));
        indices
    }

    /// The first `n` of `indices` in [`QueueView::ranked`] order, without sorting the rest.
    pub fn best(&self, mut indices: Vec<usize>, n: usize) -> Vec<usize> {
        self.rank_best(&mut indices, n);
        indices.truncate(n);
        indices
    }

    /// Puts the best `n` of `indices` first, in [`QueueView::ranked`] order; the rest follow
    /// unordered. Selecting is linear, so ranking 10,000 tasks to show 50 costs little more than
    /// looking at them.
    pub fn rank_best(&self, indices: &mut [usize], n: usize) {
        let n = n.min(indices.len());
        if n == 0 {
            return;
        }
        if n < indices.len() {
            indices.select_nth_unstable_by(n - 1, |&a, &b| self.rank_order(a, b));
        }
        indices[..n].sort_unstable_by(|&a, &b| self.rank_order(a, b));
    }

    /// The order of [`QueueView::ranked`]: a total order, since ids are unique.
    pub fn rank_order(&self, a: usize, b: usize) -> std::cmp::Ordering {
        let key = |i: usize| RankKey {
            priority: self.derived[i].calculated_priority,
            submitted_at: self.heads[i].submitted_at,
            id: self.heads[i].id,
        };
        key(a).rank(&key(b))
    }
}

/// What lists and claims order tasks by: the one ranking.
#[derive(Clone, Copy, Debug)]
pub struct RankKey {
    /// Calculated priority, highest first.
    pub priority: f64,
    /// Then the oldest first.
    pub submitted_at: Timestamp,
    /// Then the smallest id, so the order is total.
    pub id: Id,
}

impl RankKey {
    /// `Less` when `self` ranks before `other`.
    pub fn rank(&self, other: &RankKey) -> std::cmp::Ordering {
        other
            .priority
            .total_cmp(&self.priority)
            .then(self.submitted_at.cmp(&other.submitted_at))
            .then(self.id.cmp(&other.id))
    }
}

/// The weighted score of docs/priority.md, 0..=100, rounded to two decimals.
pub fn calculated_priority(h: &TaskHead, d: &Derived, waiting: bool, now: Timestamp, w: &PriorityWeights) -> f64 {
    PriorityTerms::of(h, d).priority(waiting, now, w)
}

/// Everything a task's priority is computed from, besides the time and the weights.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PriorityTerms {
    /// 0..=10.
    pub base_priority: u8,
    /// Who asked for it.
    pub source: Source,
    /// When it was enqueued (for aging).
    pub submitted_at: Timestamp,
    /// When it should be done.
    pub deadline: Option<Timestamp>,
    /// Expected effort.
    pub estimated_duration_seconds: Option<u64>,
    /// Longest chain of unfinished dependents below the task.
    pub downstream_depth: u32,
    /// Unfinished tasks waiting on it.
    pub blocking_count: u32,
}

impl PriorityTerms {
    /// The terms of `h`, derived as `d`.
    pub fn of(h: &TaskHead, d: &Derived) -> PriorityTerms {
        PriorityTerms {
            base_priority: h.base_priority,
            source: h.source,
            submitted_at: h.submitted_at,
            deadline: h.deadline,
            estimated_duration_seconds: h.estimated_duration_seconds,
            downstream_depth: d.downstream_depth,
            blocking_count: d.blocking_count,
        }
    }

    /// The weighted score of docs/priority.md at `now`, 0..=100, rounded to two decimals; `waiting`
    /// tasks age.
    pub fn priority(&self, waiting: bool, now: Timestamp, w: &PriorityWeights) -> f64 {
        let h = self;
        let aging = if waiting {
            let hours = h.submitted_at.seconds_until(now).max(0.0) / 3600.0;
            10.0 * hours / w.aging_hours_per_level
        } else {
            0.0
        };
        let base = (10.0 * f64::from(h.base_priority) + aging).min(100.0);
        let depth = (10.0 * f64::from(h.downstream_depth)).min(100.0);
        let urgency = urgency_score(h.deadline, h.estimated_duration_seconds, now);
        let blocking = match h.blocking_count {
            0 => 0.0,
            n => (33.33 * (f64::from(n) + 1.0).log10()).min(100.0),
        };
        let source = match h.source {
            Source::Human => 100.0,
            Source::AgentRequirements => 75.0,
            Source::AgentPlanner => 50.0,
            Source::AgentImplementation => 25.0,
        };
        let total = w.base * base + w.depth * depth + w.urgency * urgency + w.blocking * blocking + w.source * source;
        (total.clamp(0.0, 100.0) * 100.0).round() / 100.0
    }
}

/// Deadline urgency: 50 with no deadline; with one, 50 plus up to 50 as the slack shrinks, so a distant
/// deadline never ranks below none; 100 once the slack (time left minus estimated effort) is gone.
pub fn urgency_score(deadline: Option<Timestamp>, estimate: Option<u64>, now: Timestamp) -> f64 {
    let Some(deadline) = deadline else {
        return 50.0;
    };
    let estimate = estimate.unwrap_or(0) as f64;
    let slack = now.seconds_until(deadline) - estimate;
    if slack <= 0.0 {
        return 100.0;
    }
    let horizon = if estimate > 0.0 { 2.0 * estimate } else { 86_400.0 };
    50.0 + 50.0 * (-slack / horizon).exp()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(source: Source, base: u8) -> TaskHead {
        let mut symbols = Symbols::default();
        TaskHead {
            id: Id::generate(),
            source,
            agent_type: symbols.intern("a"),
            base_priority: base,
            prerequisites: vec![],
            deadline: None,
            estimated_duration_seconds: None,
            milestone: None,
            max_retries: 3,
            submitted_at: Timestamp::from_millis(0),
            state: State::Pending,
            retry_count: 0,
            not_before: None,
            lease_expires_at: None,
        }
    }

    fn derived() -> Derived {
        Derived::ready_alone()
    }

    #[test]
    fn reference_worked_example_is_32_5() {
        let w = PriorityWeights::default();
        let p = calculated_priority(&head(Source::Human, 5), &derived(), false, Timestamp::from_millis(0), &w);
        assert_eq!(p, 32.5);
    }

    #[test]
    fn distant_deadline_never_ranks_below_none() {
        let now = Timestamp::from_millis(0);
        let far = Some(now.plus_seconds(365.0 * 86_400.0));
        assert!(urgency_score(far, None, now) >= urgency_score(None, None, now));
        let near = Some(now.plus_seconds(3_600.0));
        assert!(urgency_score(near, None, now) > urgency_score(far, None, now));
        assert_eq!(urgency_score(near, Some(7_200), now), 100.0);
        assert_eq!(urgency_score(Some(now.plus_seconds(-1.0)), None, now), 100.0);
    }

    #[test]
    fn aging_lifts_a_starving_task_to_the_top() {
        let w = PriorityWeights::default();
        let low = head(Source::AgentImplementation, 0);
        let fresh = calculated_priority(&low, &derived(), true, Timestamp::from_millis(0), &w);
        let later = Timestamp::from_millis(0).plus_seconds(w.aging_hours_per_level * 3600.0 * 10.0);
        let aged = calculated_priority(&low, &derived(), true, later, &w);
        let high_new = calculated_priority(
            &head(Source::AgentImplementation, 10),
            &derived(),
            true,
            Timestamp::from_millis(0),
            &w,
        );
        assert!(aged > fresh);
        assert_eq!(aged, high_new);
    }

    #[test]
    fn downstream_work_raises_priority() {
        let w = PriorityWeights::default();
        let h = head(Source::Human, 5);
        let mut d = derived();
        let alone = calculated_priority(&h, &d, false, Timestamp::from_millis(0), &w);
        d.downstream_depth = 3;
        d.blocking_count = 9;
        let blocking = calculated_priority(&h, &d, false, Timestamp::from_millis(0), &w);
        assert_eq!(alone, 32.5);
        assert_eq!(blocking, 45.0); // 32.5 + 0.25 * 30 + 0.15 * 33.33 * log10(10), rounded
    }

    /// A view of a task's neighbourhood ([`Heads::around`]) derives exactly what a view of every task
    /// derives for that task, on a graph with chains, diamonds, running, expired and finished tasks.
    #[test]
    fn a_neighbourhood_view_agrees_with_the_whole_view_for_its_task() {
        let mut next = crate::queue::synthetic::xorshift(0x9E37_79B9_7F4A_7C15);
        let mut symbols = Symbols::default();
        let agents = [symbols.intern("a"), symbols.intern("b")];
        let now = Timestamp::from_millis(10_000_000);
        let mut heads: Vec<TaskHead> = Vec::new();
        for i in 0..300u128 {
            let k = (next() % 4) as usize;
            let prerequisites: Vec<Id> = (0..k.min(heads.len()))
                .map(|_| heads[heads.len() - 1 - (next() as usize % heads.len().min(12))].id)
                .collect();
            let state =
                [State::Pending, State::Pending, State::Running, State::Completed, State::Failed, State::Cancelled]
                    [(next() % 6) as usize];
            let mut h = head(Source::Human, (next() % 11) as u8);
            h.id = Id::from_bits(1_000 + i);
            h.agent_type = agents[(next() % 2) as usize];
            h.prerequisites = prerequisites;
            h.state = state;
            h.submitted_at = Timestamp::from_millis((i as i64) * 1000);
            h.deadline = next().is_multiple_of(3).then(|| now.plus_seconds((next() % 200_000) as f64));
            h.lease_expires_at = (state == State::Running).then(|| now.plus_seconds((next() % 20) as f64 - 10.0));
            h.retry_count = (next() % 4) as u32;
            heads.push(h);
        }
        let (tasks, symbols) = (std::sync::Arc::new(heads), std::sync::Arc::new(symbols));
        let all = || Heads { tasks: tasks.clone(), symbols: symbols.clone(), ..Heads::default() };
        let (w, gates) = (PriorityWeights::default(), GateBlocks::default());
        let whole = QueueView::build(all(), now, &w, &gates);
        let heads = all();
        for (i, h) in whole.heads.iter().enumerate() {
            let near = QueueView::build(heads.around(&h.id), now, &w, &gates);
            let j = near.position(&h.id).expect("the task is in its neighbourhood");
            let (a, b) = (&whole.derived[i], &near.derived[j]);
            assert_eq!(
                (a.status, a.state, &a.blocked_by, a.dependency_depth, a.downstream_depth, a.blocking_count),
                (b.status, b.state, &b.blocked_by, b.dependency_depth, b.downstream_depth, b.blocking_count),
                "task {i}"
            );
            assert_eq!(a.calculated_priority, b.calculated_priority, "task {i}");
            assert_eq!(whole.dependents_of(&h.id), near.dependents_of(&h.id), "task {i}");
        }
    }
}
