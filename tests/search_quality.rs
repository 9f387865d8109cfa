//! Retrieval quality, on two sets:
//!
//! - Django's documentation (tests/data/django: 1,485 sections nobody here wrote, 179 questions
//!   labelled by reading them, most paraphrased, 108 of them held back from tuning): the honest one.
//! - A small project ledger written here (tests/data/retrieval_ledger.toml, 107 documents of all four
//!   kinds, 44 queries): a regression test of all four kinds of document.
//!
//! Each is scored by recall@5, recall@10 and MRR@10 for text (BM25), semantic (dense only) and
//! hybrid. The ledger is written and indexed by the real binary; the queries run in-process through
//! the same `Service::search` the CLI and MCP server call, so the model loads once. The tables printed
//! are those in docs/search.md (`cargo test search_quality -- --nocapture`).

use std::collections::HashMap;

use abathur::search::api::{Mode, SearchRequest};
use serde::Deserialize;

use crate::common::{Repo, model_home};

#[derive(Deserialize)]
struct Ledger {
    doc: Vec<Doc>,
}

#[derive(Deserialize)]
struct Doc {
    id: String,
    kind: String,
    #[serde(default)]
    ns: String,
    #[serde(default, rename = "type")]
    memory_type: Option<String>,
    #[serde(default)]
    title: String,
    text: String,
}

#[derive(Deserialize)]
struct Queries {
    query: Vec<Query>,
}

#[derive(Deserialize)]
struct Query {
    kind: String,
    text: String,
    relevant: Vec<String>,
}

#[derive(Default, Clone, Copy)]
struct Scores {
    recall5: f64,
    recall10: f64,
    mrr10: f64,
    n: usize,
}

impl Scores {
    fn add(&mut self, ranked: &[String], relevant: &[String]) {
        let found = |k: usize| relevant.iter().filter(|r| ranked.iter().take(k).any(|h| h == *r)).count();
        self.recall5 += found(5) as f64 / relevant.len() as f64;
        self.recall10 += found(10) as f64 / relevant.len() as f64;
        self.mrr10 += ranked.iter().take(10).position(|h| relevant.contains(h)).map_or(0.0, |p| 1.0 / (p + 1) as f64);
        self.n += 1;
    }

    fn mean(self) -> (f64, f64, f64) {
        let n = self.n.max(1) as f64;
        (self.recall5 / n, self.recall10 / n, self.mrr10 / n)
    }
}

/// Writes every document into the ledger of `repo`; returns the ledger path of each document id.
fn build_ledger(repo: &Repo) -> HashMap<String, String> {
    let ledger: Ledger =
        toml::from_str(include_str!("data/retrieval_ledger.toml")).expect("retrieval_ledger.toml parses");
    let mut paths = HashMap::new();
    for doc in &ledger.doc {
        let path = match doc.kind.as_str() {
            "memory" => {
                let kind = doc.memory_type.as_deref().unwrap_or("semantic");
                // Episodic entries get a long TTL: the test must not depend on today's date.
                let mut args = vec!["memory", "add", &doc.ns, &doc.id, &doc.text, "--type", kind];
                if kind == "episodic" {
                    args.extend(["--ttl", "3650d"]);
                }
                // Replies give the absolute path; search names a file by its place in the ledger.
                let path = repo.json(&args)["path"].as_str().unwrap().to_string();
                format!(".abathur/{}", path.split_once("/.git/abathur/").unwrap().1)
            }
            "task" => {
                let id = repo.add(&[&doc.text]);
                format!(".abathur/tasks/{id}.toml")
            }
            folder @ ("decision" | "report") => {
                let dir = if folder == "decision" { "decisions" } else { "gates" };
                let rel = format!(".abathur/{dir}/{}.md", doc.id);
                let body = if doc.text.starts_with('#') {
                    doc.text.clone()
                } else {
                    format!("# {}\n\n{}\n", doc.title, doc.text)
                };
                std::fs::write(repo.path().join(".git/abathur").join(&rel[".abathur/".len()..]), body).unwrap();
                rel
            }
            other => panic!("unknown kind {other}"),
        };
        paths.insert(path, doc.id.clone());
    }
    paths
}

