//! The task operations, each a method of [`Service`]: enqueue, get, list, status, cancel, plan,
//! claim, heartbeat, complete, fail, update.
//!
//! Concurrency rules, in one place:
//! - Readers (get, list, status, plan) never take the lock; they read files replaced atomically.
//! - Every read-modify-write holds the ledger lock and re-reads the files it changes under it, so a
//!   claim is a compare-and-set on the task file: two claimants can never hold the same task.
//! - Claim ranks candidates on a view loaded just before locking (cheap, parallel), then re-checks the
//!   chosen task and its prerequisites from their files under the lock.
//! - An expired lease is seen by every reader at once (see `view`); the next writer that touches the
//!   task (claim, or the holder's own complete/fail) makes it permanent.

use std::collections::{HashSet, VecDeque};

use crate::error::{Error, ErrorKind, Result};
use crate::id::Id;
use crate::ledger::remote::{ClaimState, RemoteClaims, Taken};
use crate::queue::api::*;
use crate::queue::store::{self, TaskHead};
use crate::queue::task::{self, Lease, Source, State, Status, TaskRecord};
use crate::queue::view::{self, GateBlocks, QueueView, RankKey, Scope};
use crate::service::Service;
use crate::time::Timestamp;

/// How much of the ledger a view reads.
#[derive(Clone, Copy, Debug)]
enum ViewLoad {
    /// Every task, from the cache when it provably matches the folder.
    Full,
    /// Every task in full, every file's fingerprint checked.
    Verified,
}

/// Most tasks one list may return.
pub const MAX_LIST_LIMIT: u32 = 500;
/// Tasks listed when no limit is given.
pub const DEFAULT_LIST_LIMIT: u32 = 50;

impl Service {
    /// Loads every task and derives its status and priority as of now.
    pub fn queue_view(&self) -> Result<QueueView> {
        let heads = self.tasks.load()?;
        Ok(QueueView::build(heads, self.clock.now(), &self.config.priority, &self.gate_blocks()))
    }

    /// Like [`Service::queue_view`], with `fresh` records (just read from their files) taking
    /// precedence over the cache and the graph work limited to `scope`. `load` says how much to check.
    fn queue_view_with(&self, fresh: &[&TaskRecord], load: ViewLoad, scope: Scope<'_>) -> Result<QueueView> {
        self.queue_view_gated(fresh, load, scope, &self.gate_blocks(), self.clock.now())
    }

    /// [`Service::queue_view_with`], for `gates` the caller has already read.
    fn queue_view_gated(
        &self,
        fresh: &[&TaskRecord],
        load: ViewLoad,
        scope: Scope<'_>,
        gates: &GateBlocks,
        now: Timestamp,
    ) -> Result<QueueView> {
        let mut heads = match load {
            ViewLoad::Full => self.tasks.load()?,
            ViewLoad::Verified => self.tasks.load_verified()?,
        };
        for record in fresh {
            heads.refresh(record);
        }
        Ok(QueueView::build_scoped(heads, now, &self.config.priority, gates, scope))
    }

    /// Milestones whose tasks are held back by a gate, and whether an escalation pauses claims.
    ///
    /// Fails closed: a milestone file that cannot be read holds the work of every milestone, and a
    /// gate record that cannot be read (it could be an escalation) pauses every claim, each with
    /// the file and the problem as the reason.
    pub fn gate_blocks(&self) -> GateBlocks {
        let (milestones, broken) = self.milestones().unwrap_or_else(|e| (Vec::new(), vec![e]));
        let (records, broken_gates) = self.gate_records_checked();
        if milestones.is_empty() && broken.is_empty() && broken_gates.is_empty() {
            return GateBlocks::default();
        }
        let untrusted = self.untrusted_decisions(&records);
        let mut blocks = crate::gate::state::blocks(&milestones, &records, &untrusted);
        blocks.known = milestones.iter().map(|m| m.id.clone()).collect();
        blocks.unknown = Some(
            "its milestone is not defined in this ledger; fix it (`abathur task update -m`) or add the milestone"
                .into(),
        );
        if let Some(e) = broken.first() {
            let reason = format!("milestone work is held: {}; fix the file (`abathur check`)", e.message);
            for m in &milestones {
                blocks.closed.insert(m.id.clone(), reason.clone());
            }
            blocks.unknown = Some(reason);
        }
        if let Some(e) = broken_gates.first() {
            blocks.paused = Some(format!(
                "claims are paused: {}; a gate record that cannot be read could be an escalation: fix the file (`abathur check`)",
                e.message
            ));
        }
        blocks
    }

    /// Refuses a milestone the ledger does not define (while it defines any), naming the nearest.
    fn check_milestone(&self, milestone: &str) -> Result<()> {
        let (milestones, _) = self.milestones()?;
        if milestones.is_empty() || milestones.iter().any(|m| m.id == milestone) {
            return Ok(());
        }
        let nearest = milestones
            .iter()
            .map(|m| (strsim::levenshtein(&m.id.to_lowercase(), &milestone.to_lowercase()), &m.id))
            .min()
            .map(|(_, id)| id.clone())
            .unwrap_or_default();
        Err(Error::invalid("milestone", format!("{milestone} is not a milestone of this ledger"))
            .hint(format!("did you mean {nearest}? `abathur milestone list` shows them")))
    }

    /// Resolves an id or unique prefix to a task id. A full id is checked by its file alone.
    pub fn resolve_task(&self, text: &str) -> Result<Id> {
        if text.len() == crate::id::ID_LEN {
            let id = Id::parse(text)?;
            return if self.tasks.path(&id).exists() { Ok(id) } else { Err(Error::not_found("task", &id.to_string())) };
        }
        crate::id::IdPrefix::parse(text)?;
        let ids: Vec<Id> = crate::ledger::codec::list(&self.ledger.tasks_dir(), "toml")?
            .iter()
            .filter_map(|p| p.file_stem().and_then(|s| s.to_str()).and_then(Id::from_file_stem))
            .collect();
        store::resolve(text, ids.iter())
    }

    /// Every task id, sorted: what short ids are computed against. Reads the cache the command has
    /// just loaded, so it costs a copy rather than a folder listing.
    pub fn task_ids(&self) -> Result<Vec<Id>> {
        Ok(self.tasks.load()?.tasks.iter().map(|h| h.id).collect())
    }

