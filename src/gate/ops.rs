//! Gate operations, as methods of [`Service`]: decide, resolve, status.

use std::path::PathBuf;

use crate::error::{Error, ErrorKind, Result};
use crate::gate::api::{DecideReply, DecideRequest, GateStatus, GateStatusReply};
use crate::gate::record::{Decision, GateRecord, Issue};
use crate::gate::state;
use crate::git::sign::git_error;
use crate::id::Id;
use crate::queue::task::{TaskRecord, check_chars};
use crate::service::Service;

const REPORT_TEMPLATE: &str = include_str!("../../templates/gate-report.md.j2");

/// Who makes a decision's tasks, and for whom.
struct Maker<'a> {
    by: &'a str,
    agent: bool,
    agent_type: &'a str,
}

impl Service {
    fn gates_dir(&self) -> PathBuf {
        self.ledger.root().join("gates")
    }

    /// Every gate decision record (unreadable files are skipped here; `abathur check` reports them).
    pub fn gate_records(&self) -> Vec<GateRecord> {
        self.gate_records_checked().0
    }

    /// Every readable gate decision record, and a problem for each file that cannot be read.
    pub fn gate_records_checked(&self) -> (Vec<GateRecord>, Vec<Error>) {
        match crate::ledger::codec::read_all(&self.gates_dir(), "toml", GateRecord::from_toml) {
            Ok((mut records, problems)) => {
                records.sort_by_key(|r| r.id);
                (records, problems)
            }
            Err(e) => (Vec::new(), vec![e]),
        }
    }

    /// `gate status`: every milestone's gate.
    pub fn gate_status(&self) -> Result<GateStatusReply> {
        let (milestones, _) = self.milestones()?;
        let records = self.gate_records();
        let latest = state::latest(&records);
        let untrusted = self.untrusted_decisions(&records);
        let gates = milestones
            .iter()
            .map(|m| {
                let r = latest.get(&m.id);
                GateStatus {
                    milestone: m.id.clone(),
                    order: m.order,
                    state: state::describe(&latest, &m.id),
                    decided_at: r.map(|r| r.decided_at.to_string()),
                    decided_by: r.map(|r| r.decided_by.clone()),
                    signed: r.map(|r| r.signed),
                    tag: r.map(|r| r.tag.clone()),
                    verification: r.map(|r| match untrusted.get(&r.id) {
                        Some(why) => why.clone(),
                        None if !r.signed => "unsigned (allowed by [gates] allow_unsigned)".into(),
                        None => "verified".into(),
                    }),
                }
            })
            .collect();
        Ok(GateStatusReply { gates, paused: state::blocks(&milestones, &records, &untrusted).paused })
    }

    /// `gate approve|conditional|revise|escalate M`: renders the report, writes the record, creates
    /// follow-up or revision tasks, and seals everything in one signed commit and a signed tag.
    pub fn gate_decide(&self, req: DecideRequest) -> Result<DecideReply> {
        let decision = req.decision.ok_or_else(|| {
            Error::invalid("decision", "say which decision: approve, conditional, revise or escalate")
        })?;
        if decision == Decision::Resolved {
            return Err(Error::invalid("decision", "use `abathur gate resolve` to resolve an escalation"));
        }
        self.record_decision(req, decision)
    }

    /// `gate resolve M`: a human resolves an escalation; claims resume and the gate awaits a decision.
    pub fn gate_resolve(&self, milestone: &str, rationale: &str, unsigned: bool) -> Result<DecideReply> {
        let req = DecideRequest {
            milestone: milestone.to_string(),
            rationale: rationale.to_string(),
            unsigned,
            ..Default::default()
        };
        self.record_decision(req, Decision::Resolved)
    }

