//! Timestamps in one canonical text form, and the clock every command reads.
//!
//! Files hold UTC timestamps with millisecond precision (`2026-11-24T08:30:00.000Z`), so a value read and
//! written back is byte-identical. `ABATHUR_NOW` pins the clock, which is how tests move time forward to
//! expire a lease without sleeping.

use std::fmt;

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use crate::error::Error;

/// A UTC instant, truncated to milliseconds.
///
/// Text formats (TOML, JSON) carry the canonical string; binary caches carry milliseconds, which is
/// several times faster to load.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, schemars::JsonSchema)]
#[schemars(with = "String")]
pub struct Timestamp(i64);

impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.collect_str(self)
        } else {
            serializer.serialize_i64(self.millis())
        }
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if deserializer.is_human_readable() {
            let text = String::deserialize(deserializer)?;
            Timestamp::parse(&text).map_err(serde::de::Error::custom)
        } else {
            i64::deserialize(deserializer).map(Timestamp::from_millis)
        }
    }
}

impl Timestamp {
    /// Milliseconds since the Unix epoch.
    pub fn millis(self) -> i64 {
        self.0
    }

    /// The instant `millis` milliseconds after the epoch.
    pub fn from_millis(millis: i64) -> Timestamp {
        // Clamp into chrono's range so every value can be displayed.
        let max = DateTime::<Utc>::MAX_UTC.timestamp_millis();
        let min = DateTime::<Utc>::MIN_UTC.timestamp_millis();
        Timestamp(millis.clamp(min, max))
    }

    /// This instant moved by `seconds` (negative moves back).
    pub fn plus_seconds(self, seconds: f64) -> Timestamp {
        Timestamp::from_millis(self.millis().saturating_add((seconds * 1000.0) as i64))
    }

    /// Seconds from `self` until `later` (negative when `later` is earlier).
    pub fn seconds_until(self, later: Timestamp) -> f64 {
        (later.millis() - self.millis()) as f64 / 1000.0
    }

    /// Parses RFC 3339 (`Z` or an offset); a bare date means midnight UTC.
    pub fn parse(text: &str) -> Result<Timestamp, Error> {
        let text = text.trim();
        let parsed = DateTime::parse_from_rfc3339(text).map(|t| t.with_timezone(&Utc)).or_else(|_| {
            chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .map(|d| d.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc())
        });
        match parsed {
            Ok(t) => Ok(Timestamp::from_millis(t.timestamp_millis())),
            Err(_) => Err(Error::invalid(
                "timestamp",
                format!(
                    "`{}` is not a date-time; use RFC 3339 such as 2026-12-01T17:00:00Z or a date such as 2026-12-01",
                    text.escape_debug()
                ),
            )),
        }
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = Utc.timestamp_millis_opt(self.0).single().unwrap_or_default();
        f.write_str(&at.to_rfc3339_opts(SecondsFormat::Millis, true))
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

/// Where "now" comes from: the system clock, or `ABATHUR_NOW` when set.
#[derive(Clone, Copy, Debug, Default)]
pub struct Clock {
    fixed: Option<Timestamp>,
}

impl Clock {
    /// The system clock, unless `ABATHUR_NOW` pins it.
    pub fn from_env() -> Result<Clock, Error> {
        match std::env::var("ABATHUR_NOW") {
            Ok(text) if !text.is_empty() => Ok(Clock { fixed: Some(Timestamp::parse(&text)?) }),
            _ => Ok(Clock { fixed: None }),
        }
    }

    /// A clock stopped at `at`; for tests and benchmarks.
    pub fn fixed(at: Timestamp) -> Clock {
        Clock { fixed: Some(at) }
    }

    /// The instant `ABATHUR_NOW` pins, if any.
    pub fn pinned(&self) -> Option<Timestamp> {
        self.fixed
    }

    /// The current instant.
    pub fn now(&self) -> Timestamp {
        self.fixed.unwrap_or_else(|| Timestamp::from_millis(Utc::now().timestamp_millis()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_form_round_trips() {
        let t = Timestamp::parse("2026-11-24T09:30:00+01:00").unwrap();
        assert_eq!(t.to_string(), "2026-11-24T08:30:00.000Z");
        assert_eq!(Timestamp::parse(&t.to_string()).unwrap(), t);
        assert_eq!(Timestamp::parse("2026-12-01").unwrap().to_string(), "2026-12-01T00:00:00.000Z");
        assert!(Timestamp::parse("next tuesday").is_err());
    }
}