    /// `task_enqueue`: validates the request, checks prerequisites under the lock, writes the file.
    pub fn task_enqueue(&self, req: EnqueueRequest) -> Result<EnqueueReply> {
        let now = self.clock.now();
        let q = &self.config.queue;
        let description = req.description;
        let summary = match req.summary.map(|s| s.trim().to_string()) {
            Some(s) if !s.is_empty() => s,
            _ => task::summary_from_description(&description),
        };
        let deadline = req
            .deadline
            .as_deref()
            .map(|d| Timestamp::parse(d).map_err(|e| Error::invalid("deadline", e.message)))
            .transpose()?;
        let input_data = req.input_data.map(|v| v.to_string());
        let result_data = match (req.completed, req.result_data) {
            (_, None) => None,
            (true, Some(v)) => Some(v.to_string()),
            (false, Some(_)) => {
                return Err(Error::invalid("result_data", "is only for a task recorded as completed")
                    .hint("set completed, or report the result with task_complete after claiming"));
            }
        };
        let mut prerequisites = Vec::new();
        for p in &req.prerequisites {
            let id = self.resolve_task(p).map_err(|e| prefix_error("prerequisites", p, e))?;
            if !prerequisites.contains(&id) {
                prerequisites.push(id);
            }
        }
        let parent_task_id = req
            .parent_task_id
            .as_deref()
            .map(|p| self.resolve_task(p).map_err(|e| prefix_error("parent_task_id", p, e)))
            .transpose()?;
        let mut record = TaskRecord::new_waiting(description, now, q);
        record.summary = summary;
        record.source = req.source.unwrap_or(Source::Human);
        record.agent_type = req.agent_type.unwrap_or_else(|| q.default_agent_type.clone());
        record.base_priority = req.base_priority.unwrap_or(5);
        record.prerequisites = prerequisites;
        record.deadline = deadline;
        record.estimated_duration_seconds = req.estimated_duration_seconds;
        record.milestone = req.milestone.filter(|m| !m.is_empty());
        if let Some(m) = &record.milestone {
            self.check_milestone(m)?;
        }
        record.parent_task_id = parent_task_id;
        record.session_id = match req.session_id.as_deref().filter(|s| !s.is_empty()) {
            None => None,
            Some(s) => Some(
                self.session_get(crate::session::SessionIdRequest { session_id: s.into(), events: Some(0) })?
                    .session
                    .id,
            ),
        };
        record.max_retries = req.max_retries.unwrap_or(q.max_retries);
        record.lease_timeout_seconds = req.lease_timeout_seconds.unwrap_or(q.lease_timeout_seconds);
        record.created_by = req.created_by.filter(|c| !c.is_empty());
        record.input_data = input_data;
        let id = record.id;
        let by = record.created_by.clone();
        record.record_event(now, "created", by.as_deref(), None);
        if req.completed {
            record.state = State::Completed;
            record.completed_at = Some(now);
            record.result_data = result_data;
            record.record_event(now, "completed", by.as_deref(), Some("recorded as already done".into()));
        }
        record.validate()?;

        let mut unfinished = false;
        {
            let _lock = self.ledger.lock()?;
            for p in &record.prerequisites {
                let pre = self.tasks.read(p)?;
                match effective_state(&pre, now) {
                    State::Failed | State::Cancelled => {
                        return Err(Error::conflict(format!(
                            "prerequisite {p} is {}; a task waiting on it could never run",
                            effective_state(&pre, now).as_str()
                        ))
                        .hint("drop that prerequisite, or enqueue a replacement for it first"));
                    }
                    State::Completed => {}
                    _ if req.completed => {
                        return Err(Error::conflict(format!(
                            "prerequisite {p} is {}; work recorded as done cannot have waited on unfinished work",
                            effective_state(&pre, now).as_str()
                        ))
                        .hint("complete the prerequisite first, or record this task without it"));
                    }
                    _ => unfinished = true,
                }
            }
            self.tasks.write(&record)?;
        }

        if req.completed {
            return Ok(EnqueueReply {
                task_id: id.to_string(),
                status: Status::Completed,
                calculated_priority: 0.0,
                dependency_depth: 0,
                submitted_at: now.to_string(),
            });
        }

        if unfinished || record.milestone.is_some() {
            let view = self.queue_view()?;
            if let Some(i) = view.position(&id) {
                let d = &view.derived[i];
                return Ok(EnqueueReply {
                    task_id: id.to_string(),
                    status: d.status,
                    calculated_priority: d.calculated_priority,
                    dependency_depth: d.dependency_depth,
                    submitted_at: now.to_string(),
                });
            }
        }
        // No unfinished prerequisites and no gate: ready, with no dependents yet.
        let head = TaskHead::of(&record, &mut Default::default());
        let priority =
            view::calculated_priority(&head, &view::Derived::ready_alone(), true, now, &self.config.priority);
        Ok(EnqueueReply {
            task_id: id.to_string(),
            status: Status::Ready,
            calculated_priority: priority,
            dependency_depth: 0,
            submitted_at: now.to_string(),
        })
    }

    /// `task_get`: one task with everything stored and derived.
    pub fn task_get(&self, req: GetRequest) -> Result<TaskDetail> {
        let id = self.resolve_task(&req.task_id)?;
        let record = self.tasks.read(&id)?;
        let mut heads = self.tasks.load()?;
        heads.refresh(&record);
        // Only the task's neighbourhood: its figures come out exactly as in a view of every task.
        let heads = heads.around(&id);
        let view = QueueView::build(heads, self.clock.now(), &self.config.priority, &self.gate_blocks());
        Ok(detail(&view, &record, self.clock.now()))
    }

