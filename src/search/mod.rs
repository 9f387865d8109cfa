//! One offline search over memory, decisions, validation reports and tasks.

pub mod model;
