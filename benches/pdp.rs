//! Criterion benchmarks of the PDP engine on a generated workload, each against the csv-crate baseline in the same run.
//!
//! The workload has `DOMO_BENCH_ROWS` rows (default 50,000, to keep `cargo bench`
//! short); `cargo xtask bench` runs the full 1M-row comparison with peak memory.
#![allow(clippy::unwrap_used, reason = "a benchmark stops at its first failure")]

use std::hint::black_box;
use std::io;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use domo_benches::Workload;
use domo_pdp::{HeaderRow, PolicySet, Reason, StreamOptions, Table};

fn rows() -> u64 {
    std::env::var("DOMO_BENCH_ROWS").ok().and_then(|v| v.parse().ok()).unwrap_or(50_000)
}

fn pdp(c: &mut Criterion) {
    let workload = Workload::generate(42, rows());
    let mut csv = Vec::new();
    workload.write_csv(&mut csv).unwrap();
    let schema = &workload.dataset.schema;
    let compile = || PolicySet::compile(&workload.dataset, &workload.policies, &workload.directory).unwrap();

    // Expected answers, computed once through the table, checked in every benchmark.
    let table = Table::from_csv(csv.as_slice(), schema, HeaderRow::Present).unwrap();
    let set = compile();
    let evaluation = set.evaluate(&table).unwrap();
    let counts = evaluation.visible_counts();
    let typical = counts.iter().find(|c| c.user == workload.typical_user).unwrap().rows as u64;
    let most = counts.iter().filter(|c| c.reason == Reason::Policies).max_by_key(|c| c.rows).unwrap();
    let (most_user, most_rows) = (most.user, most.rows as u64);
    let total: usize = counts.iter().map(|c| c.rows).sum();

    let mut group = c.benchmark_group("pdp");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(csv.len() as u64));
    group.bench_function("baseline_csv_crate", |b| {
        b.iter(|| {
            let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(csv.as_slice());
            let mut record = csv::ByteRecord::new();
            let mut n = 0u64;
            while reader.read_byte_record(&mut record).unwrap() {
                n += 1;
            }
            assert_eq!(n, workload.rows);
        });
    });
    group.bench_function("load_table", |b| {
        b.iter(|| {
            let table = Table::from_csv(black_box(csv.as_slice()), schema, HeaderRow::Present).unwrap();
            assert_eq!(table.row_count() as u64, workload.rows);
        });
    });
    group.bench_function("all_users_counts_end_to_end", |b| {
        b.iter(|| {
            let table = Table::from_csv(black_box(csv.as_slice()), schema, HeaderRow::Present).unwrap();
            let set = compile();
            let counts = set.evaluate(&table).unwrap().visible_counts();
            assert_eq!(counts.iter().map(|c| c.rows).sum::<usize>(), total);
        });
    });
    group.bench_function("typical_user_csv_end_to_end", |b| {
        b.iter(|| {
            let summary = compile()
                .write_visible_csv(
                    workload.typical_user,
                    black_box(csv.as_slice()),
                    io::sink(),
                    StreamOptions::default(),
                )
                .unwrap();
            assert_eq!(summary.rows_written, typical);
        });
    });
    group.bench_function("most_rows_user_csv_end_to_end", |b| {
        b.iter(|| {
            let summary = compile()
                .write_visible_csv(most_user, black_box(csv.as_slice()), io::sink(), StreamOptions::default())
                .unwrap();
            assert_eq!(summary.rows_written, most_rows);
        });
    });
    group.throughput(Throughput::Elements(workload.directory.users.len() as u64));
    group.bench_function("counts_from_loaded_table", |b| {
        b.iter(|| {
            let counts = set.evaluate(&table).unwrap().visible_counts();
            assert_eq!(counts.iter().map(|c| c.rows).sum::<usize>(), total);
        });
    });
    group.finish();
}

criterion_group!(benches, pdp);
criterion_main!(benches);