    /// `task_list`: filter, rank and cut.
    pub fn task_list(&self, req: ListRequest) -> Result<ListReply> {
        let limit = req.limit.unwrap_or(DEFAULT_LIST_LIMIT);
        if !(1..=MAX_LIST_LIMIT).contains(&limit) {
            return Err(Error::invalid("limit", format!("limit {limit} is out of range; use 1 to {MAX_LIST_LIMIT}")));
        }
        if req.status.is_some() && req.exclude_status.is_some() {
            return Err(Error::invalid("exclude_status", "give either status or exclude_status, not both"));
        }
        // Every page ranks as of the first one, so a walk through the pages shows each task once.
        let after = req.cursor.as_deref().map(ListCursor::parse).transpose()?;
        let as_of = after.as_ref().map_or_else(|| self.clock.now(), |c| c.as_of);
        let load = if req.verify { ViewLoad::Verified } else { ViewLoad::Full };
        let view = self.queue_view_gated(&[], load, Scope::All, &self.gate_blocks(), as_of)?;
        let matching: Vec<usize> = (0..view.heads.len())
            .filter(|&i| {
                let (h, d) = (&view.heads[i], &view.derived[i]);
                req.status.is_none_or(|s| d.status == s)
                    && req.exclude_status.is_none_or(|s| d.status != s)
                    && req.source.is_none_or(|s| h.source == s)
                    && req.agent_type.as_ref().is_none_or(|a| view.agent_type(i) == a)
                    && req.milestone.as_ref().is_none_or(|m| view.milestone(i) == Some(m.as_str()))
            })
            .collect();
        let total_matching = matching.len();
        let key = |i: usize| RankKey {
            priority: view.derived[i].calculated_priority,
            submitted_at: view.heads[i].submitted_at,
            id: view.heads[i].id,
        };
        let rest: Vec<usize> = match &after {
            None => matching,
            Some(c) => matching.into_iter().filter(|&i| key(i).rank(&c.last).is_gt()).collect(),
        };
        let more = rest.len() > limit as usize;
        let ranked = view.best(rest, limit as usize);
        let next_cursor = ranked.last().filter(|_| more).map(|&i| ListCursor { as_of, last: key(i) }.to_string());
        // Rows shown are read from their files, so what is displayed is exactly what is stored.
        let tasks = ranked.into_iter().filter_map(|i| self.summary(&view, i)).collect();
        Ok(ListReply { tasks, total_matching, next_cursor, warnings: warnings(&view) })
    }

    /// `task_queue_status`: totals and health of the queue.
    pub fn task_queue_status(&self) -> Result<QueueStatus> {
        let view = self.queue_view_with(&[], ViewLoad::Full, Scope::All)?;
        let now = self.clock.now();
        let mut counts = [0usize; 7];
        let (mut sum, mut live) = (0.0, 0usize);
        let (mut oldest, mut newest): (Option<usize>, Option<usize>) = (None, None);
        let (mut active, mut expired, mut max_depth) = (0, 0, 0);
        for (i, (h, d)) in view.heads.iter().zip(&view.derived).enumerate() {
            counts[d.status as usize] += 1;
            if !d.state.is_terminal() {
                sum += d.calculated_priority;
                live += 1;
                max_depth = max_depth.max(d.dependency_depth + 1);
            }
            if matches!(d.status, Status::Pending | Status::Blocked | Status::Ready)
                && oldest.is_none_or(|o| (h.submitted_at, &h.id) < (view.heads[o].submitted_at, &view.heads[o].id))
            {
                oldest = Some(i);
            }
            if newest.is_none_or(|n| (h.submitted_at, &h.id) > (view.heads[n].submitted_at, &view.heads[n].id)) {
                newest = Some(i);
            }
            if h.state == State::Running {
                match h.lease_expires_at.is_some_and(|t| t > now) {
                    true => active += 1,
                    false => expired += 1,
                }
            }
        }
        let at = |i: Option<usize>| i.map(|i| view.heads[i].submitted_at.to_string());
        let id = |i: Option<usize>| i.map(|i| view.heads[i].id.to_string());
        Ok(QueueStatus {
            total_tasks: view.heads.len(),
            pending: counts[Status::Pending as usize],
            blocked: counts[Status::Blocked as usize],
            ready: counts[Status::Ready as usize],
            running: counts[Status::Running as usize],
            completed: counts[Status::Completed as usize],
            failed: counts[Status::Failed as usize],
            cancelled: counts[Status::Cancelled as usize],
            avg_priority: if live == 0 { 0.0 } else { (sum / live as f64 * 100.0).round() / 100.0 },
            max_depth,
            oldest_pending: at(oldest),
            oldest_pending_task_id: id(oldest),
            newest_task: at(newest),
            newest_task_id: id(newest),
            active_leases: active,
            expired_leases: expired,
            warnings: warnings(&view),
        })
    }

    /// `task_execution_plan`: parallel batches (topological layers) for the given tasks.
    pub fn task_execution_plan(&self, req: PlanRequest) -> Result<PlanReply> {
        if req.task_ids.is_empty() && req.milestone.is_none() {
            return Err(Error::invalid("task_ids", "give at least one task id, or a milestone"));
        }
        let view = self.queue_view()?;
        let mut members = self.resolve_tasks(&view, "task_ids", &req.task_ids)?;
        let mut seen: HashSet<usize> = members.iter().copied().collect();
        if let Some(m) = &req.milestone {
            task::validate_milestone(m)?;
            for i in 0..view.heads.len() {
                if view.milestone(i) == Some(m.as_str()) && !view.derived[i].state.is_terminal() && seen.insert(i) {
                    members.push(i);
                }
            }
        }
        let members = view.ranked(members);
        let batches = view
            .graph
            .plan_layers(&members)
            .map_err(|cycle| Error::cycle(&cycle.iter().map(|&i| view.heads[i].id.to_string()).collect::<Vec<_>>()))?;
        let batches: Vec<Vec<String>> =
            batches.into_iter().map(|b| b.into_iter().map(|i| view.heads[i].id.to_string()).collect()).collect();
        Ok(PlanReply {
            total_batches: batches.len(),
            max_parallelism: batches.iter().map(Vec::len).max().unwrap_or(0),
            batches,
        })
    }

    /// The positions in `view` of the tasks `texts` name (ids or unique prefixes), each once.
    pub(crate) fn resolve_tasks(&self, view: &QueueView, field: &str, texts: &[String]) -> Result<Vec<usize>> {
        let mut members = Vec::new();
        let mut seen = HashSet::new();
        for text in texts {
            // A full id is looked up directly; only a prefix needs the scan.
            let id = match Id::parse(text) {
                Ok(id) if view.position(&id).is_some() => id,
                _ => {
                    store::resolve(text, view.heads.iter().map(|h| &h.id)).map_err(|e| prefix_error(field, text, e))?
                }
            };
            let Some(i) = view.position(&id) else {
                return Err(Error::new(ErrorKind::NotFound, format!("{field}: no task matches `{text}`")));
            };
            if seen.insert(i) {
                members.push(i);
            }
        }
        Ok(members)
    }

    /// `task_claim`: the best ready task (optionally of one agent type), taken under a lease.
    pub fn task_claim(&self, req: ClaimRequest) -> Result<ClaimReply> {
        let wait = match req.wait_seconds {
            None => std::time::Duration::ZERO,
            Some(s) if (0.0..=MAX_CLAIM_WAIT_SECONDS).contains(&s) => std::time::Duration::from_secs_f64(s),
            Some(_) => {
                return Err(Error::invalid(
                    "wait_seconds",
                    format!("wait_seconds must be between 0 and {MAX_CLAIM_WAIT_SECONDS}"),
                ));
            }
        };
        let deadline = std::time::Instant::now() + wait;
        loop {
            let mut reply = self.claim_now(&req)?;
            if reply.claimed || std::time::Instant::now() >= deadline {
                if let Some(task) = &reply.task {
                    reply.milestone_context = self.handed_over(task.milestone.as_deref());
                }
                return Ok(reply);
            }
            self.wait_for_change(deadline);
        }
    }

