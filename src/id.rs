//! Collision-free identities without coordination.
//!
//! Every entity is named by a ULID (time-sortable, 80 random bits), stored lower-case as its file name.
//! Users may type any unique prefix, like git; prefixes are validated before they ever touch a path,
//! so hostile input (`../x`, `/etc`, NUL bytes, huge strings) is refused with a clear message.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// Length of a full ULID in Crockford base32.
pub const ID_LEN: usize = 26;

/// The fewest characters shown for an id, even when fewer would be unique.
pub const MIN_DISPLAY_LEN: usize = 8;

/// A full, validated, lower-case ULID naming one entity.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(try_from = "String", into = "String")]
pub struct Id(String);

impl Id {
    /// A fresh id: time-ordered, unique without any coordination between processes.
    pub fn generate() -> Id {
        Id(ulid::Ulid::new().to_string().to_ascii_lowercase())
    }

    /// Parses a full id, refusing anything that is not exactly a ULID.
    pub fn parse(text: &str) -> Result<Id, Error> {
        let prefix = IdPrefix::parse(text)?;
        if prefix.0.len() != ID_LEN {
            return Err(Error::invalid(
                "id",
                format!("`{}` is not a full id (expected {ID_LEN} characters)", prefix.0),
            ));
        }
        Ok(Id(prefix.0))
    }

    /// The id as stored in files.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Id({})", self.0)
    }
}

impl TryFrom<String> for Id {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Id::parse(&value).map_err(|e| e.to_string())
    }
}

impl From<Id> for String {
    fn from(id: Id) -> String {
        id.0
    }
}

/// A user-typed id or id prefix, validated to contain only ULID characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdPrefix(String);

impl IdPrefix {
    /// Validates user input as a (possibly partial) id. Case-insensitive.
    pub fn parse(text: &str) -> Result<IdPrefix, Error> {
        let shown: String = text.chars().take(40).collect::<String>().escape_debug().to_string();
        if text.is_empty() {
            return Err(Error::invalid("id", "an id cannot be empty"));
        }
        if text.len() > ID_LEN {
            return Err(Error::invalid(
                "id",
                format!("`{shown}` is too long for an id (at most {ID_LEN} characters)"),
            ));
        }
        if let Some(bad) = text.chars().find(|c| !is_crockford(*c)) {
            return Err(Error::invalid(
                "id",
                format!(
                    "`{shown}` is not an id: `{}` is not one of the characters ids use (0-9 and a-z without i, l, o, u)",
                    bad.escape_debug()
                ),
            ));
        }
        Ok(IdPrefix(text.to_ascii_lowercase()))
    }

    /// The normalised prefix text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `id` starts with this prefix.
    pub fn matches(&self, id: &Id) -> bool {
        id.0.starts_with(&self.0)
    }
}

fn is_crockford(c: char) -> bool {
    c.is_ascii_digit() || (c.is_ascii_alphabetic() && !matches!(c.to_ascii_lowercase(), 'i' | 'l' | 'o' | 'u'))
}

/// Length of the shortest prefix of each id that is unique among `sorted` (which must be sorted).
///
/// Like git, short ids are for people: they grow as the ledger grows and never collide.
pub fn unique_prefix_lengths(sorted: &[&Id]) -> Vec<usize> {
    let common = |a: &Id, b: &Id| a.0.bytes().zip(b.0.bytes()).take_while(|(x, y)| x == y).count();
    (0..sorted.len())
        .map(|i| {
            let before = if i > 0 { common(sorted[i - 1], sorted[i]) } else { 0 };
            let after = if i + 1 < sorted.len() { common(sorted[i], sorted[i + 1]) } else { 0 };
            (before.max(after) + 1).clamp(MIN_DISPLAY_LEN, ID_LEN)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_parse_and_sort_by_time() {
        let a = Id::generate();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = Id::generate();
        assert_eq!(Id::parse(a.as_str()).unwrap(), a);
        assert!(a < b);
        assert_eq!(a.as_str().len(), ID_LEN);
    }

    #[test]
    fn hostile_prefixes_are_refused() {
        for bad in ["../x", "/etc/passwd", "a\0b", "", "01ARZ3NDEKTSV4RRFFQ69G5FAVX", "abc def", "ümlaut", "li"] {
            assert!(IdPrefix::parse(bad).is_err(), "{bad:?} should be refused");
        }
        assert_eq!(IdPrefix::parse("01ARZ").unwrap().as_str(), "01arz");
    }

    #[test]
    fn prefixes_are_unique_and_at_least_min_len() {
        let ids: Vec<Id> = ["01aaaaaaaaaaaaaaaaaaaaaaaa", "01aaaaaaaaaab0000000000000", "01bbbbbbbbbbbbbbbbbbbbbbbb"]
            .iter()
            .map(|s| Id::parse(s).unwrap())
            .collect();
        let refs: Vec<&Id> = ids.iter().collect();
        assert_eq!(unique_prefix_lengths(&refs), vec![13, 13, 8]);
    }
}
