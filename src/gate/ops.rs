//! Gate operations, as methods of [`Service`]: decide, resolve, status.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};
use crate::gate::record::{Decision, GateRecord, Issue};
use crate::gate::state;
use crate::id::Id;
use crate::queue::task::{TaskRecord, check_chars};
use crate::service::Service;

const REPORT_TEMPLATE: &str = include_str!("../../templates/gate-report.md.j2");

/// `gate <decision> M`: record a go/no-go decision.
#[derive(Clone, Debug, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DecideRequest {
    /// The milestone whose gate is decided.
    pub milestone: String,
    /// approve, conditional, revise or escalate.
    pub decision: Option<Decision>,
    /// Why (required).
    pub rationale: String,
    /// Issues, as `severity: description` (low, medium, high, critical).
    #[serde(default)]
    pub issues: Vec<String>,
    /// Recommendations.
    #[serde(default)]
    pub recommendations: Vec<String>,
    /// Context for the next milestone's agents.
    #[serde(default)]
    pub next_milestone_context: Option<String>,
    /// Record without signing, marked unsigned (pending a signature).
    #[serde(default)]
    pub unsigned: bool,
    /// Evidence to embed (as for `gate check`); the milestone is taken from `milestone`.
    #[serde(default)]
    pub evidence: Option<crate::gate::check::CheckRequest>,
}

/// Reply of a gate decision.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
pub struct DecideReply {
    /// The decision record's id.
    pub decision_id: String,
    /// The milestone.
    pub milestone: String,
    /// What was decided.
    pub decision: Decision,
    /// The commit holding the report and record.
    pub commit: String,
    /// The annotated tag sealing it.
    pub tag: String,
    /// Whether commit and tag are signed.
    pub signed: bool,
    /// The report, relative to the work tree.
    pub report: String,
    /// Tasks the decision created (follow-ups or revisions).
    pub follow_up_task_ids: Vec<String>,
    /// Whether the next milestone's tasks may now be claimed.
    pub next_milestone_opens: bool,
}

/// One milestone's gate.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
pub struct GateStatus {
    /// The milestone.
    pub milestone: String,
    /// Its order.
    pub order: u32,
    /// `undecided` or the latest decision.
    pub state: String,
    /// When it was decided.
    pub decided_at: Option<String>,
    /// Who decided.
    pub decided_by: Option<String>,
    /// Whether the latest decision is signed.
    pub signed: Option<bool>,
    /// Its tag.
    pub tag: Option<String>,
}

