//! Field-wise merges by `abathur sync` between two real clones of one remote: lifecycle resolution,
//! free text kept on one side and reported (never conflict markers), and 100 randomised two-machine
//! edit scenarios, merged in one sync, in which no field is lost.

use toml::{Table, Value};

use crate::common::{Repo, describe, hermetic};

/// Two clones of one bare remote sharing `n` tasks; `.0` holds the remote.
fn setup(n: usize) -> (tempfile::TempDir, Repo, Repo, Vec<String>) {
    let remote = tempfile::tempdir().unwrap();
    let git = |dir: &std::path::Path, args: &[&str]| {
        let mut cmd = std::process::Command::new("git");
        cmd.args(args).current_dir(dir);
        hermetic(&mut cmd, dir);
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "git {args:?}: {}", describe(&out));
    };
    git(remote.path(), &["init", "-q", "--bare", "-b", "main"]);
    let one = Repo::new();
    one.git(&["remote", "add", "origin", remote.path().to_str().unwrap()]);
    let ids: Vec<String> = (0..n).map(|i| one.add(&[&format!("Task number {i}\n\nLine one.\nLine two.")])).collect();
    one.json(&["sync", "--remote", "origin"]);
    let two = Repo::empty();
    git(two.path(), &["clone", "-q", remote.path().to_str().unwrap(), "."]);
    two.json(&["sync", "--remote", "origin"]);
    (remote, one, two, ids)
}

fn path(repo: &Repo, id: &str) -> std::path::PathBuf {
    repo.tasks_dir().join(format!("{id}.toml"))
}

/// Edits a task file by hand, as a person or another tool would.
fn edit(repo: &Repo, id: &str, f: impl FnOnce(&mut Table)) {
    let p = path(repo, id);
    let mut table: Table = std::fs::read_to_string(&p).unwrap().parse().unwrap();
    f(&mut table);
    std::fs::write(&p, toml::to_string(&table).unwrap()).unwrap();
}

fn read(repo: &Repo, id: &str) -> Table {
    std::fs::read_to_string(path(repo, id)).unwrap().parse().unwrap()
}

/// `theirs` publishes, then `ours` syncs (merging theirs into its own); returns ours' reply.
fn merge(ours: &Repo, theirs: &Repo) -> serde_json::Value {
    theirs.json(&["sync"]);
    ours.json(&["sync"])
}

fn s(v: &str) -> Value {
    Value::String(v.into())
}

#[test]
fn different_fields_merge_cleanly_and_a_completion_survives_a_claim() {
    let (_remote, one, two, ids) = setup(2);
    let id = &ids[0];
    edit(&one, id, |t| {
        t.insert("base_priority".into(), Value::Integer(9));
        t.insert("state".into(), s("completed"));
        t.insert("started_at".into(), s("2026-12-01T00:00:00.000Z"));
        t.insert("completed_at".into(), s("2026-12-01T01:00:00.000Z"));
        t.insert("last_updated_at".into(), s("2026-12-01T01:00:00.000Z"));
    });
    edit(&two, id, |t| {
        t.insert("description".into(), s("Task number 0, reworded.\n\nLine one.\nLine two."));
        t.insert("prerequisites".into(), Value::Array(vec![s(&ids[1])]));
        t.insert("state".into(), s("running"));
        let mut lease = toml::map::Map::new();
        lease.insert("lease_id".into(), s("l-two"));
        lease.insert("holder".into(), s("agent-two"));
        for at in ["claimed_at", "renewed_at"] {
            lease.insert(at.into(), s("2026-12-02T00:00:00.000Z"));
        }
        lease.insert("expires_at".into(), s("2026-12-02T00:10:00.000Z"));
        t.insert("lease".into(), Value::Table(lease));
        t.insert("started_at".into(), s("2026-12-02T00:00:00.000Z"));
        t.insert("last_updated_at".into(), s("2026-12-02T00:00:00.000Z"));
    });
    let reply = merge(&two, &one);
    assert_eq!(reply["conflicts"], serde_json::json!([]), "{reply}");
    let merged = read(&two, id);
    assert_eq!(merged["base_priority"].as_integer(), Some(9));
    assert!(merged["description"].as_str().unwrap().contains("reworded"));
    assert_eq!(merged["prerequisites"].as_array().unwrap().len(), 1);
    assert_eq!(merged["state"].as_str(), Some("completed"), "finished beats running, though running is later");
    two.ok(&["check"]);
    one.json(&["sync"]);
    assert_eq!(read(&one, id), merged, "the first clone receives the merge");
}

#[test]
fn the_same_text_changed_twice_keeps_one_side_reports_it_and_writes_no_markers() {
    let (_remote, one, two, ids) = setup(1);
    let id = &ids[0];
    edit(&one, id, |t| {
        t.insert("description".into(), s("Theirs: do it with regular expressions."));
    });
    edit(&two, id, |t| {
        t.insert("description".into(), s("Ours: do it with a parser."));
    });
    let reply = merge(&two, &one);
    assert_eq!(reply["conflicts"], serde_json::json!([format!("tasks/{id}.toml")]), "{reply}");
    let text = std::fs::read_to_string(path(&two, id)).unwrap();
    assert!(!text.contains("<<<<<<<") && text.contains("Ours: do it with a parser."), "{text}");
    two.ok(&["check"]);
    // The other text is in the history: the merge's second parent.
    let shard = format!("{}/{}", &id[25..], &id[24..25]);
    let theirs = two.git(&["show", &format!("abathur-ledger^2:tasks/{shard}/{id}.toml")]);
    assert!(theirs.contains("regular expressions"), "{theirs}");
}

/// A tiny deterministic generator (no extra dependency).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const SCALARS: [&str; 4] = ["base_priority", "agent_type", "milestone", "estimated_duration_seconds"];