    /// Sleeps until the ledger's tasks, gates or milestones change, a second passes (retry backoff
    /// and leases run out with no file changing), or `deadline`.
    fn wait_for_change(&self, deadline: std::time::Instant) {
        let root = self.ledger.root();
        let stamp = || -> Vec<Option<std::time::SystemTime>> {
            ["tasks", "gates", "milestones"].iter().map(|d| crate::ledger::codec::modified(&root.join(d))).collect()
        };
        let before = stamp();
        store::debug_note(|| "claim: nothing is ready; waiting for the ledger to change".into());
        let until = deadline.min(std::time::Instant::now() + std::time::Duration::from_secs(1));
        while std::time::Instant::now() < until {
            std::thread::sleep(CLAIM_WAIT_POLL);
            if stamp() != before {
                return;
            }
        }
    }

    /// The context the decision that opened `milestone` handed over: the previous milestone's latest
    /// decision's `next_milestone_context`.
    pub(crate) fn handed_over(&self, milestone: Option<&str>) -> Option<String> {
        let milestone = milestone?;
        let (milestones, _) = self.milestones().ok()?;
        let order = milestones.iter().find(|m| m.id == milestone)?.order;
        let previous = milestones.iter().filter(|m| m.order < order).max_by_key(|m| m.order)?;
        let records = self.gate_records();
        let latest = crate::gate::state::latest(&records);
        latest.get(&previous.id).map(|r| r.next_milestone_context.clone()).filter(|c| !c.is_empty())
    }

    fn claim_now(&self, req: &ClaimRequest) -> Result<ClaimReply> {
        let req = req.clone();
        if let Some(a) = &req.agent_type {
            task::validate_name("agent_type", a)?;
        }
        let agent = req.agent.clone().or_else(|| req.agent_type.clone()).unwrap_or_else(|| "agent".into());
        task::check_chars("agent", &agent, 200)?;
        if let Some(secs) = req.lease_seconds
            && (secs == 0 || secs > 7 * 24 * 3600)
        {
            return Err(Error::invalid("lease_seconds", "lease_seconds must be between 1 and 604800"));
        }
        if let Some(text) = &req.task_id {
            return self.claim_one(text, &agent, req.lease_seconds);
        }
        let agent_type = req.agent_type.as_deref();
        let gates = self.gate_blocks();
        let view = self.queue_view_gated(&[], ViewLoad::Full, Scope::Ready(agent_type), &gates, self.clock.now())?;
        let mut candidates = claim_candidates(&view, agent_type);
        let claimed = {
            let _lock = self.ledger.lock()?;
            self.settle_lapsed(&view)?;
            self.claim_first(&view, &mut candidates, &agent, req.lease_seconds)?
        };
        if let Some(reply) = claimed {
            return Ok(reply);
        }
        // Everything we ranked was taken meanwhile: rank again under the lock, where nothing moves.
        let _lock = self.ledger.lock()?;
        let fresh = self.queue_view_with(&[], ViewLoad::Full, Scope::Ready(agent_type))?;
        let mut candidates = claim_candidates(&fresh, agent_type);
        if let Some(reply) = self.claim_first(&fresh, &mut candidates, &agent, req.lease_seconds)? {
            return Ok(reply);
        }
        let waiting = fresh.derived.iter().filter(|d| matches!(d.status, Status::Blocked | Status::Pending)).count();
        let who = agent_type.map(|a| format!(" for agent type {a}")).unwrap_or_default();
        let why = match (&fresh.gates.paused, fresh.gates.closed.values().next()) {
            (Some(p), _) => format!("; {p}"),
            (None, Some(_)) => format!("; {}", fresh.gates.closed.values().min().expect("one")),
            (None, None) => String::new(),
        };
        let scope = RemoteClaims::configured(self.ledger.git_dir())
            .map(|r| format!("remote {}", r.remote()))
            .unwrap_or_else(|| "local".into());
        Ok(ClaimReply {
            claimed: false,
            task: None,
            lease_id: None,
            lease_expires_at: None,
            scope,
            message: Some(format!(
                "no task is ready{who}; {waiting} waiting on prerequisites, gates or retry backoff{why}"
            )),
            paused: fresh.gates.paused.clone(),
            milestone_context: None,
        })
    }

    /// Fails for good every task whose lease lapsed with no retry left, and cancels its dependents,
    /// exactly as `task fail` does: readers already show it failed, but only a write makes it so and
    /// frees what waits on it. Claims run it, since that is when work is looked for. The caller holds
    /// the lock.
    fn settle_lapsed(&self, view: &QueueView) -> Result<()> {
        let now = self.clock.now();
        let lapsed: Vec<Id> = view
            .heads
            .iter()
            .filter(|h| {
                h.state == State::Running
                    && h.retry_count >= h.max_retries
                    && h.lease_expires_at.is_some_and(|t| t <= now)
            })
            .map(|h| h.id)
            .collect();
        for id in lapsed {
            let mut record = self.tasks.read(&id)?;
            if settle_expired(&mut record, now).is_none() || record.state != State::Failed {
                continue;
            }
            self.tasks.write(&record)?;
            self.publish_settled(&id, ClaimState::Finished("failed".into()));
            self.cascade_cancel(view, &id, now, &format!("prerequisite {id} failed"))?;
        }
        Ok(())
    }

    fn claim_one(&self, text: &str, agent: &str, lease_seconds: Option<u64>) -> Result<ClaimReply> {
        let id = self.resolve_task(text)?;
        let _lock = self.ledger.lock()?;
        let view = self.queue_view()?;
        let i = view.position(&id).ok_or_else(|| Error::not_found("task", &id.to_string()))?;
        if let Some(reply) = self.claim_first(&view, &mut [i], agent, lease_seconds)? {
            return Ok(reply);
        }
        let why = match view.derived[i].status {
            Status::Blocked => format!(
                "it is blocked: {}",
                view.blocked_by(i).iter().map(|b| b.message.as_str()).collect::<Vec<_>>().join("; ")
            ),
            Status::Pending => "it is waiting out its retry backoff".to_string(),
            Status::Running => "another agent holds its lease".to_string(),
            s => format!("it is {}", s.as_str()),
        };
        Err(Error::conflict(format!("task {id} cannot be claimed: {why}")))
    }

