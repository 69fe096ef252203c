//! Criterion benchmark of the for-any-row change impact on the benchmark workload: 2,000 policies,
//! 10,000 users, 50 changed policies (the target: at most 2 s).
//!
//! The baseline in the same run is compiling the two policy sets, which every diff pays anyway;
//! the ratio holds on a noisy machine where an absolute time does not.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "a benchmark stops at its first failure")]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use domo_benches::Workload;
use domo_model::{FilterOperator, Policy};
use domo_pdp::{Answer, ImpactOptions, PolicySet, Verdict, impact};

/// 50 policies spread over every kind, each changed: a value added, a bound moved, a filter
/// dropped, a pattern relaxed or a `not` flipped.
fn changed(policies: &[Policy], count: usize) -> Vec<Policy> {
    let mut out = policies.to_vec();
    let step = (policies.len() / count).max(1);
    for (n, policy) in out.iter_mut().step_by(step).take(count).enumerate() {
        let several = policy.filters.len() > 1;
        let Some(first) = policy.filters.first_mut() else { continue };
        match first.operator {
            FilterOperator::Equals if n % 2 == 0 => first.values.push(format!("{}-extra", first.values[0])),
            FilterOperator::Equals if several => {
                policy.filters.pop();
            }
            FilterOperator::BeginsWith | FilterOperator::Like => {
                first.operator = FilterOperator::BeginsWith;
                first.values = vec![first.values[0].chars().take(1).collect()];
            }
            _ => first.not = !first.not,
        }
    }
    out
}

fn bench(c: &mut Criterion) {
    let workload = Workload::generate(42, 1_000);
    let new_policies = changed(&workload.policies, 50);
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
