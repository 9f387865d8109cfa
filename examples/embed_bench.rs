//! The embedding model alone, as a long-lived server uses it: `embed_bench [ROUNDS]` loads the
//! installed model (`ABATHUR_MODEL_HOME`) and prints its load time, one-query latency and the time
//! of a batch of real sections; `GAP_US=N` idles N µs before each query. Run it against two model
//! homes in the same minutes for an A/B.

use std::time::Instant;

use abathur::search::model::{self, Embedder};

fn main() {
    let rounds: usize = std::env::args().nth(1).and_then(|r| r.parse().ok()).unwrap_or(50);
    // A server idles between its client's requests, and a query after a pause is slower.
    let gap = std::env::var("GAP_US").ok().and_then(|g| g.parse().ok()).map(std::time::Duration::from_micros);
    let installed = model::locate(&model::model_home(), model::DEFAULT_MODEL).expect("model installed");
    let t = Instant::now();
    let mut embedder = Embedder::load(&installed).expect("model loads");
    println!("load_ms {:.0}", t.elapsed().as_secs_f64() * 1000.0);
    embedder.embed(&["warm up"]).expect("embed");
    // Real questions of the Django quality set, as agents ask them.
    let questions: toml::Table = include_str!("../tests/data/django/questions.toml").parse().expect("questions parse");
    let queries: Vec<&str> = questions["question"]
        .as_array()
        .expect("a list of questions")
        .iter()
        .take(16)
        .map(|q| q["text"].as_str().expect("question text"))
        .collect();
    let mut times = Vec::new();
    for _ in 0..rounds {
        for &q in &queries {
            if let Some(gap) = gap {
                std::thread::sleep(gap);
            }
            let t = Instant::now();
            embedder.embed(&[q]).expect("embed");
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
    }
    times.sort_by(f64::total_cmp);
    let pct = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    println!("query_ms p50 {:.2} p95 {:.2} ({} queries)", pct(0.5), pct(0.95), times.len());
    let sections: Vec<String> = include_str!("../tests/data/django/sections.jsonl")
        .lines()
        .take(model::BATCH_SIZE)
        .map(|line| {
            serde_json::from_str::<serde_json::Value>(line).expect("json")["text"].as_str().unwrap_or("").into()
        })
        .collect();
    let texts: Vec<&str> = sections.iter().map(String::as_str).collect();
    let mut batches = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        embedder.embed(&texts).expect("embed");
        batches.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    batches.sort_by(f64::total_cmp);
    println!("batch_of_{}_sections_ms p50 {:.0}", texts.len(), batches[batches.len() / 2]);
}