    /// Claims the first of `candidates` still claimable. Past the first [`CLAIM_RANKED`] (which
    /// [`claim_candidates`] orders), the rest are ordered when reached.
    fn claim_first(
        &self,
        view: &QueueView,
        candidates: &mut [usize],
        agent: &str,
        lease_seconds: Option<u64>,
    ) -> Result<Option<ClaimReply>> {
        let now = self.clock.now();
        // Rivals that claimed since our view was loaded journaled it under this same lock: skip the
        // candidates they took without reading their files.
        let taken = view.journal_mark.and_then(|mark| self.tasks.changed_since(mark)).unwrap_or_default();
        // Gates as they are now, under the lock every decision takes: a decision made after the view
        // was loaded (an escalation, a revise) is never claimed past.
        let gates = self.gate_blocks();
        if gates.paused.is_some() {
            return Ok(None);
        }
        for k in 0..candidates.len() {
            if k == CLAIM_RANKED {
                candidates[k..].sort_unstable_by(|&a, &b| view.rank_order(a, b));
            }
            let i = candidates[k];
            let id = &view.heads[i].id;
            if taken.get(id).is_some_and(|state| *state != State::Pending) {
                continue;
            }
            if view.derived[i].blocked_by.iter().any(|b| !b.is_prerequisite())
                || view.milestone(i).is_some_and(|m| gates.holds(m).is_some())
            {
                continue; // held by a gate or an escalation
            }
            if let Some((record, lease_id, expires, scope)) = self.take(id, now, agent, lease_seconds)? {
                return Ok(Some(claimed(detail(view, &record, now), lease_id, expires, scope)));
            }
        }
        Ok(None)
    }

    /// Puts task `id` under a lease for `agent` if its file (the truth, whatever the cache said)
    /// shows it claimable now; returns the record as written, the lease id and its expiry. The
    /// caller holds the lock.
    fn take(
        &self,
        id: &Id,
        now: Timestamp,
        agent: &str,
        lease_seconds: Option<u64>,
    ) -> Result<Option<(TaskRecord, String, Timestamp, String)>> {
        let Ok(mut record) = self.tasks.read(id) else {
            return Ok(None);
        };
        let expired_holder = settle_expired(&mut record, now);
        if record.state != State::Pending || record.not_before.is_some_and(|t| t > now && expired_holder.is_none()) {
            return Ok(None);
        }
        if !self.prerequisites_done(&record, now) {
            return Ok(None);
        }
        let lease_id = Id::generate().to_string();
        let seconds = lease_seconds.unwrap_or(record.lease_timeout_seconds);
        let expires = now.plus_seconds(seconds as f64);
        record.state = State::Running;
        record.not_before = None;
        record.started_at = Some(now);
        record.lease = Some(Lease {
            lease_id: lease_id.clone(),
            holder: agent.to_string(),
            claimed_at: now,
            renewed_at: now,
            expires_at: expires,
        });
        let scope = match RemoteClaims::configured(self.ledger.git_dir()) {
            None => "local".to_string(),
            Some(remote) => match remote.acquire(&id.to_string(), agent, &lease_id, expires, now) {
                Ok(Taken::Won) => format!("remote {}", remote.remote()),
                Ok(Taken::Lost(why)) => {
                    store::debug_note(|| format!("task {id} lost on the remote: {why}"));
                    return Ok(None);
                }
                // Offline: work goes on locally and the reply says so.
                Err(e) => format!("local (remote {} unreachable: {})", remote.remote(), e.message),
            },
        };
        record.record_event(now, "claimed", Some(agent), None);
        self.tasks.write(&record)?;
        Ok(Some((record, lease_id, expires, scope)))
    }

    /// Tells the remote (when one is configured) that this clone's claim on `id` is now `state`.
    /// `Ok(false)`: another machine took the task over.
    fn publish_claim(&self, id: &Id, state: ClaimState) -> Result<bool> {
        let Some(remote) = RemoteClaims::configured(self.ledger.git_dir()) else { return Ok(true) };
        remote.update(&id.to_string(), &state)
    }

    /// Like [`Self::publish_claim`] for a change already recorded here: a remote that cannot be told
    /// is a warning, since the ledger's own change is the fact and `abathur sync` carries it.
    fn publish_settled(&self, id: &Id, state: ClaimState) {
        match self.publish_claim(id, state) {
            Ok(true) => {}
            Ok(false) => eprintln!(
                "abathur: warning: task {id} was taken over on another machine; `abathur sync` merges both records"
            ),
            Err(e) => eprintln!("abathur: warning: the remote was not told about task {id}: {}", e.message),
        }
    }

    fn prerequisites_done(&self, record: &TaskRecord, now: Timestamp) -> bool {
        record
            .prerequisites
            .iter()
            .all(|p| self.tasks.read(p).is_ok_and(|pre| effective_state(&pre, now) == State::Completed))
    }

    /// `task_heartbeat`: renews the caller's lease.
    pub fn task_heartbeat(&self, req: HeartbeatRequest) -> Result<HeartbeatReply> {
        let id = self.resolve_task(&req.task_id)?;
        let now = self.clock.now();
        let _lock = self.ledger.lock()?;
        let mut record = self.tasks.read(&id)?;
        check_holder(&record, Some(&req.lease_id))?;
        let lease = record.lease.as_mut().expect("checked running");
        lease.renewed_at = now;
        lease.expires_at = now.plus_seconds(record.lease_timeout_seconds as f64);
        let expires = lease.expires_at;
        let held = ClaimState::Held { holder: lease.holder.clone(), lease: lease.lease_id.clone(), expires };
        if !self.publish_claim(&id, held)? {
            return Err(Error::conflict(format!(
                "task {id} was taken over on another machine after this lease lapsed there; stop working on it"
            )));
        }
        record.last_updated_at = now;
        self.tasks.write(&record)?;
        Ok(HeartbeatReply { task_id: id.to_string(), lease_expires_at: expires.to_string() })
    }

