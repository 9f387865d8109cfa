//! The task queue: tasks as files, their derived status and priority, and the operations on them.
//!
//! `task` is the stored record, `store` reads and writes it, `view` derives what it means now,
//! `graph` holds the dependency algorithms, `picture` draws them, `api` the request and reply types, and `ops` the
//! operations themselves (as methods of [`crate::service::Service`]).

pub mod api;
pub mod graph;
pub mod ops;
pub mod picture;
pub mod store;
pub mod synthetic;
pub mod task;
pub mod view;
