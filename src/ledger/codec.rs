//! Reading ledger files: the one place that lists a folder, reads a file and splits front matter,
//! so every kind of record (task, milestone, gate decision, report, decision, memory, session) is
//! refused the same way: a symbolic link, a file over the size limit or one that is not UTF-8 is an
//! error naming the file, and a folder that cannot be listed is an error, never an empty list.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::ledger::atomic::TEMP_PREFIX;

/// The largest file the ledger reads: far more than any record needs, small enough that a stray
/// binary or log dropped in a ledger folder cannot exhaust memory.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// Reads a ledger file: a plain file (not a symbolic link) of at most [`MAX_FILE_BYTES`].
pub fn read_bytes(path: &Path) -> Result<Vec<u8>> {
    let meta = std::fs::symlink_metadata(path).map_err(|e| Error::io(path, e))?;
    if meta.file_type().is_symlink() {
        return Err(Error::malformed(path, "is a symbolic link; the ledger reads only plain files")
            .hint("replace the link by the file it points to"));
    }
    let too_big = |len: u64| {
        Error::malformed(path, format!("file is {len} bytes; a ledger file is at most {MAX_FILE_BYTES}"))
            .hint("move it out of the ledger folder")
    };
    if meta.len() > MAX_FILE_BYTES {
        return Err(too_big(meta.len()));
    }
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_big(bytes.len() as u64)); // it grew since
    }
    Ok(bytes)
}

/// Reads a ledger file as text ([`read_bytes`], then UTF-8).
pub fn read_text(path: &Path) -> Result<String> {
    String::from_utf8(read_bytes(path)?).map_err(|_| Error::malformed(path, "file is not UTF-8 text"))
}

/// [`read_text`], with `None` for a file that does not exist.
pub fn read_optional(path: &Path) -> Result<Option<String>> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        _ => read_text(path).map(Some),
    }
}

/// [`read_bytes`], with `None` for a file that does not exist.
pub fn read_bytes_optional(path: &Path) -> Result<Option<Vec<u8>>> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        _ => read_bytes(path).map(Some),
    }
}

/// The `*.ext` files of `dir` in name order: none when the folder does not exist, an error when it
/// cannot be listed. Writers' temporary files (`.abathur-tmp-*`) are left out; symbolic links are
/// listed, so that reading them reports them.
pub fn list(dir: &Path, ext: &str) -> Result<Vec<PathBuf>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(dir, e)),
    };
    let mut paths = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| Error::io(dir, e))?.path();
        let name = path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
        if path.extension().is_some_and(|e| e == ext) && !name.starts_with(TEMP_PREFIX) {
            paths.push(path);
        }
    }
    paths.sort();
    Ok(paths)
}

/// When a file or folder was last modified; `None` when it cannot be read (a folder not made yet).
pub fn modified(path: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Every entry under `dir` that is not a folder (files, symbolic links, anything else), at any
/// depth, in path order: none when `dir` does not exist, an error when any folder cannot be listed.
/// Symbolic links to folders are returned, not followed, so a walk never leaves the ledger.
pub fn walk(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        let entries = match std::fs::read_dir(&folder) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && folder == dir => return Ok(Vec::new()),
            Err(e) => return Err(Error::io(&folder, e)),
        };
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(&folder, e))?;
            let kind = entry.file_type().map_err(|e| Error::io(&entry.path(), e))?;
            if kind.is_dir() { folders.push(entry.path()) } else { found.push(entry.path()) }
        }
    }
    found.sort();
    Ok(found)
}

/// Every `*.ext` file of `dir` read and parsed by `parse`, and beside them an error for each file
/// that cannot be read or parsed: the caller decides what a bad file stops, never by skipping it.
pub fn read_all<T>(dir: &Path, ext: &str, parse: impl Fn(&str, &Path) -> Result<T>) -> Result<(Vec<T>, Vec<Error>)> {
    let mut records = Vec::new();
    let mut problems = Vec::new();
    for path in list(dir, ext)? {
        match read_text(&path).and_then(|text| parse(&text, &path)) {
            Ok(record) => records.push(record),
            Err(e) => problems.push(e),
        }
    }
    Ok((records, problems))
}

