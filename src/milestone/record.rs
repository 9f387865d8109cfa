//! The milestone file and its quality targets.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::queue::task::{check_chars, validate_milestone};

/// How a measured figure must compare with its target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum Comparison {
    /// At least.
    #[serde(rename = ">=")]
    AtLeast,
    /// More than.
    #[serde(rename = ">")]
    Above,
    /// At most.
    #[serde(rename = "<=")]
    AtMost,
    /// Less than.
    #[serde(rename = "<")]
    Below,
}

impl Comparison {
    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            Comparison::AtLeast => ">=",
            Comparison::Above => ">",
            Comparison::AtMost => "<=",
            Comparison::Below => "<",
        }
    }

    /// Whether `measured` meets a target of `target`.
    pub fn holds(self, measured: f64, target: f64) -> bool {
        match self {
            Comparison::AtLeast => measured >= target,
            Comparison::Above => measured > target,
            Comparison::AtMost => measured <= target,
            Comparison::Below => measured < target,
        }
    }
}

/// A named figure and the bound it must meet, e.g. `coverage >= 95 %`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QualityTarget {
    /// The figure's name: `coverage`, `test_pass_rate`, `read_latency_ms`, or any benchmark name.
    pub name: String,
    /// How the measurement must compare.
    pub comparison: Comparison,
    /// The bound.
    pub value: f64,
    /// Unit, for people (`%`, `ms`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub unit: String,
}

impl QualityTarget {
    /// Parses `name>=95%`, `read_latency_ms<50ms`, `test_pass_rate>=100%`.
    pub fn parse(text: &str) -> Result<QualityTarget> {
        let bad = || {
            Error::invalid(
                "target",
                format!(
                    "`{}` is not a target; write NAME OP VALUE[UNIT] such as coverage>=95% or read_latency_ms<50ms",
                    text.escape_debug()
                ),
            )
        };
        let ops = [
            (">=", Comparison::AtLeast),
            ("<=", Comparison::AtMost),
            (">", Comparison::Above),
            ("<", Comparison::Below),
        ];
        let (pos, op, comparison) = ops
            .iter()
            .filter_map(|(op, c)| text.find(op).map(|p| (p, *op, *c)))
            .min_by_key(|(p, ..)| *p)
            .ok_or_else(bad)?;
        let name = text[..pos].trim();
        let rest = text[pos + op.len()..].trim();
        let split = rest.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-')).unwrap_or(rest.len());
        let value: f64 = rest[..split].parse().map_err(|_| bad())?;
        let unit = rest[split..].trim().to_string();
        let target = QualityTarget { name: name.to_string(), comparison, value, unit };
        target.validate()?;
        Ok(target)
    }

    fn validate(&self) -> Result<()> {
        crate::queue::task::validate_name("target name", &self.name)?;
        check_chars("unit", &self.unit, 16)?;
        if !self.value.is_finite() {
            return Err(Error::invalid("target", format!("target {} needs a finite value", self.name)));
        }
        Ok(())
    }
}

impl fmt::Display for QualityTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}{}", self.name, self.comparison.symbol(), self.value, self.unit)
    }
}

/// A milestone file. Field order here is the key order on disk.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MilestoneRecord {
    /// `M1`, `M2`, ...; the file name.
    pub id: String,
    /// What the milestone delivers.
    pub title: String,
    /// Position in the sequence; gates open in this order.
    pub order: u32,
    /// Planned duration in weeks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub planned_weeks: Option<f64>,
    /// Effort budget in hours; task estimates and time spent are measured against it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_hours: Option<f64>,
    /// Longer description or context.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// What must be true for the gate to approve.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub acceptance_criteria: Vec<String>,
    /// Figures the gate compares with measurements.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quality_targets: Vec<QualityTarget>,
    /// The coordinator's own checklist for the milestone (the seed's TODO list): shown as progress,
    /// never claimable work.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub todos: Vec<Todo>,
}

/// One item of a milestone's checklist, as Claude Code's TODO list has it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Todo {
    /// What to do.
    pub content: String,
    /// pending, in_progress or completed.
    pub status: TodoStatus,
    /// The same, as an ongoing activity ("Running the migration").
    #[serde(default, skip_serializing_if = "String::is_empty", rename = "activeForm", alias = "active_form")]
    pub active_form: String,
}

/// Where a checklist item stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TodoStatus {
    /// Not started.
    Pending,
    /// Being done now.
    InProgress,
    /// Done.
    Completed,
}

impl MilestoneRecord {
    /// Checks every field.
    pub fn validate(&self) -> Result<()> {
        validate_milestone(&self.id)?;
        if self.title.trim().is_empty() {
            return Err(Error::invalid("title", "title is required"));
        }
        check_chars("title", &self.title, 200)?;
        check_chars("description", &self.description, 10_000)?;
        if self.order == 0 {
            return Err(Error::invalid("order", "order starts at 1"));
        }
        if self.todos.len() > 200 {
            return Err(Error::invalid("todos", "a milestone's checklist holds at most 200 items"));
        }
        for todo in &self.todos {
            check_chars("todos.content", &todo.content, 500)?;
            check_chars("todos.activeForm", &todo.active_form, 500)?;
        }
        for (field, value) in [("planned_weeks", self.planned_weeks), ("budget_hours", self.budget_hours)] {
            if value.is_some_and(|v| !v.is_finite() || v < 0.0) {
                return Err(Error::invalid(field, format!("{field} must be a non-negative number")));
            }
        }
        if self.acceptance_criteria.len() > 100 {
            return Err(Error::invalid("acceptance_criteria", "at most 100 acceptance criteria"));
        }
        for c in &self.acceptance_criteria {
            check_chars("acceptance_criteria", c, 1000)?;
        }
        for t in &self.quality_targets {
            t.validate()?;
        }
        Ok(())
    }

    /// Parses a milestone file, naming the file and field on error.
    pub fn from_toml(text: &str, path: &std::path::Path) -> Result<MilestoneRecord> {
        let record: MilestoneRecord =
            toml::from_str(text).map_err(|e| Error::malformed(path, e.message().trim_end().to_string()))?;
        record.validate().map_err(|e| Error::malformed(path, e.message))?;
        if path.file_stem().and_then(|s| s.to_str()) != Some(record.id.as_str()) {
            return Err(Error::malformed(
                path,
                format!("field `id` is {} but the file is named otherwise; they must match", record.id),
            ));
        }
        Ok(record)
    }

    /// The canonical text.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("a milestone always serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_with_units() {
        let t = QualityTarget::parse("coverage>=95%").unwrap();
        assert_eq!(
            (t.name.as_str(), t.comparison, t.value, t.unit.as_str()),
            ("coverage", Comparison::AtLeast, 95.0, "%")
        );
        let t = QualityTarget::parse("read_latency_ms < 50ms").unwrap();
        assert_eq!((t.comparison, t.value, t.unit.as_str()), (Comparison::Below, 50.0, "ms"));
        assert!(t.comparison.holds(42.0, t.value) && !t.comparison.holds(50.0, t.value));
        assert!(QualityTarget::parse("coverage is high").is_err());
        assert!(QualityTarget::parse("../x>=1").is_err());
    }
}
