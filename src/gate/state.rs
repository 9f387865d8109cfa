//! What the recorded decisions mean for the queue, derived whenever the queue is read.
//!
//! A milestone's gate state is its latest decision (ids are time-ordered). A task of a milestone is
//! blocked while the gate of any earlier milestone (by `order`) is not `approve` or `conditional`;
//! an `escalate` that no later decision has superseded pauses every claim until a human runs
//! `abathur gate resolve`. Tasks with no milestone, or of a milestone with no file, are not gated.

use std::collections::HashMap;

use crate::gate::record::{Decision, GateRecord};
use crate::id::Id;
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
///
/// `untrusted` holds the latest decisions that do not count (see `trust`), with why: such a
/// decision opens nothing, and an escalation stays in force until a decision that counts lifts it.
pub fn blocks(milestones: &[MilestoneRecord], records: &[GateRecord], untrusted: &HashMap<Id, String>) -> GateBlocks {
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
        let record = latest.get(&m.id);
        let doubt = record.and_then(|r| untrusted.get(&r.id));
        let open = record.is_some_and(|r| r.decision.opens()) && doubt.is_none();
        if first_shut.is_none() && !open {
            let state = match doubt {
                Some(why) => format!("{}, {why}", describe(&latest, &m.id)),
                None => describe(&latest, &m.id),
            };
            first_shut = Some((m.id.as_str(), state));
        }
    }
    // An escalation is in force while it is the latest decision, or while the decision after it
    // does not count.
    let in_force = |r: &&&GateRecord| {
        r.decision == Decision::Escalate
            || untrusted.contains_key(&r.id)
                && previous_on_gate(records, r).is_some_and(|p| p.decision == Decision::Escalate)
    };
    if let Some(r) = latest.values().filter(in_force).min_by_key(|r| r.id) {
        let escalation =
            if r.decision == Decision::Escalate { *r } else { previous_on_gate(records, r).expect("checked") };
        let mut reason = format!(
            "claims are paused: gate {} was escalated ({}); a human must run `abathur gate resolve {}`",
            escalation.milestone, escalation.rationale, escalation.milestone
        );
        if let Some(why) = untrusted.get(&r.id).filter(|_| r.id != escalation.id) {
            reason.push_str(&format!(" (its resolution {} does not count: {why})", r.id));
        }
        blocks.paused = Some(reason);
    }
    blocks
}

/// The decision on the same gate just before `record`.
fn previous_on_gate<'a>(records: &'a [GateRecord], record: &GateRecord) -> Option<&'a GateRecord> {
    records.iter().filter(|r| r.milestone == record.milestone && r.id < record.id).max_by_key(|r| r.id)
}
