//! The milestone operations, as methods of [`Service`].

use std::path::PathBuf;

use crate::error::{Error, ErrorKind, Result};
use crate::milestone::api::*;
use crate::milestone::record::{MilestoneRecord, QualityTarget};
use crate::queue::task::{State, Status, TaskRecord};
use crate::service::Service;

/// Milestone plans shipped in the binary, by name.
const EXAMPLES: [(&str, &str); 1] = [("seed-plan", include_str!("../../templates/milestones/seed-plan.toml"))];

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Plan {
    milestone: Vec<MilestoneRecord>,
}

impl Service {
    fn milestones_dir(&self) -> PathBuf {
        self.ledger.root().join("milestones")
    }

    /// Every milestone file, in order; unreadable files are returned as errors beside them.
    pub fn milestones(&self) -> Result<(Vec<MilestoneRecord>, Vec<Error>)> {
        let (mut records, problems) =
            crate::ledger::codec::read_all(&self.milestones_dir(), "toml", MilestoneRecord::from_toml)?;
        records.sort_by(|a, b| (a.order, &a.id).cmp(&(b.order, &b.id)));
        Ok((records, problems))
    }

    /// `milestone add`: defines one milestone.
    pub fn milestone_add(&self, req: AddMilestoneRequest) -> Result<AddMilestoneReply> {
        let _lock = self.ledger.lock()?;
        let (existing, _) = self.milestones()?;
        let order = req.order.unwrap_or_else(|| existing.iter().map(|m| m.order).max().unwrap_or(0) + 1);
        let quality_targets =
            req.quality_targets.iter().map(|t| QualityTarget::parse(t)).collect::<Result<Vec<_>>>()?;
        let record = MilestoneRecord {
            id: req.id,
            title: req.title.trim().to_string(),
            order,
            planned_weeks: req.planned_weeks,
            budget_hours: req.budget_hours,
            description: req.description.unwrap_or_default(),
            acceptance_criteria: req.acceptance_criteria,
            quality_targets,
            todos: Vec::new(),
        };
        self.add_all(&existing, vec![record])
    }

    /// `milestone update`: changes a milestone's plan, all or nothing. Once its gate approved it, the
    /// criteria and targets it was judged by are history and stay as they are.
    pub fn milestone_update(&self, req: UpdateMilestoneRequest) -> Result<MilestoneDetail> {
        crate::queue::task::validate_milestone(&req.id)?;
        let _lock = self.ledger.lock()?;
        let path = self.milestones_dir().join(format!("{}.toml", req.id));
        if !path.exists() {
            return Err(Error::not_found("milestone", &req.id)
                .hint("`abathur milestone list` shows the milestones; `abathur milestone add` defines one"));
        }
        let before = MilestoneRecord::from_toml(&crate::ledger::codec::read_text(&path)?, &path)?;
        let mut record = before.clone();
        let judged = !req.add_criteria.is_empty() || !req.set_targets.is_empty() || !req.remove_targets.is_empty();
        if judged {
            let gate = crate::gate::state::describe(&crate::gate::state::latest(&self.gate_records()), &req.id);
            if gate == "approve" {
                return Err(Error::conflict(format!(
                    "milestone {} is approved; its criteria and targets are what the gate judged",
                    req.id
                ))
                .hint("plan further work as tasks or criteria of a later milestone"));
            }
        }
        if let Some(title) = req.title {
            record.title = title.trim().to_string();
        }
        record.planned_weeks = req.planned_weeks.or(record.planned_weeks);
        record.budget_hours = req.budget_hours.or(record.budget_hours);
        if let Some(description) = req.description {
            record.description = description;
        }
        record.acceptance_criteria.extend(req.add_criteria);
        if let Some(todos) = req.todos {
            record.todos = todos;
        }
        for name in &req.remove_targets {
            let len = record.quality_targets.len();
            record.quality_targets.retain(|t| &t.name != name);
            if record.quality_targets.len() == len {
                return Err(Error::invalid("remove_targets", format!("milestone {} has no target {name}", req.id))
                    .hint("`abathur milestone show` lists its targets"));
            }
        }
        for text in &req.set_targets {
            let target = QualityTarget::parse(text)?;
            match record.quality_targets.iter_mut().find(|t| t.name == target.name) {
                Some(existing) => *existing = target,
                None => record.quality_targets.push(target),
            }
        }
        record.validate()?;
        if record != before {
            self.ledger.write(&path, record.to_toml().as_bytes())?;
        }
        let view = self.queue_view()?;
        self.milestone_detail(&view, record)
    }

    /// `milestone add --example NAME`: defines every milestone of a shipped plan.
    pub fn milestone_add_example(&self, name: &str) -> Result<AddMilestoneReply> {
        let (_, text) = EXAMPLES.iter().find(|(n, _)| *n == name).ok_or_else(|| {
            let known: Vec<&str> = EXAMPLES.iter().map(|(n, _)| *n).collect();
            Error::not_found("example plan", name).hint(format!("shipped plans: {}", known.join(", ")))
        })?;
        let plan: Plan = toml::from_str(text).expect("shipped plans parse");
        let _lock = self.ledger.lock()?;
        let (existing, _) = self.milestones()?;
        self.add_all(&existing, plan.milestone)
    }

