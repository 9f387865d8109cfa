//! The ledger's `config.toml`: the project's tunables, validated on load.
//!
//! Every field has a default, so an empty file is a valid configuration; unknown keys are refused so a
//! typo never silently falls back to a default.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The configuration file `abathur init` writes.
pub const DEFAULT_CONFIG_TOML: &str = r#"# abathur ledger configuration. Every key is optional; these are the defaults.
schema_version = 1

[queue]
# A claim is a lease: the claimant must heartbeat within this many seconds or the task returns to the queue.
lease_timeout_seconds = 600
# How often a failed or abandoned task is retried before it fails for good.
max_retries = 3
# Retry backoff: base * 2^retry_count seconds, capped.
retry_backoff_seconds = 10
retry_backoff_max_seconds = 300
# Agent type given to tasks enqueued without one.
default_agent_type = "requirements-gatherer"

[priority]
# Weights of the calculated priority's factors (docs/priority.md). They must sum to 1.
base = 0.30
depth = 0.25
urgency = 0.25
blocking = 0.15
source = 0.05
# Aging: a waiting task's base priority rises one level per this many hours (prevents starvation).
aging_hours_per_level = 6.0

[memory]
# Episodic memory entries expire this many days after they are written (`memory add --ttl` overrides).
episodic_ttl_days = 90

[search]
# Embedding model for semantic search, as installed by `abathur model install` (docs/search.md).
model = "all-minilm-l6-v2"

[sync]
# With a ledger remote (`abathur sync --remote NAME` once per clone), the MCP server syncs this often
# in the background; 0 turns it off.
interval_seconds = 60
# Sync before every claim the MCP server serves (one fetch and push more per claim).
before_claim = false

[gates]
# Only a decision signed by a key of the ledger's allowed_signers opens a milestone (docs/gates.md).
# For solo use without signing keys, unsigned decisions (`--unsigned`) may open gates too; every
# reply then says "unsigned", and `abathur gate verify` still fails on them.
allow_unsigned = false
"#;

/// The whole configuration.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Format version of the ledger; refused when newer than this build understands.
    pub schema_version: u32,
    /// Task-queue behaviour.
    pub queue: QueueConfig,
    /// Calculated-priority weights.
    pub priority: PriorityWeights,
    /// Project memory.
    pub memory: MemoryConfig,
    /// Search and embeddings.
    pub search: SearchConfig,
    /// Syncing the ledger through its remote.
    pub sync: SyncConfig,
    /// Validation gates.
    pub gates: GatesConfig,
}

/// Validation gates.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GatesConfig {
    /// Whether an unsigned decision opens a gate (solo use); by default it is pending a signature.
    pub allow_unsigned: bool,
}

/// Syncing the ledger through its remote (`abathur sync`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SyncConfig {
    /// Seconds between the MCP server's background syncs; 0: none.
    pub interval_seconds: u64,
    /// Whether the MCP server syncs before each claim.
    pub before_claim: bool,
}

impl Default for SyncConfig {
    fn default() -> Self {
        SyncConfig { interval_seconds: 60, before_claim: false }
    }
}

/// Project memory.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MemoryConfig {
    /// Days an episodic entry lives after it is written.
    pub episodic_ttl_days: f64,
}

impl Default for MemoryConfig {
    fn default() -> Self {
        MemoryConfig { episodic_ttl_days: 90.0 }
    }
}

/// Search and embeddings.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SearchConfig {
    /// Name of the installed embedding model to use.
    pub model: String,
}

impl Default for SearchConfig {
    fn default() -> Self {
        SearchConfig { model: crate::search::model::DEFAULT_MODEL.to_string() }
    }
}

/// Task-queue behaviour.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueueConfig {
    /// Default lease length for a claim.
    pub lease_timeout_seconds: u64,
    /// Default number of retries.
    pub max_retries: u32,
    /// First retry delay.
    pub retry_backoff_seconds: u64,
    /// Longest retry delay.
    pub retry_backoff_max_seconds: u64,
    /// Agent type for tasks enqueued without one.
    pub default_agent_type: String,
}

