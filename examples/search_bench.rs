//! Search benchmark: `search_bench DIR N` seeds DIR (a git repository) with N one-chunk memory
//! entries, indexes them and prints the figures of docs/benchmarks.md as `name value` lines.
//!
//! Embedding N real chunks takes about N/30 seconds on 2 cores, so the stored chunks get clustered
//! synthetic vectors (1,000 centroids plus noise, unit length); queries use the real model. The
//! model's own throughput and the pipeline's overhead are measured on 400 real chunks separately.

use std::time::Instant;

use abathur::search::api::{Mode, SearchRequest};
use abathur::search::index::{IndexDir, VectorSource};

/// Deterministic clustered unit vectors: what real embeddings look like to an HNSW graph.
struct Clustered {
    dims: usize,
    centroids: Vec<Vec<f32>>,
    state: u64,
}

impl Clustered {
    fn next(&mut self) -> f32 {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        (self.state % 10_000) as f32 / 5_000.0 - 1.0
    }

    fn new(dims: usize) -> Clustered {
        let mut c = Clustered { dims, centroids: Vec::new(), state: 0x9e37_79b9_7f4a_7c15 };
        c.centroids = (0..1000).map(|_| unit((0..dims).map(|_| c.next()).collect())).collect();
        c
    }
}

fn unit(v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-9);
    v.into_iter().map(|x| x / norm).collect()
}

impl VectorSource for Clustered {
    fn vector_id(&self) -> String {
        // The real model's identity, so real query vectors search these stored vectors.
        let home = abathur::search::model::model_home();
        abathur::search::model::locate(&home, abathur::search::model::DEFAULT_MODEL)
            .expect("model installed")
            .vector_id()
    }
    fn embed(&mut self, texts: &[&str]) -> abathur::Result<Vec<Vec<f32>>> {
        Ok(texts
            .iter()
            .map(|t| {
                let centroid = self.centroids[(xxhash(t) % 1000) as usize].clone();
                unit(centroid.iter().map(|x| x + 0.15 * self.next() / (self.dims as f32).sqrt()).collect())
            })
            .collect())
    }
}

fn xxhash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

const TOPICS: [&str; 8] = [
    "database connection pool limits and migrations",
    "carrier webhook signatures and retries",
    "release process, rollback and feature flags",
    "on-call rotation, incidents and postmortems",
    "billing, invoices and proration",
    "notifications by email, SMS and push",
    "delivery estimates from the trained model",
    "secrets, vault and credential rotation",
];

fn main() {
    let mut args = std::env::args().skip(1);
    let usage = "usage: search_bench DIR N";
    let dir = std::path::PathBuf::from(args.next().expect(usage));
    let n: usize = args.next().and_then(|s| s.parse().ok()).expect(usage);
    let (ledger, _) = abathur::ledger::Ledger::init(&dir).expect("init the ledger");
    let memory = ledger.memory_dir().join("project");
    std::fs::create_dir_all(&memory).expect("memory folder");
    let t = Instant::now();
    for i in 0..n {
        let topic = TOPICS[i % TOPICS.len()];
        let text = format!(
            "+++\nnamespace = \"project:\"\nkey = \"fact-{i}\"\ntype = \"semantic\"\nversion = 1\nformat = \"markdown\"\ncreated_at = \"2026-11-24T00:00:00.000Z\"\nupdated_at = \"2026-11-24T00:00:00.000Z\"\n+++\n\nFact {i} about {topic}: entry {} of the synthetic ledger, with enough words to look like a real note.\n",
            i * 7919 % n.max(1)
        );
        std::fs::write(memory.join(format!("fact-{i}.md")), text).expect("write entry");
    }
    println!("seed_seconds {:.2}", t.elapsed().as_secs_f64());

    // Text-only indexing throughput: read, chunk, tantivy.
    // Long-lived, like the MCP server: the model loads once, tuned for speed per query.
    let service = abathur::Service::open(&dir).expect("open").long_lived();
    let t = Instant::now();
    let text =
        service.index(abathur::search::api::IndexRequest { rebuild: true, text_only: true }, false).expect("index");
    let secs = t.elapsed().as_secs_f64();
    println!("text_index_chunks {}", text.report.chunks_total);
    println!("text_index_chunks_per_second {:.0}", text.report.chunks_total as f64 / secs);

    // Vectors for every chunk (synthetic, clustered), through the same catch-up path.
    let index_dir = IndexDir::of(service.ledger());
    let lock = index_dir.lock(std::time::Duration::from_secs(60)).expect("lock").expect("free");
    let (mut generation, _) = index_dir.open_or_rebuild(&lock).expect("open");
    let scan = abathur::search::source::scan(service.ledger(), None).expect("scan");
    let mut clustered = Clustered::new(384);
    let t = Instant::now();
    let report =
        generation.catch_up(service.ledger(), &scan, Some(&mut clustered), usize::MAX, false).expect("vectors");
    println!("vector_index_seconds {:.2} ({} vectors)", t.elapsed().as_secs_f64(), report.chunks_embedded);
    drop(lock);
    let size: u64 = walk_size(&index_dir.root().to_path_buf());
    println!("index_bytes {size}");

    // In-process hybrid search with the model loaded (first call loads it).
    let queries = [
        "how do we undo a bad release",
        "who gets paged at night",
        "connection pool",
        "what do customers pay",
        "webhook signature",
        "arrival prediction",
        "rotate credentials",
        "text message quiet hours",
    ];
    let t = Instant::now();
    service.search(SearchRequest { query: "warm up".into(), ..Default::default() }).expect("search");
    println!("first_search_with_model_load_ms {:.1}", t.elapsed().as_secs_f64() * 1000.0);
    for mode in [Mode::Hybrid, Mode::Text] {
        let mut times = Vec::new();
        for round in 0..25 {
            for q in queries {
                let t = Instant::now();
                let reply = service
                    .search(SearchRequest {
                        query: format!("{q} {}", round % 3),
                        mode: Some(mode),
                        ..Default::default()
                    })
                    .expect("search");
                times.push(t.elapsed().as_secs_f64() * 1000.0);
                assert!(!reply.hits.is_empty());
            }
        }
        times.sort_by(f64::total_cmp);
        let pct = |p: f64| times[((times.len() - 1) as f64 * p) as usize];
        println!("{mode:?}_search_ms p50 {:.2} p95 {:.2} ({} searches)", pct(0.5), pct(0.95), times.len());
    }
    println!("peak_rss_mb {}", peak_rss_mb());
}

fn walk_size(dir: &std::path::PathBuf) -> u64 {
    std::fs::read_dir(dir)
        .map(|it| {
            it.flatten()
                .map(
                    |e| {
                        if e.path().is_dir() {
                            walk_size(&e.path())
                        } else {
                            e.metadata().map(|m| m.len()).unwrap_or(0)
                        }
                    },
                )
                .sum()
        })
        .unwrap_or(0)
}

fn peak_rss_mb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb / 1024)
}
