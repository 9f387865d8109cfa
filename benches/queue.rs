//! In-process benchmarks of the task operations at 1,000 and 10,000 tasks (docs/benchmarks.md).
//!
//! Each size gets a fresh git repository seeded with the synthetic ledger; the service is opened once,
//! as the MCP server does, and each operation runs against the files (the cache is warm, the OS file
//! cache too). `cargo bench --bench queue`.

#![allow(missing_docs)] // criterion_group! generates an undocumented function

use std::hint::black_box;
use std::time::Duration;

use abathur::Service;
use abathur::ledger::Ledger;
use abathur::queue::api::*;
use abathur::queue::store::TaskStore;
use abathur::time::{Clock, Timestamp};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};

fn ledger_with(n: usize) -> (tempfile::TempDir, Service, Vec<String>) {
    let dir = tempfile::tempdir().expect("tempdir");
    git2::Repository::init(dir.path()).expect("git init");
    let (ledger, _) = Ledger::init(dir.path()).expect("ledger");
    let start = Timestamp::parse("2026-11-01T00:00:00Z").expect("timestamp");
    let ids = abathur::queue::synthetic::seed(&TaskStore::new(&ledger), n, start).expect("seed");
    let service = Service::from_ledger(ledger, Clock::from_env().expect("clock")).expect("service");
    service.task_queue_status().expect("warm the cache");
    (dir, service, ids.iter().map(|i| i.to_string()).collect())
}

fn queue(c: &mut Criterion) {
    let mut group = c.benchmark_group("task");
    group.sample_size(20).measurement_time(Duration::from_secs(4)).warm_up_time(Duration::from_secs(1));
    for n in [1_000usize, 10_000] {
        let (_dir, service, ids) = ledger_with(n);
        let middle = ids[n / 2].clone();
        group.bench_with_input(BenchmarkId::new("get", n), &n, |b, _| {
            b.iter(|| black_box(service.task_get(GetRequest { task_id: middle.clone() }).expect("get")))
        });
        group.bench_with_input(BenchmarkId::new("list", n), &n, |b, _| {
            b.iter(|| black_box(service.task_list(ListRequest::default()).expect("list")))
        });
        group.bench_with_input(BenchmarkId::new("status", n), &n, |b, _| {
            b.iter(|| black_box(service.task_queue_status().expect("status")))
        });
        group.bench_with_input(BenchmarkId::new("plan_milestone", n), &n, |b, _| {
            let req = PlanRequest { task_ids: vec![], milestone: Some("M4".into()) };
            b.iter(|| black_box(service.task_execution_plan(req.clone()).expect("plan")))
        });
        group.bench_with_input(BenchmarkId::new("add", n), &n, |b, _| {
            b.iter(|| {
                let req = EnqueueRequest { description: "Benchmark task".into(), ..Default::default() };
                black_box(service.task_enqueue(req).expect("add"))
            })
        });
        group.bench_with_input(BenchmarkId::new("claim", n), &n, |b, _| {
            b.iter(|| black_box(service.task_claim(ClaimRequest::default()).expect("claim")))
        });
    }
    group.finish();
}

criterion_group!(benches, queue);
criterion_main!(benches);
