//! The service: one value that both front ends (CLI and MCP) hold and call.
//!
//! It bundles the located ledger, its validated configuration and the clock. Each use case is a
//! method taking a request type and returning a reply type (each domain's `api` module), so `--json`
//! output and MCP replies are the same by construction. The methods live beside their domain, in
//! `impl Service` blocks; this is the table of contents:
//!
//! | use cases | where |
//! |---|---|
//! | [`Service::init`], [`Service::open`] | here |
//! | `task_enqueue`, `task_list`, `task_get`, `task_queue_status`, `task_execution_plan`, `task_claim`, `task_heartbeat`, `task_complete`, `task_fail`, `task_cancel`, `task_update` | `queue/ops.rs` |
//! | `task_graph` | `queue/picture.rs` |
//! | `milestone_add`, `milestone_add_example`, `milestone_update`, `milestone_list`, `milestone_show` | `milestone/ops.rs` |
//! | `gate_status`, `gate_decide`, `gate_resolve` | `gate/ops.rs` |
//! | `gate_check` | `gate/check.rs` |
//! | `gate_verify` | `gate/verify.rs` |
//! | `requirement_set`, `requirement_list`, `completion_report` | `requirement.rs` |
//! | `decision_add`, `decision_supersede`, `decision_settle`, `decision_list`, `decision_show` | `decision/ops.rs` |
//! | `memory_add`, `memory_update`, `memory_delete`, `memory_get`, `memory_history`, `memory_list`, `memory_prune` | `memory/ops.rs` |
//! | `search`, `index` | `search/query.rs` |
//! | `session_create`, `session_append`, `session_get`, `session_end`, `session_list` | `session.rs` |
//! | `context` | `context.rs` |
//! | `sync`, `ledger_status`, `ledger_record` | `sync/mod.rs` |
//! | `review` | `git/review.rs` |
//! | `check` | `check.rs` |
//! | `doctor` | `doctor.rs` |
//! | `html_view`, `write_html_view` | `view.rs` |

use std::any::Any;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use crate::config::Config;
use crate::error::Result;
use crate::ledger::Ledger;
use crate::queue::store::TaskStore;
use crate::time::Clock;

/// An opened ledger, ready to serve requests.
#[derive(Clone, Debug)]
pub struct Service {
    pub(crate) ledger: Ledger,
    pub(crate) config: Config,
    pub(crate) clock: Clock,
    pub(crate) tasks: TaskStore,
    /// Where embedding models are installed (see `search::model::model_home`).
    pub(crate) model_home: std::path::PathBuf,
    /// Whether this process serves many requests (the MCP server): it keeps the open index.
    pub(crate) long_lived: bool,
    /// What the search engine keeps between requests (`search::query::EngineCache`), shared by clones.
    /// Held by type, not by name, so that a binary without the engine (`cli::engine`) does not link
    /// the engine's code just to drop it.
    engine_cache: Arc<OnceLock<Box<dyn Any + Send + Sync>>>,
}

impl Service {
    /// Creates whatever part of the ledger of the repository containing `cwd` is missing (in a
    /// clone: checks out the remote's), and opens it.
    pub fn init(cwd: &Path) -> Result<(Service, crate::ledger::InitReport)> {
        let (ledger, report) = Ledger::init(cwd)?;
        Ok((Service::from_ledger(ledger, Clock::from_env()?)?, report))
    }

    /// Opens the ledger of the repository containing `cwd`, with the clock from the environment.
    pub fn open(cwd: &Path) -> Result<Service> {
        let ledger = Ledger::discover(cwd)?;
        Service::from_ledger(ledger, Clock::from_env()?)
    }

    /// Opens an already located ledger with an explicit clock.
    pub fn from_ledger(ledger: Ledger, clock: Clock) -> Result<Service> {
        let config = ledger.config()?;
        let tasks = TaskStore::new(&ledger);
        let model_home = crate::search::model::model_home();
        Ok(Service { ledger, config, clock, tasks, model_home, long_lived: false, engine_cache: Default::default() })
    }

    /// The same service with models taken from `home` instead of the environment's choice.
    pub fn with_model_home(mut self, home: std::path::PathBuf) -> Service {
        self.model_home = home;
        self
    }

    /// The same service, for serving many requests: it keeps the open search index between them.
    pub fn long_lived(mut self) -> Service {
        self.long_lived = true;
        self
    }

    /// The ledger this service writes.
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// This service's one `T`, created on first use: the engine's state between requests.
    pub(crate) fn engine_cache<T: Any + Default + Send + Sync>(&self) -> &T {
        self.engine_cache.get_or_init(|| Box::new(T::default())).downcast_ref().expect("one engine cache type")
    }

    /// The validated configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }
}