#[test]
fn hybrid_beats_both_retrievers_and_loses_nothing_on_word_queries() {
    let Some(model) = model_home() else { return };
    let repo = Repo::new();
    let ids_by_path = build_ledger(&repo);
    let indexed = repo.json_with_model(&model, &["index"]);
    assert_eq!(indexed["chunks_without_vectors"], 0, "{indexed}");
    assert!(indexed["chunks_total"].as_u64().unwrap() >= 107, "{indexed}");

    let queries: Queries = toml::from_str(include_str!("data/retrieval_queries.toml")).expect("queries parse");
    assert!(queries.query.len() >= 40);
    assert!(queries.query.iter().filter(|q| q.kind == "paraphrase").count() * 2 >= queries.query.len());
    let service = abathur::Service::open(repo.path()).unwrap().with_model_home(model).long_lived();
    let modes = [Mode::Text, Mode::Semantic, Mode::Hybrid];
    let mut scores: HashMap<(Mode, &str), Scores> = HashMap::new();
    for q in &queries.query {
        for mode in modes {
            let req = SearchRequest { query: q.text.clone(), mode: Some(mode), limit: Some(10), ..Default::default() };
            let reply = service.search(req).unwrap();
            assert_eq!(reply.mode, mode, "{:?}", reply.notices);
            let ranked: Vec<String> = reply
                .hits
                .iter()
                .map(|h| ids_by_path.get(&h.path).cloned().unwrap_or_else(|| h.path.clone()))
                .collect();
            for kind in [q.kind.as_str(), "all"] {
                scores.entry((mode, kind)).or_default().add(&ranked, &q.relevant);
            }
        }
    }

    println!("| queries | mode | recall@5 | recall@10 | MRR@10 |\n|---|---|---|---|---|");
    for kind in ["word", "paraphrase", "all"] {
        for mode in modes {
            let s = scores[&(mode, kind)];
            let (r5, r10, mrr) = s.mean();
            println!("| {kind} ({}) | {mode:?} | {r5:.3} | {r10:.3} | {mrr:.3} |", s.n);
        }
    }
    let mrr = |mode, kind| scores[&(mode, kind)].mean().2;
    assert!(
        mrr(Mode::Hybrid, "word") >= mrr(Mode::Text, "word") - 0.02,
        "hybrid loses on word queries: {} vs text {}",
        mrr(Mode::Hybrid, "word"),
        mrr(Mode::Text, "word")
    );
    // Vectors within cosine 0.9997 of each other (the rewritten graph at three block sizes) move
    // dense-only paraphrase MRR@10 here between 0.764 and 0.795: on this small set, hybrid may tie
    // dense-only but must not lose more than one question's first place (docs/search.md). The
    // clear margin is asserted on the Django set.
    for kind in ["paraphrase", "all"] {
        let one_place = 0.5 / scores[&(Mode::Hybrid, kind)].n as f64;
        assert!(mrr(Mode::Hybrid, kind) > mrr(Mode::Text, kind), "hybrid does not beat text on {kind}");
        assert!(
            mrr(Mode::Hybrid, kind) >= mrr(Mode::Semantic, kind) - one_place,
            "hybrid loses to semantic on {kind}: {:.3} vs {:.3}",
            mrr(Mode::Hybrid, kind),
            mrr(Mode::Semantic, kind)
        );
    }
}

#[derive(Deserialize)]
struct Section {
    id: String,
    text: String,
}

#[derive(Deserialize)]
struct DjangoQuestions {
    question: Vec<DjangoQuestion>,
}

#[derive(Deserialize)]
struct DjangoQuestion {
    kind: String,
    part: String,
    text: String,
    relevant: Vec<String>,
}

/// The ranked section ids for `text` in `mode`.
fn ranked(service: &abathur::Service, text: &str, mode: Mode) -> Vec<String> {
    let req = SearchRequest { query: text.to_string(), mode: Some(mode), limit: Some(10), ..Default::default() };
    let reply = service.search(req).unwrap();
    assert_eq!(reply.mode, mode, "{:?}", reply.notices);
    reply
        .hits
        .iter()
        .map(|h| {
            let rel = h.path.strip_prefix(".abathur/decisions/django/").unwrap_or(&h.path);
            rel.strip_suffix(".md").unwrap_or(rel).to_string()
        })
        .collect()
}

