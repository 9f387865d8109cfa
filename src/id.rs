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

/// A full ULID naming one entity. Held as its 128-bit value (cheap to compare, hash and cache);
/// written as 26 lower-case Crockford base32 characters.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, schemars::JsonSchema)]
#[schemars(with = "String")]
pub struct Id(u128);

impl Id {
    /// A fresh id: time-ordered, unique without any coordination between processes.
    ///
    /// With `ABATHUR_ID_SEED` set (tests, demos, snapshots), ids are reproducible instead: the time
    /// part is the clock's (`ABATHUR_NOW` when pinned) and the random part a hash of the seed, that
    /// time and a counter within the process. Two processes with the same seed and the same pinned
    /// time make the same ids, so a reproducible run moves `ABATHUR_NOW` on between commands.
    pub fn generate() -> Id {
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let seed = std::env::var("ABATHUR_ID_SEED").ok().filter(|s| !s.is_empty());
        let Some(seed) = seed else { return Id(ulid::Ulid::new().0) };
        let now = crate::time::Clock::from_env().unwrap_or_default().now().millis().max(0) as u64;
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let random = xxhash_rust::xxh3::xxh3_128(format!("{seed}/{now}/{n}").as_bytes());
        Id(ulid::Ulid::from_parts(now, random).0)
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
        ulid::Ulid::from_string(&prefix.0)
            .map(|u| Id(u.0))
            .map_err(|_| Error::invalid("id", format!("`{}` is not a valid id (it overflows 128 bits)", prefix.0)))
    }

    /// The id as written in files and replies.
    pub fn as_string(&self) -> String {
        self.to_string()
    }

    /// Parses a file stem written by this program: exactly the 26 lower-case characters
    /// [`Display`](fmt::Display) writes, nothing else. Decodes without allocating, for the folders of
    /// thousands of task files that listings and re-verification walk.
    pub fn from_file_stem(stem: &str) -> Option<Id> {
        let bytes = stem.as_bytes();
        if bytes.len() != ID_LEN || bytes[0] > b'7' {
            return None; // 26 digits of 5 bits hold 130 bits: the first may use only 3
        }
        let mut value = 0u128;
        for &b in bytes {
            let digit = CROCKFORD_DIGIT[b as usize];
            if digit == NOT_A_DIGIT {
                return None;
            }
            value = (value << 5) | u128::from(digit);
        }
        Some(Id(value))
    }

    /// The 128 bits, for binary caches.
    pub fn to_bits(self) -> u128 {
        self.0
    }

    /// An id from its 128 bits (as [`Id::to_bits`] gave them).
    pub fn from_bits(bits: u128) -> Id {
        Id(bits)
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0u8; ID_LEN];
        let mut value = self.0;
        for slot in buf.iter_mut().rev() {
            *slot = CROCKFORD_LOWER[(value & 0x1f) as usize];
            value >>= 5;
        }
        f.write_str(std::str::from_utf8(&buf).expect("base32 digits are ASCII"))
    }
}

const CROCKFORD_LOWER: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// The value of each lower-case Crockford digit by byte; [`NOT_A_DIGIT`] elsewhere.
const CROCKFORD_DIGIT: [u8; 256] = {
    let mut table = [NOT_A_DIGIT; 256];
    let mut i = 0;
    while i < 32 {
        table[CROCKFORD_LOWER[i] as usize] = i as u8;
        i += 1;
    }
    table
};
const NOT_A_DIGIT: u8 = 0xff;

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Id({self})")
    }
}

impl Serialize for Id {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() { serializer.collect_str(self) } else { serializer.serialize_u128(self.0) }
    }
}

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if deserializer.is_human_readable() {
            let text = String::deserialize(deserializer)?;
            Id::parse(&text).map_err(serde::de::Error::custom)
        } else {
            u128::deserialize(deserializer).map(Id)
        }
    }
}

/// A user-typed id or id prefix, validated to contain only ULID characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdPrefix(String);