/// Reply of `gate status`.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
pub struct GateStatusReply {
    /// Every milestone's gate, in order.
    pub gates: Vec<GateStatus>,
    /// Set while an escalation pauses every claim.
    pub paused: Option<String>,
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
        let dir = self.gates_dir();
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return (Vec::new(), Vec::new()),
            Err(e) => return (Vec::new(), vec![Error::io(&dir, e)]),
        };
        let mut records = Vec::new();
        let mut problems = Vec::new();
        for path in entries.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|e| e == "toml")) {
            match crate::queue::store::read_limited(&path).and_then(|t| GateRecord::from_toml(&t, &path)) {
                Ok(r) => records.push(r),
                Err(e) => problems.push(e),
            }
        }
        records.sort_by_key(|r| r.id);
        (records, problems)
    }

    /// `gate status`: every milestone's gate.
    pub fn gate_status(&self) -> Result<GateStatusReply> {
        let (milestones, _) = self.milestones()?;
        let records = self.gate_records();
        let latest = state::latest(&records);
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
                }
            })
            .collect();
        Ok(GateStatusReply { gates, paused: state::blocks(&milestones, &records).paused })
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
        let records = self.gate_records();
        let latest = state::latest(&records);
        if !latest.get(milestone).is_some_and(|r| r.decision == Decision::Escalate) {
            return Err(Error::conflict(format!(
                "gate {milestone} is {}, not escalated; there is nothing to resolve",
                state::describe(&latest, milestone)
            )));
        }
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
        let context = req.next_milestone_context.unwrap_or_default();
        check_chars("next_milestone_context", &context, 10_000)?;

        // Everything that can be refused is checked before anything is written.
        let (milestones, _) = self.milestones()?;
        let milestone = milestones.iter().find(|m| m.id == req.milestone).cloned().ok_or_else(|| {
            Error::new(ErrorKind::NotFound, format!("no milestone {}", req.milestone))
                .hint("`abathur milestone list` shows the milestones")
        })?;
        let records = self.gate_records();
        let latest = state::latest(&records);
        if decision != Decision::Resolved {
            if let Some(earlier) = milestones
                .iter()
                .filter(|m| m.order < milestone.order)
                .find(|m| !latest.get(&m.id).is_some_and(|r| r.decision.opens()))
            {
                return Err(Error::conflict(format!(
                    "gate {} is {}; gates are decided in milestone order, so decide {} first",
                    earlier.id,
                    state::describe(&latest, &earlier.id),
                    earlier.id
                )));
            }
            if decision == Decision::Conditional && issues.is_empty() {
                return Err(Error::invalid(
                    "issues",
                    "a conditional approval lists its issues (--issue \"medium: ...\"); each becomes a follow-up task",
                ));
            }
        }
        let repo = self.ledger.repo()?;
        let who = crate::git::identity(&repo)?;
        let signer = if req.unsigned { None } else { Some(crate::git::signer(&repo)?) };
        let mut evidence = req.evidence.clone().unwrap_or_default();
        evidence.milestone = milestone.id.clone();
        let check = self.gate_check(evidence)?;
        // The code the milestone's work landed in: the main work tree's HEAD, since the last decision.
        let head =
            repo.head().ok().and_then(|h| h.peel_to_commit().ok()).map(|c| c.id().to_string()).unwrap_or_default();
        let previous = records
            .last()
            .and_then(|r| r.commit_range.split_once("..").map(|(_, end)| end.to_string()))
            .unwrap_or_default();
        let commit_range = format!("{previous}..{head}");
        let id = Id::generate();
        let tag = GateRecord::tag_name(&milestone.id, &id);
        if repo.find_reference(&format!("refs/tags/{tag}")).is_ok() {
            return Err(Error::conflict(format!("tag {tag} exists already")));
        }

        let now = self.clock.now();
        let decided_by = format!("{} <{}>", who.name().unwrap_or(""), who.email().unwrap_or(""));
        let mut written: Vec<PathBuf> = Vec::new();
        // Held until the files of a failed decision are gone again, so its release commits nothing.
        let lock = self.ledger.lock()?;
        // Writes a killed writer left uncommitted go first, in a commit of their own.
        lock.commit()?;
        let result = (|| -> Result<DecideReply> {
            let mut follow_ups = Vec::new();
            if matches!(decision, Decision::Conditional | Decision::Revise) {
                let kind = if decision == Decision::Conditional { "Follow-up" } else { "Revision" };
                for issue in &issues {
                    let task = self.gate_task(&milestone.id, &id, kind, issue, &decided_by, now);
                    self.tasks.write(&task)?;
                    written.push(self.tasks.path(&task.id));
                    follow_ups.push(task.id);
                }
            }
            let record = GateRecord {
                id,
                milestone: milestone.id.clone(),
                decision,
                rationale: rationale.clone(),
                decided_by: decided_by.clone(),
                decided_at: now,
                signed: !req.unsigned,
                tag: tag.clone(),
                issues: issues.clone(),
                recommendations: req.recommendations.clone(),
                next_milestone_context: context.clone(),
                follow_up_task_ids: follow_ups.clone(),
                commit_range: commit_range.clone(),
                criteria: check.criteria.clone(),
                metrics: check.metrics.clone(),
            };
            let progress = self.milestone_show(&milestone.id)?.progress;
            let report = self.render_report(&record, &milestone, &progress)?;
            let dir = self.gates_dir();
            std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
            for (ext, bytes) in [("md", report.into_bytes()), ("toml", record.to_toml().into_bytes())] {
                let path = dir.join(format!("{id}.{ext}"));
                self.ledger.write(&path, &bytes)?;
                written.push(path);
            }
            let paths: Vec<String> = written.iter().map(|p| self.ledger.rel(p)).collect();
            let title = format!("Gate {}: {}", milestone.id, decision.as_str());
            let message = format!(
                "{title}\n\n{rationale}\n\nAbathur-Decision: {}\nAbathur-Milestone: {}\nAbathur-Gate: {id}\n",
                decision.as_str(),
                milestone.id
            );
            let commit = crate::ledger::history::commit(
                &repo,
                self.ledger.root(),
                &crate::ledger::history::Commit {
                    paths: &paths,
                    message: &message,
                    signer: signer.as_ref(),

                    allow_empty: true,
                },
            )?
            .map(|oid| oid.to_string())
            .unwrap_or_default();
            crate::git::tag(&repo, &tag, &commit, &format!("{title}\n\n{rationale}"), signer.as_ref())?;
            Ok(DecideReply {
                decision_id: id.to_string(),
                milestone: milestone.id.clone(),
                decision,
                commit,
                tag: tag.clone(),
                signed: signer.is_some(),
                report: written
                    .iter()
                    .find(|p| p.extension().is_some_and(|e| e == "md"))
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
                follow_up_task_ids: follow_ups.iter().map(Id::to_string).collect(),
                next_milestone_opens: decision.opens(),
            })
        })();
        if result.is_err() {
            // Nothing half-done: a decision that could not be sealed leaves no files behind.
            for path in &written {
                let _ = std::fs::remove_file(path);
            }
        }
        drop(lock);
        result
    }

    fn gate_task(
        &self,
        milestone: &str,
        gate: &Id,
        kind: &str,
        issue: &Issue,
        by: &str,
        now: crate::time::Timestamp,
    ) -> TaskRecord {
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
        let source = std::fs::read_to_string(&override_path).unwrap_or_else(|_| REPORT_TEMPLATE.to_string());
        let mut env = minijinja::Environment::new();
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