    /// `task_complete`: records the result; dependents whose last prerequisite this was become ready.
    pub fn task_complete(&self, req: CompleteRequest) -> Result<CompleteReply> {
        let id = self.resolve_task(&req.task_id)?;
        let now = self.clock.now();
        let result_data = req.result_data.map(|v| v.to_string());
        if let Some(r) = &result_data {
            task::check_json("result_data", r)?;
        }
        {
            let _lock = self.ledger.lock()?;
            let mut record = self.tasks.read(&id)?;
            check_holder(&record, req.lease_id.as_deref())?;
            let by = req.agent.clone().or_else(|| record.lease.as_ref().map(|l| l.holder.clone()));
            record.state = State::Completed;
            record.completed_at = Some(now);
            record.lease = None;
            record.result_data = result_data;
            let code = self.ledger.code_head().map(|c| format!("{CODE_NOTE}{c}"));
            record.record_event(now, "completed", by.as_deref(), code);
            self.tasks.write(&record)?;
            self.publish_settled(&id, ClaimState::Finished("completed".into()));
        }
        // Which dependents are ready now: statuses only, no priorities or finished work in full.
        let view = self.queue_view_with(&[], ViewLoad::Full, Scope::Ready(None))?;
        let unblocked = view
            .position(&id)
            .map(|i| {
                view.graph.dependents[i]
                    .iter()
                    .filter(|&&j| view.derived[j].status == Status::Ready)
                    .map(|&j| view.heads[j].id.to_string())
                    .collect()
            })
            .unwrap_or_default();
        Ok(CompleteReply {
            task_id: id.to_string(),
            status: Status::Completed,
            completed_at: now.to_string(),
            unblocked_task_ids: unblocked,
        })
    }

    /// `task_fail`: retries with backoff while retries remain, else fails and cancels dependents.
    pub fn task_fail(&self, req: FailRequest) -> Result<FailReply> {
        let id = self.resolve_task(&req.task_id)?;
        let now = self.clock.now();
        let message = req.error_message.trim().to_string();
        if message.is_empty() {
            return Err(Error::invalid("error_message", "say what went wrong: error_message cannot be empty"));
        }
        task::check_chars("error_message", &message, task::MAX_ERROR_MESSAGE)?;
        let _lock = self.ledger.lock()?;
        let mut record = self.tasks.read(&id)?;
        check_holder(&record, req.lease_id.as_deref())?;
        let by = req.agent.clone().or_else(|| record.lease.as_ref().map(|l| l.holder.clone()));
        record.lease = None;
        record.error_message = Some(message.clone());
        let mut cascaded = Vec::new();
        if record.retry_count < record.max_retries {
            let backoff = self.backoff_seconds(record.retry_count);
            record.retry_count += 1;
            record.state = State::Pending;
            record.not_before = Some(now.plus_seconds(backoff as f64));
            record.record_event(now, "retried", by.as_deref(), Some(message));
            self.tasks.write(&record)?;
            self.publish_settled(&id, ClaimState::Released);
        } else {
            record.state = State::Failed;
            record.completed_at = Some(now);
            record.record_event(now, "failed", by.as_deref(), Some(message));
            self.tasks.write(&record)?;
            self.publish_settled(&id, ClaimState::Finished("failed".into()));
            let view = self.queue_view()?;
            cascaded = self.cascade_cancel(&view, &id, now, &format!("prerequisite {id} failed"))?;
        }
        Ok(FailReply {
            task_id: id.to_string(),
            status: if record.state == State::Failed { Status::Failed } else { Status::Pending },
            retry_count: record.retry_count,
            max_retries: record.max_retries,
            retry_at: record.not_before.filter(|_| record.state == State::Pending).map(|t| t.to_string()),
            cascaded_task_ids: cascaded.iter().map(Id::to_string).collect(),
        })
    }

    /// `task_cancel`: cancels a task and its unfinished dependents; refuses a finished task.
    pub fn task_cancel(&self, req: CancelRequest) -> Result<CancelReply> {
        let id = self.resolve_task(&req.task_id)?;
        let now = self.clock.now();
        if let Some(r) = &req.reason {
            task::check_chars("reason", r, 2000)?;
        }
        let _lock = self.ledger.lock()?;
        let mut record = self.tasks.read(&id)?;
        let state = effective_state(&record, now);
        if state.is_terminal() {
            return Err(Error::conflict(format!(
                "task {id} is already {}; only unfinished tasks can be cancelled",
                state.as_str()
            )));
        }
        record.state.check_transition(State::Cancelled, &id)?;
        record.state = State::Cancelled;
        record.lease = None;
        record.completed_at = Some(now);
        record.record_event(now, "cancelled", None, req.reason.clone());
        self.tasks.write(&record)?;
        self.publish_settled(&id, ClaimState::Finished("cancelled".into()));
        let view = self.queue_view()?;
        let cascaded = self.cascade_cancel(&view, &id, now, &format!("prerequisite {id} was cancelled"))?;
        Ok(CancelReply {
            cancelled_task_id: id.to_string(),
            total_cancelled: 1 + cascaded.len(),
            cascaded_task_ids: cascaded.iter().map(Id::to_string).collect(),
        })
    }

    /// `task_update`: changes the plan of an unfinished task; prerequisites only while it waits.
    pub fn task_update(&self, req: UpdateRequest) -> Result<TaskDetail> {
        let id = self.resolve_task(&req.task_id)?;
        let now = self.clock.now();
        let _lock = self.ledger.lock()?;
        let view = self.queue_view()?;
        let mut record = self.tasks.read(&id)?;
        if effective_state(&record, now).is_terminal() {
            return Err(Error::conflict(format!(
                "task {id} is {}; a finished task cannot change",
                record.state.as_str()
            )));
        }
        let mut changes = Vec::new();
        if let Some(s) = req.summary {
            record.summary = s.trim().to_string();
            changes.push("summary");
        }
        if let Some(p) = req.base_priority {
            record.base_priority = p;
            changes.push("base_priority");
        }
        if let Some(d) = req.deadline {
            record.deadline = if d.is_empty() {
                None
            } else {
                Some(Timestamp::parse(&d).map_err(|e| Error::invalid("deadline", e.message))?)
            };
            changes.push("deadline");
        }
        if let Some(a) = req.agent_type {
            record.agent_type = a;
            changes.push("agent_type");
        }
        if let Some(m) = req.milestone {
            if !m.is_empty() {
                self.check_milestone(&m)?;
            }
            record.milestone = Some(m).filter(|m| !m.is_empty());
            changes.push("milestone");
        }
        if !req.add_prerequisites.is_empty() || !req.remove_prerequisites.is_empty() {
            if record.state != State::Pending {
                return Err(Error::conflict(format!(
                    "task {id} is {}; prerequisites can change only while it waits",
                    record.state.as_str()
                )));
            }
            for text in &req.remove_prerequisites {
                let p = store::resolve(text, record.prerequisites.iter())
                    .map_err(|e| prefix_error("remove_prerequisites", text, e))?;
                record.prerequisites.retain(|x| x != &p);
            }
            let me = view.position(&id).expect("the task is in the view");
            for text in &req.add_prerequisites {
                let p = store::resolve(text, view.heads.iter().map(|h| &h.id))
                    .map_err(|e| prefix_error("add_prerequisites", text, e))?;
                let pi = view.position(&p).expect("resolved ids are in the view");
                if p == id {
                    return Err(Error::cycle(&[id.to_string(), id.to_string()]));
                }
                if let Some(path) = view.graph.upstream_path(pi, me) {
                    let mut cycle = vec![id.to_string()];
                    cycle.extend(path.iter().map(|&i| view.heads[i].id.to_string()));
                    return Err(Error::cycle(&cycle));
                }
                if matches!(view.derived[pi].state, State::Failed | State::Cancelled) {
                    return Err(Error::conflict(format!(
                        "prerequisite {p} is {}; the task could never run",
                        view.derived[pi].state.as_str()
                    )));
                }
                if !record.prerequisites.contains(&p) {
                    record.prerequisites.push(p);
                }
            }
            changes.push("prerequisites");
        }
        if changes.is_empty() {
            return Err(Error::invalid("", "nothing to change: give at least one field to update"));
        }
        record.record_event(now, "updated", req.agent.as_deref(), Some(changes.join(", ")));
        record.validate()?;
        self.tasks.write(&record)?;
        drop(view);
        let view = self.queue_view()?;
        Ok(detail(&view, &record, now))
    }

