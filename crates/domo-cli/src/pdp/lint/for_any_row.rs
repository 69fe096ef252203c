//! `domo pdp lint --for-any-row`: findings that hold for every possible row, whatever the data.

use domo_pdp::{ImpactOptions, PolicyRef, PolicySet, ProvenFinding};

/// One proven finding, ready to print.
#[derive(Debug)]
pub(super) struct Proven {
    pub(super) severity: &'static str,
    pub(super) kind: &'static str,
    pub(super) policy: PolicyRef,
    pub(super) message: String,
}

/// Policies that can never admit a row (errors), policies another with the same principals covers
/// (warnings), and questions past the budget (notes).
pub(super) fn findings(set: &PolicySet) -> Vec<Proven> {
    domo_pdp::lint_for_any_row(set, &ImpactOptions::default())
        .into_iter()
        .map(|finding| {
            let message = finding.to_string();
            match finding {
                ProvenFinding::NeverAdmits { policy } => {
                    Proven { severity: "error", kind: "never-admits-any-row", policy, message }
                }
                ProvenFinding::Subsumed { policy, .. } => {
                    Proven { severity: "warning", kind: "subsumed-for-any-row", policy, message }
                }
                ProvenFinding::Unknown { policy, .. } => {
                    Proven { severity: "note", kind: "not-decided-for-any-row", policy, message }
                }
            }
        })
        .collect()
}
