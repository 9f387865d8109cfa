//! `gate check M`: gathers the evidence for a milestone's gate, compares it with the targets, and
//! proposes a decision. It decides nothing and writes nothing.

use crate::error::{Error, Result};
use crate::gate::api::{CheckRequest, GateCheck};
use crate::gate::evidence;
use crate::gate::record::Decision;
use crate::gate::record::{CriterionCheck, MetricCheck};
use crate::milestone::record::Comparison;
use crate::queue::task::Status;
use crate::service::Service;

impl Service {
    /// Evaluates a milestone's gate from the ledger and the evidence files.
    pub fn gate_check(&self, req: CheckRequest) -> Result<GateCheck> {
        let detail = self.milestone_show(&req.milestone)?;
        if req.lcov.is_some() && req.cobertura.is_some() {
            return Err(Error::invalid("coverage", "give either --lcov or --cobertura, not both"));
        }
        let mut measured: Vec<(String, f64, String)> = Vec::new();
        if !req.junit.is_empty() {
            let mut counts = evidence::TestCounts::default();
            for path in &req.junit {
                let c = evidence::junit(path)?;
                counts.total += c.total;
                counts.failed += c.failed;
                counts.skipped += c.skipped;
            }
            if let Some(rate) = counts.pass_rate() {
                let source = format!(
                    "JUnit: {} of {} passed",
                    counts.total - counts.skipped - counts.failed,
                    counts.total - counts.skipped
                );
                measured.push(("test_pass_rate".into(), rate, source));
            }
        }
        if let Some(path) = &req.lcov {
            measured.push(("coverage".into(), evidence::lcov(path)?, format!("LCOV {}", path.display())));
        }
        if let Some(path) = &req.cobertura {
            measured.push(("coverage".into(), evidence::cobertura(path)?, format!("Cobertura {}", path.display())));
        }
        for path in &req.bench {
            for (name, value) in evidence::bench(path)? {
                measured.push((name, value, format!("bench {}", path.display())));
            }
        }

        let mut criteria: Vec<CriterionCheck> = detail
            .acceptance_criteria
            .iter()
            .map(|c| CriterionCheck { criterion: c.clone(), met: false, evidence: None })
            .collect();
        for m in &req.met {
            let (n, evidence) = m.split_once(':').ok_or_else(|| {
                Error::invalid("met", format!("`{m}`: write N: evidence, e.g. \"2: integrity_check returned ok\""))
            })?;
            let n: usize =
                n.trim().parse().map_err(|_| Error::invalid("met", format!("`{m}`: N must be a criterion number")))?;
            let c = criteria
                .get_mut(n.wrapping_sub(1))
                .ok_or_else(|| Error::invalid("met", format!("milestone {} has no criterion {n}", detail.id)))?;
            c.met = true;
            c.evidence = Some(evidence.trim().to_string());
        }
        let metrics: Vec<MetricCheck> = detail
            .quality_targets
            .iter()
            .map(|t| {
                let m = measured.iter().rev().find(|(name, ..)| *name == t.name);
                MetricCheck {
                    name: t.name.clone(),
                    target: format!("{} {}{}", t.comparison.symbol(), t.value, t.unit),
                    measured: m.map(|(_, v, _)| (v * 100.0).round() / 100.0),
                    met: m.map(|(_, v, _)| holds(t.comparison, *v, t.value)),
                    source: m.map(|(.., s)| s.clone()),
                }
            })
            .collect();

        let p = &detail.progress;
        let cancelled = p.by_status.get(Status::Cancelled.as_str()).copied().unwrap_or(0);
        let tasks_total = p.total_tasks - cancelled;
        let tasks_completed = p.by_status.get(Status::Completed.as_str()).copied().unwrap_or(0);
        let mut reasons = Vec::new();
        if tasks_completed < tasks_total {
            reasons.push(format!("{} of {tasks_total} tasks are not completed", tasks_total - tasks_completed));
        }
        for m in metrics.iter().filter(|m| m.met == Some(false)) {
            reasons.push(format!("{} is {} against a target of {}", m.name, m.measured.unwrap_or_default(), m.target));
        }
        let significant = !reasons.is_empty();
        for m in metrics.iter().filter(|m| m.met.is_none()) {
            reasons.push(format!("{} was not measured", m.name));
        }
        for c in criteria.iter().filter(|c| !c.met) {
            reasons.push(format!("criterion not shown met: {}", c.criterion));
        }
        let proposed_decision = if significant {
            Decision::Revise
        } else if reasons.is_empty() {
            Decision::Approve
        } else {
            Decision::Conditional
        };
        Ok(GateCheck {
            milestone: detail.id,
            tasks_total,
            tasks_completed,
            criteria,
            metrics,
            proposed_decision,
            reasons,
        })
    }
}

fn holds(c: Comparison, measured: f64, target: f64) -> bool {
    c.holds(measured, target)
}
