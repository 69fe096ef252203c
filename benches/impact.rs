//! Criterion benchmark of the for-any-row change impact on the benchmark workload: 2,000 policies,
//! 10,000 users, 50 changed policies (the target: at most 2 s).
//!
//! The baseline in the same run is compiling the two policy sets, which every diff pays anyway;
//! the ratio holds on a noisy machine where an absolute time does not.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "a benchmark stops at its first failure")]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use domo_benches::Workload;
use domo_model::Policy;
use domo_pdp::{Answer, ImpactOptions, PolicySet, Verdict, impact};

fn bench(c: &mut Criterion) {
    let workload = Workload::generate(42, 1_000);
    let new_policies = workload.relaxed_policies(50);
    let compile = |policies: &[Policy]| PolicySet::compile(&workload.dataset, policies, &workload.directory).unwrap();
    let old = compile(&workload.policies);
    let new = compile(&new_policies);

    // Expected answers, checked in every iteration: someone gains, nothing is unknown.
    let report = impact(&old, &new, &ImpactOptions::default()).unwrap();
    let gains = report.users.iter().filter(|u| matches!(u.gains, Answer::Yes(_))).count();
    let unknown = report.users.iter().filter(|u| u.verdict() == Verdict::Unknown).count();
    assert!(gains > 0);
    assert_eq!(unknown, 0);
    eprintln!(
        "impact: {} users, {} distinct policy sets, {gains} gain, {} lose, {unknown} unknown",
        report.users.len(),
        report.classes,
        report.users.iter().filter(|u| matches!(u.loses, Answer::Yes(_))).count()
    );

    let mut group = c.benchmark_group("impact");
    group.sample_size(10);
    group.bench_function("baseline_compile_both_sets", |b| {
        b.iter(|| black_box((compile(&workload.policies), compile(&new_policies))))
    });
    group.bench_function("for_any_row_diff_50_changed_policies", |b| {
        b.iter(|| {
            let report = impact(&old, &new, &ImpactOptions::default()).unwrap();
            assert_eq!(report.users.iter().filter(|u| matches!(u.gains, Answer::Yes(_))).count(), gains);
            black_box(report)
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
