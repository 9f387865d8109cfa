//! Validation gates: the go/no-go decision at the end of each milestone, recorded as files and sealed
//! in a signed commit and a signed annotated tag.
//!
//! A decision is two files under `.abathur/gates/`: `<id>.toml`, the machine-readable record, and
//! `<id>.md`, the validation report rendered from `templates/gate-report.md.j2` (overridable in
//! `.abathur/templates/`). The state of a milestone's gate is its latest decision; what the states mean
//! for the queue is in [`state`].

pub mod api;
pub mod check;
pub mod evidence;
pub mod ops;
pub mod record;
pub mod state;
pub mod trust;
pub mod verify;
