//! What the recorded decisions mean for the queue, derived whenever the queue is read.
//!
//! A milestone's gate state is its latest decision (ids are time-ordered). A task of a milestone is
//! blocked while the gate of any earlier milestone (by `order`) is not `approve` or `conditional`;
//! an `escalate` that no later decision has superseded pauses every claim until a human runs
//! `abathur gate resolve`. Tasks with no milestone, or of a milestone with no file, are not gated.

use std::collections::HashMap;

use crate::gate::record::{Decision, GateRecord};
use crate::milestone::record::MilestoneRecord;
use crate::queue::view::GateBlocks;

/// The latest decision per milestone.
pub fn latest(records: &[GateRecord]) -> HashMap<String, &GateRecord> {
    let mut latest: HashMap<String, &GateRecord> = HashMap::new();
    for r in records {
        match latest.get(&r.milestone) {
            Some(prev) if prev.id > r.id => {}
            _ => {
                latest.insert(r.milestone.clone(), r);
            }
        }
    }
    latest
}

/// The gate state of a milestone as text: `undecided` or the latest decision.
pub fn describe(latest: &HashMap<String, &GateRecord>, milestone: &str) -> String {
    latest.get(milestone).map_or_else(|| "undecided".to_string(), |r| r.decision.as_str().to_string())
}

/// Which milestones' tasks wait for a gate, and whether an escalation pauses everything.
pub fn blocks(milestones: &[MilestoneRecord], records: &[GateRecord]) -> GateBlocks {
    let latest = latest(records);
    let mut blocks = GateBlocks::default();
    let mut ordered: Vec<&MilestoneRecord> = milestones.iter().collect();
    ordered.sort_by_key(|m| m.order);
    let mut first_shut: Option<(&str, String)> = None;
    for m in ordered {
        if let Some((gate, state)) = &first_shut {
            blocks.closed.insert(
                m.id.clone(),
                format!("gate {gate} is {state}; milestone {} waits for it to be approved", m.id),
            );
        }
        let state = describe(&latest, &m.id);
        if first_shut.is_none() && !latest.get(&m.id).is_some_and(|r| r.decision.opens()) {
            first_shut = Some((m.id.as_str(), state));
        }
    }
    if let Some(escalated) = latest.values().filter(|r| r.decision == Decision::Escalate).min_by_key(|r| r.id) {
        blocks.paused = Some(format!(
            "claims are paused: gate {} was escalated ({}); a human must run `abathur gate resolve {}`",
            escalated.milestone, escalated.rationale, escalated.milestone
        ));
    }
    blocks
}
