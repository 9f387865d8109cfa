//! English for messages: counts with the right noun.

/// `count` and the noun, singular or plural: "1 task", "3 tasks".
pub fn plural(count: usize, singular: &str, plural: &str) -> String {
    format!("{count} {}", if count == 1 { singular } else { plural })
}

/// Cuts `text` to `max` characters, ending in an ellipsis when cut.
pub fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        text.chars().take(max.saturating_sub(1)).chain(std::iter::once('…')).collect()
    }
}