    /// Validates `new` against `existing` (unique ids and orders) and writes them; all or nothing.
    fn add_all(&self, existing: &[MilestoneRecord], new: Vec<MilestoneRecord>) -> Result<AddMilestoneReply> {
        let mut reply = AddMilestoneReply { created: Vec::new(), unchanged: Vec::new() };
        let mut planned: Vec<&MilestoneRecord> = existing.iter().collect();
        for record in &new {
            record.validate()?;
            if let Some(same) = planned.iter().find(|m| m.id == record.id) {
                if *same == record {
                    reply.unchanged.push(record.id.clone());
                    continue;
                }
                return Err(Error::conflict(format!("milestone {} already exists with other content", record.id))
                    .hint(format!(
                        "edit {}/{}.toml, or choose another id",
                        self.milestones_dir().display(),
                        record.id
                    )));
            }
            if let Some(clash) = planned.iter().find(|m| m.order == record.order) {
                return Err(Error::conflict(format!(
                    "order {} is already {}'s; milestones are validated in order, so each needs its own",
                    record.order, clash.id
                ))
                .hint("give --order another number, or leave it out to append"));
            }
            planned.push(record);
            reply.created.push(record.id.clone());
        }
        let dir = self.milestones_dir();
        for record in new.iter().filter(|r| reply.created.contains(&r.id)) {
            self.ledger.write(&dir.join(format!("{}.toml", record.id)), record.to_toml().as_bytes())?;
        }
        Ok(reply)
    }

    /// `milestone list`: every milestone in order, with progress.
    pub fn milestone_list(&self) -> Result<MilestoneList> {
        let (records, problems) = self.milestones()?;
        let view = self.queue_view()?;
        let milestones = records.into_iter().map(|r| self.milestone_detail(&view, r)).collect::<Result<Vec<_>>>()?;
        Ok(MilestoneList { milestones, warnings: problems.iter().map(|p| p.message.clone()).collect() })
    }

    /// `milestone show`: one milestone with progress.
    pub fn milestone_show(&self, id: &str) -> Result<MilestoneDetail> {
        crate::queue::task::validate_milestone(id)?;
        let path = self.milestones_dir().join(format!("{id}.toml"));
        if !path.exists() {
            return Err(Error::new(ErrorKind::NotFound, format!("no milestone {id}"))
                .hint("`abathur milestone list` shows the milestones; `abathur milestone add` defines one"));
        }
        let record = MilestoneRecord::from_toml(&crate::ledger::codec::read_text(&path)?, &path)?;
        let view = self.queue_view()?;
        self.milestone_detail(&view, record)
    }

    fn milestone_detail(&self, view: &crate::queue::view::QueueView, r: MilestoneRecord) -> Result<MilestoneDetail> {
        let now = self.clock.now();
        let mut progress = Progress { budget_hours: r.budget_hours, ..Progress::default() };
        let (mut completed, mut counted) = (0usize, 0usize);
        for i in (0..view.heads.len()).filter(|&i| view.milestone(i) == Some(r.id.as_str())) {
            let status = view.derived[i].status;
            progress.total_tasks += 1;
            *progress.by_status.entry(status.as_str().to_string()).or_default() += 1;
            if status == Status::Cancelled {
                continue;
            }
            counted += 1;
            completed += usize::from(status == Status::Completed);
            let Ok(task): Result<TaskRecord> = self.tasks.read(&view.heads[i].id) else { continue };
            progress.estimated_hours += task.estimated_duration_seconds.unwrap_or(0) as f64 / 3600.0;
            let end = match task.state {
                State::Completed | State::Failed => task.completed_at,
                State::Running => Some(now),
                _ => None,
            };
            if let (Some(start), Some(end)) = (task.started_at, end) {
                progress.spent_hours += start.seconds_until(end).max(0.0) / 3600.0;
            }
        }
        let round = |x: f64| (x * 100.0).round() / 100.0;
        progress.completion_percent = if counted == 0 { 0.0 } else { round(100.0 * completed as f64 / counted as f64) };
        progress.estimated_hours = round(progress.estimated_hours);
        progress.spent_hours = round(progress.spent_hours);
        if let Some(budget) = r.budget_hours.filter(|b| *b > 0.0) {
            progress.estimate_vs_budget_percent = Some(round(100.0 * progress.estimated_hours / budget));
            progress.spent_vs_budget_percent = Some(round(100.0 * progress.spent_hours / budget));
        }
        let gate = crate::gate::state::describe(&crate::gate::state::latest(&self.gate_records()), &r.id);
        let status = |s: crate::requirement::RequirementStatus| {
            serde_json::to_value(s).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
        };
        let requirements = self
            .requirement_list()
            .map(|l| l.requirements)
            .unwrap_or_default()
            .into_iter()
            .filter(|q| q.milestones.contains(&r.id))
            .map(|q| format!("{} ({})", q.id, status(q.status)))
            .collect();
        Ok(MilestoneDetail {
            id: r.id,
            title: r.title,
            order: r.order,
            planned_weeks: r.planned_weeks,
            description: r.description,
            acceptance_criteria: r.acceptance_criteria,
            quality_targets: r.quality_targets,
            progress,
            gate,
            requirements,
            todos: r.todos,
        })
    }
}
