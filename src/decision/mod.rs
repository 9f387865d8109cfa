//! Decision records: ADR-style Markdown files under `.abathur/decisions/` (docs/git.md).
//!
//! A decision has a status (proposed, accepted, superseded, rejected), the three ADR sections, and
//! links to the tasks, milestones and gates it concerns. Superseding keeps both records and links them
//! both ways, so the history of a choice stays readable in the repository.

pub mod api;
mod ops;
pub mod record;
