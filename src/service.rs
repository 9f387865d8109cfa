//! The service: one value that both front ends (CLI and MCP) hold and call.
//!
//! It bundles the located ledger, its validated configuration and the clock. Each use case is a
//! method taking a request type and returning a reply type (see `queue::api`), so `--json` output and
//! MCP replies are the same by construction.

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
    /// Whether this process serves many requests (the MCP server): it loads the model for speed per
    /// query rather than for a quick start.
    pub(crate) long_lived: bool,
    /// What the search engine keeps between requests (`search::query::EngineCache`), shared by clones.
    /// Held by type, not by name, so that a binary without the engine (`cli::engine`) does not link
    /// the engine's code just to drop it.
    engine_cache: Arc<OnceLock<Box<dyn Any + Send + Sync>>>,
}

impl Service {
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

    /// The same service, tuned for serving many requests (see `search::model::LoadProfile`).
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
