//! Heading-aware chunking with overlap.
//!
//! A document is cut at Markdown headings; consecutive short sections are packed together, and a long
//! section is cut into windows of [`MAX_WORDS`] words that overlap by [`OVERLAP_WORDS`], so a sentence on
//! a boundary is whole in at least one chunk. Every chunk carries its document title and heading path:
//! "Decision 12 › Consequences" says what "it" means in a paragraph, for BM25 and the model alike.

/// Words per chunk: about 200 tokens, inside all-MiniLM-L6-v2's 256-token training length.
pub const MAX_WORDS: usize = 150;
/// Words repeated at the start of the next window of a long section.
pub const OVERLAP_WORDS: usize = 30;

/// One piece of a document, as indexed.
#[derive(Clone, Debug, PartialEq)]
pub struct Chunk {
    /// Heading path of the chunk's first section ("Context › Options"), or empty.
    pub heading: String,
    /// The chunk's own text.
    pub body: String,
}

impl Chunk {
    /// The text that is embedded (and hashed): title, heading path and body.
    pub fn embed_text(&self, title: &str) -> String {
        embed_text(title, &self.heading, &self.body)
    }
}

/// The embedded text of a chunk, rebuilt the same way from stored fields.
pub fn embed_text(title: &str, heading: &str, body: &str) -> String {
    match heading.is_empty() {
        true => format!("{title}\n{body}"),
        false => format!("{title}\n{heading}\n{body}"),
    }
}

/// The heading path without a leading heading that repeats the document title (a report's `# Title`).
pub fn without_title(heading: &str, title: &str) -> String {
    match heading.strip_prefix(title) {
        Some("") => String::new(),
        Some(rest) => rest.strip_prefix(" › ").map_or_else(|| heading.to_string(), str::to_string),
        None => heading.to_string(),
    }
}

/// Cuts Markdown into chunks; code fences never start a section.
pub fn chunk_markdown(text: &str) -> Vec<Chunk> {
    let mut sections: Vec<(String, String)> = Vec::new();
    let mut path: Vec<(usize, String)> = Vec::new();
    let mut current = String::new();
    let mut in_fence = false;
    let heading_text = |path: &[(usize, String)]| path.iter().map(|(_, h)| h.as_str()).collect::<Vec<_>>().join(" › ");
    for line in text.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            in_fence = !in_fence;
        }
        let level = trimmed.bytes().take_while(|b| *b == b'#').count();
        let is_heading = !in_fence && (1..=6).contains(&level) && trimmed[level..].starts_with(' ');
        if is_heading {
            if !current.trim().is_empty() {
                sections.push((heading_text(&path), std::mem::take(&mut current)));
            }
            current.clear();
            path.retain(|(l, _)| *l < level);
            path.push((level, trimmed[level..].trim().trim_end_matches('#').trim().to_string()));
        } else {
            current.push_str(line);
            current.push('\n');
        }
    }
    if !current.trim().is_empty() || sections.is_empty() {
        sections.push((heading_text(&path), current));
    }
    pack(sections)
}

/// Packs short sections together and splits long ones into overlapping windows.
fn pack(sections: Vec<(String, String)>) -> Vec<Chunk> {
    let mut chunks: Vec<Chunk> = Vec::new();
    let mut open: Option<(Chunk, usize)> = None;
    for (heading, body) in sections {
        let words: Vec<&str> = body.split_whitespace().collect();
        if words.len() > MAX_WORDS {
            chunks.extend(open.take().map(|(c, _)| c));
            let mut start = 0;
            while start < words.len() {
                let end = (start + MAX_WORDS).min(words.len());
                chunks.push(Chunk { heading: heading.clone(), body: words[start..end].join(" ") });
                if end == words.len() {
                    break;
                }
                start = end - OVERLAP_WORDS;
            }
            continue;
        }
        let text = words.join(" ");
        match open.as_mut() {
            Some((chunk, count)) if *count + words.len() <= MAX_WORDS => {
                if !heading.is_empty() && heading != chunk.heading {
                    chunk.body.push_str(&format!("\n{}:", heading.rsplit(" › ").next().unwrap_or(&heading)));
                }
                chunk.body.push('\n');
                chunk.body.push_str(&text);
                *count += words.len();
            }
            _ => {
                chunks.extend(open.take().map(|(c, _)| c));
                open = Some((Chunk { heading, body: text }, words.len()));
            }
        }
    }
    chunks.extend(open.map(|(c, _)| c));
    chunks.retain(|c| !c.body.trim().is_empty() || !c.heading.is_empty());
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headings_start_sections_and_short_ones_are_packed() {
        let chunks =
            chunk_markdown("# Title\nintro words\n## Context\nwhy\n```\n# not a heading\n```\n## Options\na b c\n");
        assert_eq!(chunks.len(), 1, "{chunks:?}");
        assert_eq!(chunks[0].heading, "Title");
        assert!(chunks[0].body.contains("Context:") && chunks[0].body.contains("# not a heading"), "{chunks:?}");
    }

    #[test]
    fn long_sections_become_overlapping_windows() {
        let text: Vec<String> = (0..400).map(|i| format!("w{i}")).collect();
        let chunks = chunk_markdown(&format!("## Long\n{}\n", text.join(" ")));
        assert_eq!(chunks.len(), 4, "windows start at words 0, 120, 240 and 360");
        assert!(chunks.iter().all(|c| c.heading == "Long"));
        let first: Vec<&str> = chunks[0].body.split(' ').collect();
        let second: Vec<&str> = chunks[1].body.split(' ').collect();
        assert_eq!(first[MAX_WORDS - OVERLAP_WORDS..], second[..OVERLAP_WORDS]);
        assert!(chunks[3].body.ends_with("w399"));
    }
}