    /// Cancels every unfinished task downstream of `root`, re-reading each under the caller's lock.
    fn cascade_cancel(&self, view: &QueueView, root: &Id, now: Timestamp, cause: &str) -> Result<Vec<Id>> {
        let Some(start) = view.position(root) else {
            return Ok(Vec::new());
        };
        let mut cancelled = Vec::new();
        let mut seen = HashSet::from([start]);
        let mut queue = VecDeque::from([start]);
        while let Some(i) = queue.pop_front() {
            for &j in &view.graph.dependents[i] {
                if !seen.insert(j) {
                    continue;
                }
                queue.push_back(j);
                let Ok(mut record) = self.tasks.read(&view.heads[j].id) else {
                    continue;
                };
                if record.state.is_terminal() {
                    continue;
                }
                record.state = State::Cancelled;
                record.lease = None;
                record.completed_at = Some(now);
                record.record_event(now, "cancelled", None, Some(cause.to_string()));
                self.tasks.write(&record)?;
                cancelled.push(record.id);
            }
        }
        Ok(cancelled)
    }

    fn backoff_seconds(&self, retry_count: u32) -> u64 {
        let q = &self.config.queue;
        q.retry_backoff_seconds.saturating_mul(1u64 << retry_count.min(30)).min(q.retry_backoff_max_seconds)
    }
}

/// Ready tasks, optionally of one agent type, the best [`CLAIM_RANKED`] first and in order; the
/// rest follow unordered (a claim rarely gets past the first few, so they are sorted only if needed).
fn claim_candidates(view: &QueueView, agent_type: Option<&str>) -> Vec<usize> {
    let mut ready: Vec<usize> = (0..view.heads.len())
        .filter(|&i| view.derived[i].status == Status::Ready && agent_type.is_none_or(|a| view.agent_type(i) == a))
        .collect();
    view.rank_best(&mut ready, CLAIM_RANKED);
    ready
}

/// How a completion event names the code commit checked out where the task was completed
/// (`abathur review` shows it).
pub const CODE_NOTE: &str = "at code ";

/// Where a page of `task_list` ended: the ranking's time and the last row's place in it.
struct ListCursor {
    as_of: Timestamp,
    last: RankKey,
}

impl ListCursor {
    fn parse(text: &str) -> Result<ListCursor> {
        let bad = || {
            Error::invalid("cursor", format!("`{text}` is not a cursor a task list returned"))
                .hint("pass the next_cursor of the previous page, or start again without a cursor")
        };
        let parts: Vec<&str> = text.split('.').collect();
        let [version, as_of, priority, submitted, id] = parts.as_slice() else { return Err(bad()) };
        if *version != "c1" {
            return Err(bad());
        }
        let number = |s: &str| s.parse::<i64>().map_err(|_| bad());
        let priority = u64::from_str_radix(priority, 16).map(f64::from_bits).map_err(|_| bad())?;
        Ok(ListCursor {
            as_of: Timestamp::from_millis(number(as_of)?),
            last: RankKey {
                priority,
                submitted_at: Timestamp::from_millis(number(submitted)?),
                id: Id::parse(id).map_err(|_| bad())?,
            },
        })
    }
}

impl std::fmt::Display for ListCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let last = &self.last;
        write!(f, "c1.{}.{:x}.{}.{}", self.as_of.millis(), last.priority.to_bits(), last.submitted_at.millis(), last.id)
    }
}

/// The longest a claim waits for work (`wait_seconds`).
const MAX_CLAIM_WAIT_SECONDS: f64 = 600.0;
/// How often a waiting claim looks for a change of the ledger.
const CLAIM_WAIT_POLL: std::time::Duration = std::time::Duration::from_millis(20);

/// Candidates a claim ranks exactly before it needs more (see [`claim_candidates`]).
const CLAIM_RANKED: usize = 128;

/// The state a task is in once an expired lease is taken into account.
fn effective_state(record: &TaskRecord, now: Timestamp) -> State {
    match (&record.state, &record.lease) {
        (State::Running, Some(l)) if l.expires_at <= now => {
            if record.retry_count < record.max_retries {
                State::Pending
            } else {
                State::Failed
            }
        }
        (s, _) => *s,
    }
}

/// Makes an expired lease permanent on `record`: back to the queue (one retry used), or failed.
/// Returns the former holder when it did.
fn settle_expired(record: &mut TaskRecord, now: Timestamp) -> Option<String> {
    let lease = record.lease.clone().filter(|l| record.state == State::Running && l.expires_at <= now)?;
    let note = format!("lease of {} expired at {}", lease.holder, lease.expires_at);
    record.lease = None;
    record.error_message = Some(note.clone());
    if record.retry_count < record.max_retries {
        record.retry_count += 1;
        record.state = State::Pending;
        record.not_before = None;
        record.record_event(now, "expired", Some(&lease.holder), Some(note));
    } else {
        record.state = State::Failed;
        record.completed_at = Some(now);
        record.record_event(now, "failed", Some(&lease.holder), Some(note));
    }
    Some(lease.holder)
}