fn scalar(key: &str, side: &str, r: u64) -> Value {
    match key {
        "base_priority" => Value::Integer((r % 11) as i64),
        "estimated_duration_seconds" => Value::Integer(60 + (r % 10_000) as i64),
        "agent_type" => s(&format!("agent-{side}-{}", r % 100)),
        _ => s(&format!("M{}", 1 + r % 9)),
    }
}

#[test]
fn a_hundred_random_two_branch_edits_lose_no_field() {
    let n = 100;
    let (_remote, one, two, ids) = setup(n + 1);
    let mut scenarios = Vec::new();
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    let mut conflicts_expected = 0;
    for i in 0..n {
        let id = &ids[i];
        let mut sides: Vec<(Table, Vec<String>, Vec<String>, bool)> = Vec::new();
        let text_conflict = i % 10 == 9;
        let base = read(&one, id);
        for (k, side) in ["a", "b"].iter().enumerate() {
            let mut plan = Table::new();
            let mut keys = Vec::new();
            for key in SCALARS {
                if rng.below(3) == 0 {
                    plan.insert(key.into(), scalar(key, side, rng.next()));
                    keys.push(key.to_string());
                }
            }
            // Free text: one side only, unless this scenario is meant to conflict.
            if (k == 0 && rng.below(2) == 0) || text_conflict {
                plan.insert("description".into(), s(&format!("Description from {side} in scenario {i}.")));
                keys.push("description".into());
            }
            let mut events = Vec::new();
            if rng.below(2) == 0 {
                events.push(format!("note-{side}-{i}"));
            }
            let prereq = rng.below(3) == 0;
            let complete = rng.below(4) == 0;
            let stamp = format!("2026-12-{:02}T{:02}:00:00.000Z", 1 + rng.below(28), rng.below(24));
            plan.insert("last_updated_at".into(), s(&stamp));
            sides.push((plan, keys, events, prereq));
            let (plan, _, events, prereq) = sides.last().unwrap().clone();
            edit(if k == 0 { &one } else { &two }, id, |t| {
                for (k, v) in plan {
                    t.insert(k, v);
                }
                let list = t.entry("events").or_insert(Value::Array(vec![])).as_array_mut().unwrap();
                for e in &events {
                    let mut ev = Table::new();
                    ev.insert("at".into(), s(&stamp));
                    ev.insert("event".into(), s(e));
                    list.push(Value::Table(ev));
                }
                if prereq {
                    t.insert("prerequisites".into(), Value::Array(vec![s(&ids[n])]));
                }
                if complete {
                    t.insert("state".into(), s("completed"));
                    t.insert("started_at".into(), s(&stamp));
                    t.insert("completed_at".into(), s(&stamp));
                }
            });
        }
        scenarios.push((base, sides, text_conflict));
    }
    // Side a is the first machine, side b the second: one sync merges all hundred.
    let reply = merge(&two, &one);
    let reported: Vec<String> =
        reply["conflicts"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_string()).collect();
    for (i, (base, sides, text_conflict)) in scenarios.into_iter().enumerate() {
        let id = &ids[i];
        if text_conflict {
            conflicts_expected += 1;
            assert!(reported.contains(&format!("tasks/{id}.toml")), "scenario {i}: conflict not reported");
            let text = std::fs::read_to_string(path(&two, id)).unwrap();
            let ours = sides[1].0.get("description").unwrap().as_str().unwrap();
            assert!(!text.contains("<<<<<<<") && text.contains(ours), "scenario {i}: ours kept\n{text}");
            continue;
        }
        let merged = read(&two, id);
        let merged_text = std::fs::read_to_string(path(&two, id)).unwrap();
        abathur::queue::task::TaskRecord::from_toml(&merged_text, &path(&two, id))
            .unwrap_or_else(|e| panic!("scenario {i}: merged file invalid: {}", e.message));
        let (a, b) = (&sides[0], &sides[1]);
        for key in SCALARS.iter().map(|k| k.to_string()).chain(["description".to_string()]) {
            // Setting a field to its base value is no change at all.
            let changed = |side: &(Table, Vec<String>, Vec<String>, bool)| {
                side.1.contains(&key) && side.0.get(&key) != base.get(&key)
            };
            let (in_a, in_b) = (changed(a), changed(b));
            let got = merged.get(&key);
            match (in_a, in_b) {
                (true, false) => assert_eq!(got, a.0.get(&key), "scenario {i}: {key} from a lost"),
                (false, true) => assert_eq!(got, b.0.get(&key), "scenario {i}: {key} from b lost"),
                (true, true) if a.0.get(&key) != b.0.get(&key) => {
                    assert!(got == a.0.get(&key) || got == b.0.get(&key), "scenario {i}: {key} is neither side's");
                    let notes = merged["events"].as_array().unwrap();
                    assert!(
                        notes.iter().any(|e| e.get("event").and_then(Value::as_str) == Some("merged")
                            && e.get("note").and_then(Value::as_str).is_some_and(|n| n.contains(&key))),
                        "scenario {i}: the value that lost for {key} is not recorded"
                    );
                }
                _ => {}
            }
        }
        let events: Vec<&str> = merged["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e.get("event").and_then(Value::as_str))
            .collect();
        for e in a.2.iter().chain(&b.2) {
            assert!(events.contains(&e.as_str()), "scenario {i}: event {e} lost");
        }
        if a.3 || b.3 {
            assert_eq!(
                merged["prerequisites"].as_array().unwrap(),
                &vec![s(&ids[n])],
                "scenario {i}: prerequisite lost"
            );
        }
    }
    assert_eq!(conflicts_expected, 10);
    assert_eq!(reported.len(), 10, "{reported:?}");
    two.ok(&["check"]);
}