impl IdPrefix {
    /// Validates user input as a (possibly partial) id. Case-insensitive.
    pub fn parse(text: &str) -> Result<IdPrefix, Error> {
        let shown = || text.chars().take(40).collect::<String>().escape_debug().to_string();
        if text.is_empty() {
            return Err(Error::invalid("id", "an id cannot be empty"));
        }
        if text.len() > ID_LEN {
            return Err(Error::invalid(
                "id",
                format!("`{}` is too long for an id (at most {ID_LEN} characters)", shown()),
            ));
        }
        if let Some(bad) = text.chars().find(|c| !is_crockford(*c)) {
            return Err(Error::invalid(
                "id",
                format!(
                    "`{}` is not an id: `{}` is not one of the characters ids use (0-9 and a-z without i, l, o, u)",
                    shown(),
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
        id.to_string().starts_with(&self.0)
    }
}

fn is_crockford(c: char) -> bool {
    c.is_ascii_digit() || (c.is_ascii_alphabetic() && !matches!(c.to_ascii_lowercase(), 'i' | 'l' | 'o' | 'u'))
}

/// Length of the shortest prefix of each id that is unique among `sorted` (which must be sorted).
///
/// Like git, short ids are for people: they grow as the ledger grows and never collide.
pub fn unique_prefix_lengths(sorted: &[&Id]) -> Vec<usize> {
    // Equal leading base32 digits of two ids = leading zero bits of their XOR, in 5-bit steps
    // (the first digit holds only 3 bits).
    let common = |a: &Id, b: &Id| {
        let zeros = (a.0 ^ b.0).leading_zeros() as usize;
        if zeros < 3 { 0 } else { (1 + (zeros - 3) / 5).min(ID_LEN) }
    };
    (0..sorted.len())
        .map(|i| {
            let before = if i > 0 { common(sorted[i - 1], sorted[i]) } else { 0 };
            let after = if i + 1 < sorted.len() { common(sorted[i], sorted[i + 1]) } else { 0 };
            (before.max(after) + 1).clamp(MIN_DISPLAY_LEN, ID_LEN)
        })
        .collect()
}

/// Shortens full ids to their shortest unique prefix among `all` (like git's abbreviated hashes).
pub struct Shortener {
    sorted: Vec<Id>,
    lengths: Vec<usize>,
}

impl Shortener {
    /// Prepares prefixes for every id in the ledger.
    pub fn new(mut all: Vec<Id>) -> Shortener {
        if !all.is_sorted() {
            all.sort_unstable();
        }
        let refs: Vec<&Id> = all.iter().collect();
        let lengths = unique_prefix_lengths(&refs);
        Shortener { sorted: all, lengths }
    }

    /// The shortest unique prefix of `id` (the full id if unknown).
    pub fn short<'a>(&self, id: &'a str) -> &'a str {
        let Ok(parsed) = Id::parse(id) else { return id };
        match self.sorted.binary_search(&parsed) {
            Ok(i) => &id[..self.lengths[i].min(id.len())],
            Err(_) => id,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_stems_parse_only_in_canonical_form() {
        for _ in 0..100 {
            let id = Id::generate();
            assert_eq!(Id::from_file_stem(&id.to_string()), Some(id));
        }
        let max = Id(u128::MAX).to_string();
        assert_eq!(Id::from_file_stem(&max), Some(Id(u128::MAX)));
        assert_eq!(Id::from_file_stem(&max.to_uppercase()), None, "upper case is not how files are named");
        assert_eq!(Id::from_file_stem(&format!("8{}", &max[1..])), None, "overflows 128 bits");
        assert_eq!(Id::from_file_stem(&max[1..]), None);
        assert_eq!(Id::from_file_stem(&format!("{}u", &max[..25])), None, "u is not a digit");
    }

    #[test]
    fn generated_ids_parse_and_sort_by_time() {
        let a = Id::generate();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = Id::generate();
        assert_eq!(Id::parse(&a.to_string()).unwrap(), a);
        assert!(a < b);
        assert_eq!(a.to_string().len(), ID_LEN);
        let text = "01jdq1y7k3m0000000000000aa";
        assert_eq!(Id::parse(text).unwrap().to_string(), text);
        assert_eq!(Id::parse("01JDQ1Y7K3M0000000000000AA").unwrap().to_string(), text);
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
