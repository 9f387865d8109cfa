//! One decision record: ADR-style Markdown with TOML front matter, named by a ULID and a slug.
//!
//! `.abathur/decisions/01jx...-use-postgres.md`: the ULID makes names collision-free across branches
//! (no "ADR 12" picked twice), the slug makes the folder readable. The front matter carries what tools
//! need (status, links, supersession); the body is the prose people review.

use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::id::Id;
use crate::time::Timestamp;

/// Longest title.
pub const MAX_TITLE_CHARS: usize = 200;
/// Longest section (context, decision, consequences).
pub const MAX_SECTION_CHARS: usize = 20_000;
const FENCE: &str = "+++";

/// Where a decision stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum DecisionStatus {
    /// Under discussion.
    Proposed,
    /// In force.
    Accepted,
    /// Replaced by a later decision (`superseded_by`).
    Superseded,
    /// Considered and turned down.
    Rejected,
}

impl DecisionStatus {
    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            DecisionStatus::Proposed => "proposed",
            DecisionStatus::Accepted => "accepted",
            DecisionStatus::Superseded => "superseded",
            DecisionStatus::Rejected => "rejected",
        }
    }
}

/// The front matter of a decision file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionMeta {
    /// The record's id (also the start of its file name).
    pub id: Id,
    /// What was decided, in a line.
    pub title: String,
    /// proposed, accepted, superseded or rejected.
    pub status: DecisionStatus,
    /// When it was recorded.
    pub date: Timestamp,
    /// Who recorded it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// Tasks it concerns.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tasks: Vec<Id>,
    /// Milestones it concerns.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub milestones: Vec<String>,
    /// Gate decisions it concerns.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gates: Vec<Id>,
    /// Earlier decisions this one replaces.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub supersedes: Vec<Id>,
    /// The decision that replaced this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub superseded_by: Option<Id>,
}

/// A whole decision record.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    /// The front matter.
    pub meta: DecisionMeta,
    /// The Markdown body (rendered from templates/decision.md.j2 when written by abathur).
    pub body: String,
}

impl Decision {
    /// The file text.
    pub fn render(&self) -> String {
        let front = toml::to_string(&self.meta).expect("front matter serialises");
        format!("{FENCE}\n{front}{FENCE}\n\n{}\n", self.body.trim_end())
    }

    /// Parses a decision file, naming the file and field on error.
    pub fn parse(text: &str, path: &Path) -> Result<Decision> {
        let (front, body) = crate::ledger::codec::split_front_matter(text, FENCE).ok_or_else(|| {
            Error::malformed(
                path,
                format!("front matter: the file must start with a `{FENCE}` line, TOML, and a closing `{FENCE}` line"),
            )
        })?;
        let meta: DecisionMeta = toml::from_str(front)
            .map_err(|e| Error::malformed(path, format!("front matter: {}", e.message().trim_end())))?;
        let body = body.trim_start_matches(['\r', '\n']).to_string();
        check_title(&meta.title).map_err(|e| Error::malformed(path, e.message))?;
        if meta.status == DecisionStatus::Superseded && meta.superseded_by.is_none() {
            return Err(Error::malformed(path, "superseded_by: a superseded decision names its successor"));
        }
        Ok(Decision { meta, body })
    }

    /// The file name: id and slug of the title.
    pub fn file_name(&self) -> String {
        format!("{}-{}.md", self.meta.id, slug(&self.meta.title))
    }
}

/// Checks a title: one line, 1 to [`MAX_TITLE_CHARS`] characters.
pub fn check_title(title: &str) -> Result<()> {
    let n = title.trim().chars().count();
    if n == 0 || n > MAX_TITLE_CHARS || title.contains(['\n', '\r']) {
        return Err(Error::invalid("title", format!("one line of 1-{MAX_TITLE_CHARS} characters")));
    }
    Ok(())
}

/// Lowercase words joined by `-`, at most 48 characters: readable and safe in any file system.
pub fn slug(title: &str) -> String {
    let mut out = String::new();
    for word in title.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty()) {
        if out.len() + word.len() + 1 > 48 {
            break;
        }
        if !out.is_empty() {
            out.push('-');
        }
        out.push_str(&word.to_ascii_lowercase());
    }
    if out.is_empty() { "decision".into() } else { out }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_short_and_safe() {
        assert_eq!(slug("Use Postgres (not MySQL) for the ledger!"), "use-postgres-not-mysql-for-the-ledger");
        assert_eq!(slug("../../etc/passwd"), "etc-passwd");
        assert_eq!(slug("日本語"), "decision");
        assert!(slug(&"word ".repeat(40)).len() <= 48);
    }
}