    fn record_decision(&self, req: DecideRequest, decision: Decision) -> Result<DecideReply> {
        let rationale = req.rationale.trim().to_string();
        if rationale.is_empty() {
            return Err(Error::invalid("rationale", "every decision needs a rationale (--rationale)"));
        }
        check_chars("rationale", &rationale, 10_000)?;
        let issues = req.issues.iter().map(|i| Issue::parse(i)).collect::<Result<Vec<_>>>()?;
        for r in &req.recommendations {
            check_chars("recommendation", r, 2000)?;
        }
        let context = req.next_milestone_context.clone().unwrap_or_default();
        check_chars("next_milestone_context", &context, 10_000)?;
        if let Some(t) = &req.agent_type {
            crate::queue::task::validate_name("agent_type", t)?;
        }
        if let Some(a) = &req.agent {
            check_chars("agent", a, 200)?;
        }
        if decision == Decision::Conditional && issues.is_empty() {
            return Err(Error::invalid(
                "issues",
                "a conditional approval lists its issues (--issue \"medium: ...\"); each becomes a follow-up task",
            ));
        }
        let (milestones, _) = self.milestones()?;
        let milestone = milestones.iter().find(|m| m.id == req.milestone).cloned().ok_or_else(|| {
            Error::new(ErrorKind::NotFound, format!("no milestone {}", req.milestone))
                .hint("`abathur milestone list` shows the milestones")
        })?;
        let repo = self.ledger.repo()?;
        let who = crate::git::identity(&repo)?;
        let signer = if req.unsigned { None } else { Some(crate::git::signer(&repo)?) };
        let mut evidence = req.evidence.clone().unwrap_or_default();
        evidence.milestone = milestone.id.clone();
        let check = self.gate_check(evidence)?;
        let head =
            repo.head().ok().and_then(|h| h.peel_to_commit().ok()).map(|c| c.id().to_string()).unwrap_or_default();
        let id = Id::generate();
        let tag = GateRecord::tag_name(&milestone.id, &id);
        let now = self.clock.now();
        let decided_by = format!("{} <{}>", who.name().unwrap_or(""), who.email().unwrap_or(""));
        let title = format!("Gate {}: {}", milestone.id, decision.as_str());
        let message = format!(
            "{title}\n\n{rationale}\n\nAbathur-Decision: {}\nAbathur-Milestone: {}\nAbathur-Gate: {id}\n",
            decision.as_str(),
            milestone.id
        );

        // 1. Under the lock: the state it decides on, and the files it will write, as a tree.
        let (records, gate_files, follow_ups, before, parent, tree) = {
            let lock = self.ledger.lock()?;
            // Writes a killed writer left uncommitted go first, in a commit of their own.
            lock.commit()?;
            let records = self.gate_records_strict()?;
            let before = self.decision_allowed(&milestones, &milestone, &records, decision)?;
            let mut files: Vec<(String, Vec<u8>)> = Vec::new();
            let mut follow_ups = Vec::new();
            if matches!(decision, Decision::Conditional | Decision::Revise) {
                let kind = if decision == Decision::Conditional { "Follow-up" } else { "Revision" };
                let agent_type = match &req.agent_type {
                    Some(t) => t.clone(),
                    None => self.milestone_agent_type(&milestone.id)?,
                };
                let maker = Maker {
                    by: req.agent.as_deref().unwrap_or(&decided_by),
                    agent: req.agent.is_some(),
                    agent_type: &agent_type,
                };
                for issue in &issues {
                    let task = self.gate_task(&milestone.id, &id, kind, issue, &maker, now);
                    files.push((self.ledger.rel(&self.tasks.path(&task.id)), task.to_toml().into_bytes()));
                    follow_ups.push(task.id);
                }
            }
            let previous_range = records
                .last()
                .and_then(|r| r.commit_range.split_once("..").map(|(_, end)| end.to_string()))
                .unwrap_or_default();
            let record = GateRecord {
                id,
                milestone: milestone.id.clone(),
                decision,
                rationale: rationale.clone(),
                decided_by: decided_by.clone(),
                agent: req.agent.clone().unwrap_or_default(),
                decided_at: now,
                signed: !req.unsigned,
                tag: tag.clone(),
                previous: before.as_ref().map(|(p, _)| *p),
                previous_record: before.as_ref().map(|(_, hash)| hash.clone()).unwrap_or_default(),
                issues: issues.clone(),
                recommendations: req.recommendations.clone(),
                next_milestone_context: context.clone(),
                follow_up_task_ids: follow_ups.clone(),
                commit_range: format!("{previous_range}..{head}"),
                criteria: check.criteria.clone(),
                metrics: check.metrics.clone(),
            };
            let progress = self.milestone_show(&milestone.id)?.progress;
            let report = self.render_report(&record, &milestone, &progress)?;
            let gate_files = [format!("gates/{id}.md"), format!("gates/{id}.toml")];
            files.push((gate_files[0].clone(), report.into_bytes()));
            files.push((gate_files[1].clone(), record.to_toml().into_bytes()));
            let (parent, tree) = crate::ledger::sealed::tree_on_tip(&repo, self.ledger.root(), &files)?;
            (records.len(), gate_files, follow_ups, before, parent, tree)
        };

        // 2. Outside the lock: sign the commit and the tag. A failure leaves only unreferenced objects.
        let tag_message = format!("{title}\n\n{rationale}");
        let prepared =
            crate::ledger::sealed::sign(&repo, tree, parent, &message, (&tag, &tag_message), signer.as_ref())?;

        // 3. Under the lock again: still the same gate state? Then make it all visible at once.
        {
            let lock = self.ledger.lock()?;
            let now_records = self.gate_records_strict()?;
            let now_before = self.decision_allowed(&milestones, &milestone, &now_records, decision)?;
            if now_before.as_ref().map(|(p, _)| p) != before.as_ref().map(|(p, _)| p) || now_records.len() < records {
                return Err(Error::conflict(format!(
                    "gate {} changed while this decision was signed (another decision was recorded); nothing was written",
                    milestone.id
                ))
                .hint(format!("`abathur gate status` shows it; decide again if it still stands: abathur gate {} {}", decision.as_str(), milestone.id)));
            }
            crate::ledger::sealed::apply(&repo, self.ledger.root(), &prepared)?;
            drop(lock);
        }
        Ok(DecideReply {
            decision_id: id.to_string(),
            milestone: milestone.id.clone(),
            decision,
            commit: prepared.commit,
            tag: tag.clone(),
            signed: signer.is_some(),
            report: self.ledger.root().join(&gate_files[0]).display().to_string(),
            follow_up_task_ids: follow_ups.iter().map(Id::to_string).collect(),
            next_milestone_opens: decision.opens() && (signer.is_some() || self.config.gates.allow_unsigned),
            next_step: next_step(decision, &milestone.id, signer.is_some() || self.config.gates.allow_unsigned),
        })
    }

