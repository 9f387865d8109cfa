//! abathur: a git repository as the coordination ledger of a project run by AI agents and humans.
//!
//! Tasks, milestones, gate decisions and project memory are TOML and Markdown files under `.abathur/`,
//! committed like code. This crate is the whole tool as a library: `service::Service` is the one API,
//! and `cli` (and later `mcp`) are thin front ends over it. See README.md and docs/.

pub mod check;
pub mod cli;
pub mod config;
pub mod context;
pub mod decision;
pub mod doctor;
pub mod error;
pub mod fields;
pub mod gate;
pub mod git;
pub mod id;
pub mod integrate;
pub mod ledger;
pub mod mcp;
pub mod memory;
pub mod milestone;
pub mod queue;
pub mod requirement;
pub mod search;
pub mod service;
pub mod session;
pub mod sync;
pub mod time;
pub mod view;
pub mod words;

pub use error::{Error, ErrorKind, Result};
pub use service::Service;
