//! Milestones: the stages work proceeds through, each ending in a mandatory validation gate.
//!
//! One TOML file per milestone under `.abathur/milestones/<ID>.toml`: title, order, planned weeks,
//! effort budget, acceptance criteria and quality targets. Progress (tasks by status, effort estimated
//! and spent against the budget) is derived from the task files when asked, never stored.

pub mod api;
mod ops;
pub mod record;