    /// Every gate record, refusing to decide while one cannot be read (it could be the latest).
    fn gate_records_strict(&self) -> Result<Vec<GateRecord>> {
        let (records, problems) = self.gate_records_checked();
        match problems.into_iter().next() {
            Some(e) => Err(e.hint("a gate record that cannot be read could be this gate's latest decision: fix it first (`abathur check`)")),
            None => Ok(records),
        }
    }

    /// Whether `decision` may be made on `milestone` now, and the decision it follows (its id and
    /// the blob id of its record file).
    fn decision_allowed(
        &self,
        milestones: &[crate::milestone::record::MilestoneRecord],
        milestone: &crate::milestone::record::MilestoneRecord,
        records: &[GateRecord],
        decision: Decision,
    ) -> Result<Option<(Id, String)>> {
        let latest = state::latest(records);
        let untrusted = self.untrusted_decisions(records);
        if decision == Decision::Resolved {
            if !latest.get(&milestone.id).is_some_and(|r| r.decision == Decision::Escalate) {
                return Err(Error::conflict(format!(
                    "gate {} is {}, not escalated; there is nothing to resolve",
                    milestone.id,
                    state::describe(&latest, &milestone.id)
                )));
            }
        } else if let Some(earlier) = milestones
            .iter()
            .filter(|m| m.order < milestone.order)
            .find(|m| !latest.get(&m.id).is_some_and(|r| r.decision.opens() && !untrusted.contains_key(&r.id)))
        {
            let doubt = latest.get(&earlier.id).and_then(|r| untrusted.get(&r.id));
            return Err(Error::conflict(format!(
                "gate {} is {}{}; gates are decided in milestone order, so decide {} first",
                earlier.id,
                state::describe(&latest, &earlier.id),
                doubt.map(|w| format!(", {w}")).unwrap_or_default(),
                earlier.id
            )));
        }
        match latest.get(&milestone.id) {
            None => Ok(None),
            Some(r) => {
                let path = self.gates_dir().join(format!("{}.toml", r.id));
                let hash = git2::Oid::hash_file(git2::ObjectType::Blob, &path)
                    .map_err(|e| git_error(&format!("hashing {}", path.display()), e))?;
                Ok(Some((r.id, hash.to_string())))
            }
        }
    }