/// Weights of the priority factors, and the aging rate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PriorityWeights {
    /// Weight of the base priority (0..=10 scaled to 0..100, raised by aging).
    pub base: f64,
    /// Weight of the downstream critical-path length.
    pub depth: f64,
    /// Weight of deadline urgency.
    pub urgency: f64,
    /// Weight of the number of tasks waiting downstream.
    pub blocking: f64,
    /// Weight of who asked for the task.
    pub source: f64,
    /// Hours of waiting that raise base priority by one level.
    pub aging_hours_per_level: f64,
}

/// The newest ledger format this build reads.
pub const SCHEMA_VERSION: u32 = 1;

impl Default for Config {
    fn default() -> Self {
        Config {
            schema_version: SCHEMA_VERSION,
            queue: QueueConfig::default(),
            priority: PriorityWeights::default(),
            memory: MemoryConfig::default(),
            search: SearchConfig::default(),
            sync: SyncConfig::default(),
            gates: GatesConfig::default(),
        }
    }
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            lease_timeout_seconds: 600,
            max_retries: 3,
            retry_backoff_seconds: 10,
            retry_backoff_max_seconds: 300,
            default_agent_type: "requirements-gatherer".into(),
        }
    }
}

impl Default for PriorityWeights {
    fn default() -> Self {
        PriorityWeights {
            base: 0.30,
            depth: 0.25,
            urgency: 0.25,
            blocking: 0.15,
            source: 0.05,
            aging_hours_per_level: 6.0,
        }
    }
}

impl Config {
    /// Reads and validates `path`; a missing file means all defaults.
    pub fn load(path: &Path) -> Result<Config> {
        let Some(text) = crate::ledger::codec::read_optional(path)? else { return Ok(Config::default()) };
        let config: Config = toml::from_str(&text).map_err(|e| Error::malformed(path, e.message().to_string()))?;
        config.validate().map_err(|msg| Error::malformed(path, msg))?;
        Ok(config)
    }

    fn validate(&self) -> std::result::Result<(), String> {
        if self.schema_version > SCHEMA_VERSION {
            return Err(format!(
                "schema_version {} is newer than this abathur understands ({SCHEMA_VERSION}); upgrade abathur",
                self.schema_version
            ));
        }
        let w = &self.priority;
        let weights = [
            ("base", w.base),
            ("depth", w.depth),
            ("urgency", w.urgency),
            ("blocking", w.blocking),
            ("source", w.source),
        ];
        for (name, value) in weights {
            if !(0.0..=1.0).contains(&value) {
                return Err(format!("priority.{name} = {value} must be between 0 and 1"));
            }
        }
        let sum: f64 = weights.iter().map(|(_, v)| v).sum();
        if (sum - 1.0).abs() > 1e-6 {
            return Err(format!("priority weights sum to {sum}, they must sum to 1"));
        }
        if w.aging_hours_per_level.is_nan() || w.aging_hours_per_level <= 0.0 {
            return Err("priority.aging_hours_per_level must be a positive number of hours".into());
        }
        let ttl = self.memory.episodic_ttl_days;
        if !(ttl > 0.0 && ttl <= 36_500.0) {
            return Err(format!("memory.episodic_ttl_days = {ttl} must be between 0 and 36500 days"));
        }
        if crate::memory::entry::normalize_key(&self.search.model).is_err() {
            return Err(format!(
                "search.model = {:?} must be a model name such as all-minilm-l6-v2",
                self.search.model
            ));
        }
        if self.queue.lease_timeout_seconds == 0 || self.queue.lease_timeout_seconds > 7 * 24 * 3600 {
            return Err("queue.lease_timeout_seconds must be between 1 and 604800".into());
        }
        if self.queue.retry_backoff_max_seconds < self.queue.retry_backoff_seconds {
            return Err("queue.retry_backoff_max_seconds must not be less than queue.retry_backoff_seconds".into());
        }
        crate::fields::validate_name("queue.default_agent_type", &self.queue.default_agent_type)
            .map_err(|e| e.message)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_config_is_the_default() {
        let parsed: Config = toml::from_str(DEFAULT_CONFIG_TOML).unwrap();
        parsed.validate().unwrap();
        assert_eq!(parsed.priority.base, Config::default().priority.base);
        assert_eq!(parsed.queue.lease_timeout_seconds, Config::default().queue.lease_timeout_seconds);
    }

    #[test]
    fn weights_must_sum_to_one() {
        let mut c = Config::default();
        c.priority.base = 0.5;
        assert!(c.validate().unwrap_err().contains("sum to"));
    }
}
