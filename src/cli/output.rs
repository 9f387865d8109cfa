//! Text rendering of replies for people: short ids, tables, key-value blocks.

use comfy_table::{ContentArrangement, Table, presets};

use crate::id::{Id, unique_prefix_lengths};

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

/// A borderless table with a header row.
pub fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(presets::NOTHING).set_content_arrangement(ContentArrangement::Disabled).set_header(header.to_vec());
    t
}

/// `key: value` lines, skipping empty values.
pub fn block(rows: &[(&str, String)]) -> String {
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    rows.iter().filter(|(_, v)| !v.is_empty()).map(|(k, v)| format!("{k:<width$}  {v}\n")).collect()
}

/// Cuts `text` to `max` characters with an ellipsis.
pub fn ellipsize(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        text.chars().take(max - 1).chain(std::iter::once('…')).collect()
    }
}

/// Replaces control characters other than newline and tab (escape sequences, carriage returns,
/// bells) with `?`, so that text from the ledger cannot move the cursor, recolour or retitle the
/// terminal of whoever reads it.
pub fn neutralise_controls(text: &str) -> String {
    if !text.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return text.to_string();
    }
    text.chars().map(|c| if c.is_control() && c != '\n' && c != '\t' { '?' } else { c }).collect()
}
