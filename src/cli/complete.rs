//! Dynamic shell completion: task ids, milestones and memory namespaces from the ledger of the
//! directory the shell is in. Registered by `abathur completions <shell>` (clap_complete's
//! `COMPLETE=<shell> abathur` protocol); a ledger that cannot be read completes nothing.

use clap_complete::engine::{ArgValueCandidates, CompletionCandidate};

use crate::service::Service;

fn service() -> Option<Service> {
    Service::open(&std::env::current_dir().ok()?).ok()
}

/// Unfinished tasks first, each with its summary as help.
pub fn tasks() -> ArgValueCandidates {
    ArgValueCandidates::new(|| {
        let Some(service) = service() else { return Vec::new() };
        let req = crate::queue::api::ListRequest { limit: Some(500), ..Default::default() };
        let Ok(list) = service.task_list(req) else { return Vec::new() };
        list.tasks.into_iter().map(|t| CompletionCandidate::new(t.id).help(Some(t.summary.into()))).collect()
    })
}

/// Milestone ids, each with its title.
pub fn milestones() -> ArgValueCandidates {
    ArgValueCandidates::new(|| {
        let Some(service) = service() else { return Vec::new() };
        let Ok(list) = service.milestone_list() else { return Vec::new() };
        list.milestones.into_iter().map(|m| CompletionCandidate::new(m.id).help(Some(m.title.into()))).collect()
    })
}

/// The memory namespaces in use.
pub fn namespaces() -> ArgValueCandidates {
    ArgValueCandidates::new(|| {
        let Some(service) = service() else { return Vec::new() };
        let req = crate::memory::api::MemoryListRequest { limit: Some(500), ..Default::default() };
        let Ok(list) = service.memory_list(req) else { return Vec::new() };
        let mut namespaces: Vec<String> = list.entries.into_iter().map(|e| e.namespace).collect();
        namespaces.sort_unstable();
        namespaces.dedup();
        namespaces.into_iter().map(CompletionCandidate::new).collect()
    })
}