    /// The agent type most of a milestone's tasks have (ties: the first in name order), else the
    /// configured default: whoever did the milestone's work picks up its follow-ups.
    fn milestone_agent_type(&self, milestone: &str) -> Result<String> {
        let records = self.tasks.load()?;
        let mut counts: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
        for h in records.tasks.iter().filter(|h| h.milestone.map(|m| records.symbols.name(m)) == Some(milestone)) {
            *counts.entry(records.symbols.name(h.agent_type)).or_default() += 1;
        }
        let best = counts.iter().max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0))).map(|(t, _)| t.to_string());
        Ok(best.unwrap_or_else(|| self.config.queue.default_agent_type.clone()))
    }

    fn gate_task(
        &self,
        milestone: &str,
        gate: &Id,
        kind: &str,
        issue: &Issue,
        maker: &Maker<'_>,
        now: crate::time::Timestamp,
    ) -> TaskRecord {
        let by = maker.by;
        let severity =
            serde_json::to_value(issue.severity).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
        let description = format!("{kind} from gate {milestone} ({severity}): {}", issue.description);
        let mut task = TaskRecord::new_waiting(description, now, &self.config.queue);
        task.base_priority = match issue.severity {
            crate::gate::record::Severity::Critical => 10,
            crate::gate::record::Severity::High => 8,
            crate::gate::record::Severity::Medium => 6,
            crate::gate::record::Severity::Low => 4,
        };
        task.milestone = Some(milestone.to_string());
        task.agent_type = maker.agent_type.to_string();
        if maker.agent {
            task.source = crate::queue::task::Source::AgentPlanner;
        }
        task.created_by = Some(by.chars().take(200).collect());
        task.input_data =
            Some(serde_json::json!({ "gate_decision": gate.to_string(), "severity": issue.severity }).to_string());
        task.record_event(now, "created", Some(by), Some(format!("by gate decision {gate}")));
        task
    }

    fn render_report(
        &self,
        record: &GateRecord,
        milestone: &crate::milestone::record::MilestoneRecord,
        progress: &crate::milestone::api::Progress,
    ) -> Result<String> {
        let override_path = self.ledger.root().join("templates/gate-report.md.j2");
        let source =
            crate::ledger::codec::read_optional(&override_path)?.unwrap_or_else(|| REPORT_TEMPLATE.to_string());
        let mut env = minijinja::Environment::new();
        env.add_filter("metric_label", metric_label);
        env.add_filter("metric_unit", metric_unit);
        env.add_filter("figure", figure);
        let mut render = || -> std::result::Result<String, minijinja::Error> {
            env.add_template("report", &source)?;
            env.get_template("report")?.render(minijinja::context! {
                record => minijinja::value::Serde(record),
                milestone => minijinja::value::Serde(milestone),
                progress => minijinja::value::Serde(progress),
            })
        };
        let mut text = render().map_err(|e| {
            Error::new(ErrorKind::Validation, format!("gate report template: {e}"))
                .hint(format!("fix {} or delete it to use the built-in template", override_path.display()))
        })?;
        text.push('\n');
        Ok(text)
    }
}

/// A metric's name as the seed's report writes it: `coverage` is "Code Coverage", `test_pass_rate`
/// "Test Pass Rate", a latency in ms "Performance (read_latency_ms)".
fn metric_label(name: String) -> String {
    match name.as_str() {
        "coverage" => "Code Coverage".into(),
        "test_pass_rate" => "Test Pass Rate".into(),
        n if n.ends_with("_ms") || n.ends_with("_seconds") || n.contains("latency") => format!("Performance ({n})"),
        n => n
            .split('_')
            .map(|w| {
                let mut chars = w.chars();
                chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
            })
            .collect::<Vec<String>>()
            .join(" "),
    }
}

/// The unit a measured figure is printed with, from its name.
fn metric_unit(name: String) -> &'static str {
    match name.as_str() {
        "coverage" | "test_pass_rate" => "%",
        n if n.ends_with("_percent") || n.ends_with("_rate") => "%",
        n if n.ends_with("_ms") => " ms",
        n if n.ends_with("_seconds") || n.ends_with("_s") => " s",
        _ => "",
    }
}

/// A measured figure as people write it: `100`, `96.5`, `12.25` (no `100.0`).
fn figure(value: f64) -> String {
    let text = format!("{value:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// The next step after `decision` on `milestone`'s gate, for the reply.
fn next_step(decision: Decision, milestone: &str, counts: bool) -> String {
    match decision {
        _ if !counts && decision.opens() => format!(
            "the decision is pending a signature and opens nothing: decide {milestone} again with a signing key, or allow unsigned decisions ([gates] allow_unsigned)"
        ),
        Decision::Approve => {
            "plan the next milestone: its tasks are claimable once their prerequisites complete".into()
        }
        Decision::Conditional => format!(
            "plan the next milestone; the follow-up tasks are work of {milestone}, claimed by agents of their type"
        ),
        Decision::Revise => format!(
            "wait for the revision tasks of {milestone} to complete, then check and decide gate {milestone} again"
        ),
        Decision::Escalate => format!(
            "every claim is paused: ask a human to resolve it (`abathur gate resolve {milestone} --rationale \"...\"`), then check and decide gate {milestone} again"
        ),
        Decision::Resolved => format!("claims resume: check and decide gate {milestone} again"),
    }
}
