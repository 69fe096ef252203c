//! Lint findings that hold for every possible row: policies that never admit a row, policies another covers.

use std::fmt;

use hashbrown::HashMap;

use super::ImpactOptions;
use super::search::{Found, Solver};
use crate::compile::PolicyRef;
use crate::compile::PolicySet;
use crate::filter::CompiledFilter;

/// A finding of the for-any-row lint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProvenFinding {
    /// The policy admits no possible row (its filters contradict each other).
    NeverAdmits {
        /// The policy.
        policy: PolicyRef,
    },
    /// Every row the policy admits, another policy with the same principals admits too.
    Subsumed {
        /// The policy that adds nothing.
        policy: PolicyRef,
        /// The policy that covers it.
        by: PolicyRef,
    },
    /// The question was not decided within the budget.
    Unknown {
        /// The policy asked about.
        policy: PolicyRef,
        /// Why.
        reason: String,
    },
}

impl fmt::Display for ProvenFinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProvenFinding::NeverAdmits { policy } => {
                write!(f, "{policy} can never admit a row: its filters contradict each other for every possible row")
            }
            ProvenFinding::Subsumed { policy, by } => write!(
                f,
                "{policy} adds nothing: {by} has the same principals and admits every row it admits, whatever the data"
            ),
            ProvenFinding::Unknown { policy, reason } => write!(f, "{policy} could not be analysed: {reason}"),
        }
    }
}

/// A policy's users, groups and virtual users, sorted.
type Principals = (Vec<u64>, Vec<u64>, Vec<String>);

/// Lint findings that hold for every possible row: policies that can never admit a row, and
/// policies subsumed by another with the same users, groups and virtual users.
pub fn lint_for_any_row(set: &PolicySet, options: &ImpactOptions) -> Vec<ProvenFinding> {
    let mut solver = Solver::new(&set.schema().columns, options);
    let reference = |index: usize| {
        set.policies().get(index).map(|p| PolicyRef::new(crate::compile::PolicyHandle::from_index(index), p.source()))
    };
    let filters: Vec<Vec<&CompiledFilter>> =
        set.policies().iter().map(|p| if p.all_rows { Vec::new() } else { p.filters.iter().collect() }).collect();
    let mut findings = Vec::new();
    let mut empty = vec![false; filters.len()];
    for (index, admit) in filters.iter().enumerate() {
        let Some(policy) = reference(index) else { continue };
        match solver.solve(admit, &[]) {
            Found::None => {
                if let Some(e) = empty.get_mut(index) {
                    *e = true;
                }
                findings.push(ProvenFinding::NeverAdmits { policy });
            }
            Found::Row(_) => {}
            Found::Unknown(reason) => findings.push(ProvenFinding::Unknown { policy, reason }),
        }
    }
    // Same principals: same sorted users, groups and virtual users.
    let mut by_principals: HashMap<Principals, Vec<usize>> = HashMap::new();
    for (index, p) in set.policies().iter().enumerate() {
        let source = p.source();
        let mut users: Vec<u64> = source.users.iter().map(|u| u.get()).collect();
        let mut groups: Vec<u64> = source.groups.iter().map(|g| g.get()).collect();
        let mut virtuals = source.virtual_users.clone();
        users.sort_unstable();
        users.dedup();
        groups.sort_unstable();
        groups.dedup();
        virtuals.sort_unstable();
        virtuals.dedup();
        by_principals.entry((users, groups, virtuals)).or_default().push(index);
    }
    let mut groups: Vec<Vec<usize>> = by_principals.into_values().filter(|g| g.len() > 1).collect();
    groups.sort();
    for group in groups {
        for &p in &group {
            if empty.get(p).copied().unwrap_or(true) {
                continue;
            }
            for &q in &group {
                if p == q || empty.get(q).copied().unwrap_or(true) {
                    continue;
                }
                let (Some(admit), Some(deny)) = (filters.get(p), filters.get(q)) else { continue };
                // Two policies that cover each other: report only the later one.
                match solver.solve(admit, &[deny.as_slice()]) {
                    Found::None => {
                        if q > p && matches!(solver.solve(deny, &[admit.as_slice()]), Found::None) {
                            continue;
                        }
                        if let (Some(policy), Some(by)) = (reference(p), reference(q)) {
                            findings.push(ProvenFinding::Subsumed { policy, by });
                        }
                        break;
                    }
                    Found::Row(_) | Found::Unknown(_) => {}
                }
            }
        }
    }
    findings
}
