//! The code's own house rules, checked on its source, so that a reviewer need not remember them:
//! ledger files are read and written only through the ledger layer (`src/ledger/`), and only `main`
//! ends the process (docs/storage.md, "Reads").

use std::path::{Path, PathBuf};

/// Every Rust file under `src/`, with its text.
fn sources() -> Vec<(PathBuf, String)> {
    let mut found = Vec::new();
    let mut folders = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("src")];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                found.push((path.strip_prefix(env!("CARGO_MANIFEST_DIR")).unwrap().to_path_buf(), text));
            }
        }
    }
    assert!(found.len() > 50, "the source tree was not found");
    found
}

/// Outside `src/ledger/`, a file-system call says why the ledger layer cannot own it: a `// fs:`
/// comment on its line or the line above, or one `//! fs:` line in the module's documentation for a
/// module that keeps files of its own (the search index, the model home, the task store's cache).
#[test]
fn file_system_calls_outside_the_ledger_layer_say_why() {
    let mut unexplained = Vec::new();
    for (path, text) in sources() {
        if path.starts_with("src/ledger") || text.lines().any(|l| l.starts_with("//! fs:")) {
            continue;
        }
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let code = line.trim_start();
            if code.starts_with("//") {
                continue;
            }
            let touches = code.contains("fs::") && !code.starts_with("use std::os::unix::fs::")
                || code.starts_with("use std::fs");
            let explained = line.contains("// fs:") || i > 0 && lines[i - 1].contains("// fs:");
            if touches && !explained {
                unexplained.push(format!("{}:{}: {}", path.display(), i + 1, code));
            }
        }
    }
    assert!(
        unexplained.is_empty(),
        "read and write ledger files through src/ledger (codec, Ledger::write), or say why not with `// fs:`:\n{}",
        unexplained.join("\n")
    );
}

/// A library function that ends the process skips every destructor (the ledger lock's release, the
/// commit made when a writer finishes) and cannot be tested; errors travel up to `main` instead.
#[test]
fn only_main_ends_the_process() {
    let offenders: Vec<String> = sources()
        .into_iter()
        .filter(|(path, text)| path != Path::new("src/main.rs") && text.contains("process::exit"))
        .map(|(path, _)| path.display().to_string())
        .collect();
    assert!(offenders.is_empty(), "process::exit outside src/main.rs: {offenders:?}");
}