/// Splits front matter fenced by `fence` lines (`+++` for TOML, `---` for YAML) from the body:
/// `None` unless the text opens with a fence line and has a closing one. Lines may end in CRLF.
pub fn split_front_matter<'a>(text: &'a str, fence: &str) -> Option<(&'a str, &'a str)> {
    let first = text.split_inclusive('\n').next()?;
    if first.trim_end() != fence || !first.ends_with('\n') {
        return None;
    }
    let rest = &text[first.len()..];
    let mut offset = 0;
    for line in rest.split_inclusive('\n') {
        if line.trim_end() == fence {
            return Some((&rest[..offset], &rest[offset + line.len()..]));
        }
        offset += line.len();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn front_matter_needs_both_fences_and_takes_crlf() {
        assert_eq!(split_front_matter("+++\na = 1\n+++\nbody\n", "+++"), Some(("a = 1\n", "body\n")));
        assert_eq!(split_front_matter("+++\r\na = 1\r\n+++\r\nbody", "+++"), Some(("a = 1\r\n", "body")));
        assert_eq!(split_front_matter("---\ntitle: x\n---\n", "---"), Some(("title: x\n", "")));
        assert_eq!(split_front_matter("+++\na = 1\n", "+++"), None, "no closing fence");
        assert_eq!(split_front_matter("+++a\n+++\n", "+++"), None, "the opening line is only the fence");
        assert_eq!(split_front_matter("+++\na = \"x\n+++y\"\n+++\n", "+++"), Some(("a = \"x\n+++y\"\n", "")));
        assert_eq!(split_front_matter("body\n+++\n", "+++"), None);
    }

    #[test]
    fn a_walk_finds_files_at_every_depth_and_never_follows_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("memory");
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        std::fs::write(root.join("top.md"), "").unwrap();
        std::fs::write(root.join("a/b/deep.md"), "").unwrap();
        std::os::unix::fs::symlink(dir.path(), root.join("a/outside")).unwrap();
        let rel: Vec<String> =
            walk(&root).unwrap().iter().map(|p| p.strip_prefix(&root).unwrap().display().to_string()).collect();
        assert_eq!(rel, ["a/b/deep.md", "a/outside", "top.md"]);
        assert!(walk(&dir.path().join("missing")).unwrap().is_empty());
    }

    #[test]
    fn reading_refuses_links_and_oversized_files_and_listing_skips_temporary_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("b.toml"), "x = 1").unwrap();
        std::fs::write(dir.path().join("a.toml"), "x = 2").unwrap();
        std::fs::write(dir.path().join(format!("{TEMP_PREFIX}c.toml")), "").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "").unwrap();
        std::os::unix::fs::symlink(dir.path().join("a.toml"), dir.path().join("link.toml")).unwrap();
        let names: Vec<String> = list(dir.path(), "toml")
            .unwrap()
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["a.toml", "b.toml", "link.toml"]);
        let err = read_text(&dir.path().join("link.toml")).unwrap_err();
        assert!(err.message.contains("symbolic link"), "{}", err.message);
        std::fs::write(dir.path().join("big.toml"), vec![b'x'; MAX_FILE_BYTES as usize + 1]).unwrap();
        let err = read_text(&dir.path().join("big.toml")).unwrap_err();
        assert!(err.message.contains("at most"), "{}", err.message);
        assert!(list(&dir.path().join("missing"), "toml").unwrap().is_empty());
        let (records, problems) = read_all(dir.path(), "toml", |text, _| Ok(text.len())).unwrap();
        assert_eq!((records, problems.len()), (vec![5, 5], 2), "a, b read; link and big reported");
    }
}
