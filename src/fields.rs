//! The rules for the short fields people and agents fill in (names, milestone ids, bounded text),
//! shared by every record and by the configuration.

use crate::error::{Error, Result};

/// Refuses a string longer than `max` characters, or one holding NUL.
pub fn check_chars(field: &str, value: &str, max: usize) -> Result<()> {
    let n = value.chars().count();
    if n > max {
        return Err(Error::invalid(field, format!("{field} is {n} characters; at most {max} are allowed")));
    }
    if value.contains('\0') {
        return Err(Error::invalid(field, format!("{field} contains a NUL character")));
    }
    Ok(())
}

/// Agent types and similar names: 1..=64 characters of letters, digits, `-`, `_`, `.`.
pub fn validate_name(field: &str, value: &str) -> Result<()> {
    let ok = !value.is_empty()
        && value.len() <= 64
        && value.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        let shown: String = value.chars().take(70).collect();
        Err(Error::invalid(
            field,
            format!("{field} `{}` must be 1 to 64 letters, digits, `-`, `_` or `.`", shown.escape_debug()),
        ))
    }
}

/// Milestone ids (`M1`, `M2-alpha`): a letter, then letters, digits, `-`, `_`, `.`; at most 32.
pub fn validate_milestone(value: &str) -> Result<()> {
    let ok = value.len() <= 32
        && value.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && value.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        let shown: String = value.chars().take(40).collect();
        Err(Error::invalid(
            "milestone",
            format!(
                "milestone `{}` must start with a letter and use only letters, digits, `-`, `_`, `.` (at most 32)",
                shown.escape_debug()
            ),
        ))
    }
}