/// Refuses heartbeat/complete/fail unless the task is running and, when a lease id is given, held by it.
fn check_holder(record: &TaskRecord, lease_id: Option<&str>) -> Result<()> {
    let id = &record.id;
    match (&record.state, &record.lease) {
        (State::Running, Some(lease)) => match lease_id {
            Some(given) if given != lease.lease_id => Err(wrong_lease(record, lease, given)),
            _ => Ok(()),
        },
        (state, _) if state.is_terminal() => {
            Err(Error::conflict(format!("task {id} is already {}; a finished task cannot change", state.as_str())))
        }
        _ => Err(Error::conflict(format!(
            "task {id} is not running (its lease expired or it was never claimed); claim it first"
        ))),
    }
}

/// Says why `given` is not `lease`: not a lease id at all, a lease that lapsed before this claim,
/// or another lease id (lease ids are time-ordered, so an older one is an earlier claim's).
fn wrong_lease(record: &TaskRecord, lease: &Lease, given: &str) -> Error {
    let id = &record.id;
    let holder = &lease.holder;
    let lapsed = record.events.iter().any(|e| e.event == "expired");
    match (Id::parse(given), Id::parse(&lease.lease_id)) {
        (Err(_), _) => {
            Error::invalid("lease_id", format!("`{given}` is not a lease id; task {id} is held by {holder}"))
                .hint("give the 26-character lease_id your claim returned")
        }
        (Ok(old), Ok(current)) if lapsed && old < current => {
            Error::conflict(format!("your lease on task {id} lapsed and the task was claimed again, by {holder}"))
                .hint("drop this task and claim another; heartbeat more often than the lease lasts")
        }
        _ => Error::conflict(format!("task {id} is held by {holder} under another lease, not the one you gave"))
            .hint("check the lease_id your claim returned"),
    }
}

fn prefix_error(field: &str, text: &str, e: Error) -> Error {
    match e.kind {
        ErrorKind::NotFound => Error::new(ErrorKind::NotFound, format!("{field}: no task matches `{text}`"))
            .hint("`abathur task list` shows task ids"),
        _ => Error { message: format!("{field}: {}", e.message.trim_start_matches(&format!("{field}: "))), ..e },
    }
}

fn warnings(view: &QueueView) -> Vec<String> {
    view.problems.iter().map(|p| p.message.clone()).collect()
}

fn json_of(text: &Option<String>) -> Option<serde_json::Value> {
    text.as_deref().and_then(|t| serde_json::from_str(t).ok())
}

/// The full reply for one task: the record's fields plus what the view derives.
pub fn detail(view: &QueueView, r: &TaskRecord, now: Timestamp) -> TaskDetail {
    let i = view.position(&r.id);
    let dependents = view.dependents_of(&r.id).iter().map(Id::to_string).collect();
    let blocked_by = i.map(|i| view.blocked_by(i)).unwrap_or_default();
    detail_of(r, now, i.map(|i| &view.derived[i]), blocked_by, dependents)
}

/// The reply for a claim that took the task now in `detail`.
fn claimed(mut detail: TaskDetail, lease_id: String, expires: Timestamp, scope: String) -> ClaimReply {
    detail.status = Status::Running;
    detail.blocked_by.clear();
    ClaimReply {
        claimed: true,
        task: Some(detail),
        lease_id: Some(lease_id),
        lease_expires_at: Some(expires.to_string()),
        scope,
        message: None,
        paused: None,
        milestone_context: None,
    }
}

/// A task's reply from its record and what was derived of it (`d`, when known).
fn detail_of(
    r: &TaskRecord,
    now: Timestamp,
    d: Option<&view::Derived>,
    blocked_by: Vec<BlockedBy>,
    dependents: Vec<String>,
) -> TaskDetail {
    let (status, state) = match d {
        Some(d) => (d.status, d.state),
        None => (if r.state == State::Pending { Status::Ready } else { status_of(r.state) }, r.state),
    };
    let lease = if state == State::Running { r.lease.clone() } else { None };
    TaskDetail {
        id: r.id.to_string(),
        summary: r.summary.clone(),
        description: r.description.clone(),
        status,
        blocked_by,
        calculated_priority: d.map_or(0.0, |d| d.calculated_priority),
        base_priority: r.base_priority,
        source: r.source,
        agent_type: r.agent_type.clone(),
        prerequisites: r.prerequisites.iter().map(Id::to_string).collect(),
        dependents,
        dependency_depth: d.map_or(0, |d| d.dependency_depth),
        downstream_depth: d.map_or(0, |d| d.downstream_depth),
        blocking_count: d.map_or(0, |d| d.blocking_count),
        deadline: r.deadline.map(|t| t.to_string()),
        estimated_duration_seconds: r.estimated_duration_seconds,
        milestone: r.milestone.clone(),
        parent_task_id: r.parent_task_id.as_ref().map(Id::to_string),
        session_id: r.session_id.as_ref().map(Id::to_string),
        created_by: r.created_by.clone(),
        retry_count: d.map_or(r.retry_count, |d| d.retry_count),
        max_retries: r.max_retries,
        retry_at: r.not_before.filter(|t| *t > now && state == State::Pending).map(|t| t.to_string()),
        lease_timeout_seconds: r.lease_timeout_seconds,
        lease,
        error_message: r.error_message.clone(),
        input_data: json_of(&r.input_data),
        result_data: json_of(&r.result_data),
        submitted_at: r.submitted_at.to_string(),
        started_at: r.started_at.map(|t| t.to_string()),
        completed_at: r.completed_at.map(|t| t.to_string()),
        last_updated_at: r.last_updated_at.to_string(),
        events: r.events.clone(),
    }
}

fn status_of(state: State) -> Status {
    Status::from(state)
}

impl Service {
    fn summary(&self, view: &QueueView, i: usize) -> Option<TaskSummary> {
        let record = self.tasks.read(&view.heads[i].id).ok()?;
        Some(summary_row(view, i, &record))
    }
}

fn summary_row(view: &QueueView, i: usize, record: &TaskRecord) -> TaskSummary {
    let (h, d) = (&view.heads[i], &view.derived[i]);
    TaskSummary {
        id: h.id.to_string(),
        summary: record.summary.clone(),
        status: d.status,
        calculated_priority: d.calculated_priority,
        base_priority: h.base_priority,
        source: h.source,
        agent_type: view.agent_type(i).to_string(),
        milestone: view.milestone(i).map(str::to_string),
        prerequisite_count: h.prerequisites.len(),
        blocked_by: view.blocked_by(i),
        deadline: h.deadline.map(|t| t.to_string()),
        submitted_at: h.submitted_at.to_string(),
        lease_holder: if d.state == State::Running { record.lease.as_ref().map(|l| l.holder.clone()) } else { None },
    }
}
