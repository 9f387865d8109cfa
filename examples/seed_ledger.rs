//! Seeds a git repository's ledger with N synthetic tasks: `seed_ledger DIR N` (see docs/benchmarks.md).

fn main() {
    let mut args = std::env::args().skip(1);
    let usage = "usage: seed_ledger DIR N";
    let dir = std::path::PathBuf::from(args.next().expect(usage));
    let n: usize = args.next().and_then(|s| s.parse().ok()).expect(usage);
    let (ledger, _) = abathur::ledger::Ledger::init(&dir).expect("init the ledger");
    let store = abathur::queue::store::TaskStore::new(&ledger);
    let start = abathur::time::Timestamp::parse("2026-11-01T00:00:00Z").expect("valid timestamp");
    abathur::queue::synthetic::seed(&store, n, start).expect("seed tasks");
    ledger.commit_pending().expect("commit the seeded ledger");
    println!("{}", ledger.root().display());
}
