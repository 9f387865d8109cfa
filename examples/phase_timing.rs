//! Times the phases of a queue read on an existing ledger: `phase_timing DIR` (a profiling aid).
//! Cold figures (the first round) are what a one-shot CLI process pays; `ROUNDS=400` for profiling.

use abathur::queue::view::{QueueView, Scope};

fn main() {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).expect("usage: phase_timing DIR"));
    let ledger = abathur::ledger::Ledger::discover(&dir).expect("ledger");
    let store = abathur::queue::store::TaskStore::new(&ledger);
    let config = ledger.config().expect("config");
    let now = abathur::time::Clock::from_env().expect("clock").now();
    let rounds = std::env::var("ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(3);
    for _ in 0..rounds {
        let t0 = std::time::Instant::now();
        let heads = store.load().expect("load");
        let t1 = std::time::Instant::now();
        let n = heads.tasks.len();
        let view = QueueView::build_scoped(heads, now, &config.priority, &Default::default(), Scope::Ready(None));
        let t2 = std::time::Instant::now();
        drop(view);
        let t3 = std::time::Instant::now();
        println!("{n} tasks: load {:?}, ready-scoped view {:?}, drop {:?}", t1 - t0, t2 - t1, t3 - t2);
    }
}