#[test]
fn django_docs_hybrid_beats_bm25_on_words_and_dense_on_paraphrases() {
    let Some(model) = model_home() else { return };
    // ABATHUR_QUALITY_REPO keeps the indexed repository between runs, to try rankings without
    // embedding the sections again.
    let kept = std::env::var_os("ABATHUR_QUALITY_REPO").map(std::path::PathBuf::from);
    let reused = kept.as_ref().is_some_and(|dir| dir.join(".git/abathur/decisions/django").is_dir());
    let repo = match &kept {
        Some(dir) if reused => Repo::kept(dir),
        Some(dir) => {
            std::fs::create_dir_all(dir).unwrap();
            let repo = Repo::kept(dir);
            repo.git(&["init", "-q", "-b", "main"]);
            repo.ok(&["init"]);
            repo
        }
        None => Repo::new(),
    };
    let decisions = repo.path().join(".git/abathur/decisions/django");
    let sections: Vec<Section> = include_str!("data/django/sections.jsonl")
        .lines()
        .map(|line| serde_json::from_str(line).expect("sections.jsonl parses"))
        .collect();
    assert!(sections.len() >= 500);
    for section in sections.iter().filter(|_| !reused) {
        let path = decisions.join(format!("{}.md", section.id));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, &section.text).unwrap();
    }
    let indexed = repo.json_with_model(&model, &["index"]);
    assert_eq!(indexed["chunks_without_vectors"], 0, "{indexed}");

    let questions: DjangoQuestions =
        toml::from_str(include_str!("data/django/questions.toml")).expect("questions.toml parses");
    assert!(questions.question.len() >= 150);
    let service = abathur::Service::open(repo.path()).unwrap().with_model_home(model).long_lived();
    let modes = [Mode::Text, Mode::Semantic, Mode::Hybrid];
    let mut scores: HashMap<(Mode, &str, &str), Scores> = HashMap::new();
    for q in &questions.question {
        for mode in modes {
            let ranked = ranked(&service, &q.text, mode);
            for part in [q.part.as_str(), "all"] {
                for kind in [q.kind.as_str(), "all"] {
                    scores.entry((mode, part, kind)).or_default().add(&ranked, &q.relevant);
                }
            }
        }
    }

    println!("| part | questions | mode | recall@5 | recall@10 | MRR@10 |\n|---|---|---|---|---|---|");
    let parts: &[&str] =
        if std::env::var_os("ABATHUR_QUALITY_TUNE").is_some() { &["tune"] } else { &["tune", "held-back", "all"] };
    for &part in parts {
        for kind in ["word", "paraphrase", "all"] {
            for mode in modes {
                let s = scores[&(mode, part, kind)];
                let (r5, r10, mrr) = s.mean();
                println!("| {part} | {kind} ({}) | {mode:?} | {r5:.3} | {r10:.3} | {mrr:.3} |", s.n);
            }
        }
    }
    // The targets of issue 16, on the questions tuning never looked at.
    let held = |kind| scores[&(Mode::Hybrid, "held-back", kind)].mean();
    assert!(held("all").2 >= 0.75, "held-back MRR@10 {:.3} < 0.75", held("all").2);
    assert!(held("word").2 >= 0.95, "held-back word MRR@10 {:.3} < 0.95", held("word").2);
    assert!(held("paraphrase").2 >= 0.65, "held-back paraphrase MRR@10 {:.3} < 0.65", held("paraphrase").2);
    assert!(held("all").1 >= 0.85, "held-back recall@10 {:.3} < 0.85", held("all").1);
    let mrr = |mode, kind| scores[&(mode, "all", kind)].mean().2;
    assert!(
        mrr(Mode::Hybrid, "word") >= mrr(Mode::Text, "word") - 0.01,
        "hybrid loses to BM25 on word questions: {:.3} vs {:.3}",
        mrr(Mode::Hybrid, "word"),
        mrr(Mode::Text, "word")
    );
    assert!(
        mrr(Mode::Hybrid, "paraphrase") >= mrr(Mode::Semantic, "paraphrase") + 0.03,
        "hybrid does not clearly beat dense-only on paraphrases: {:.3} vs {:.3}",
        mrr(Mode::Hybrid, "paraphrase"),
        mrr(Mode::Semantic, "paraphrase")
    );
}
