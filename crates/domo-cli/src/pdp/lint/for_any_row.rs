//! `domo pdp lint --for-any-row`: findings that hold for every possible row, whatever the data.

use domo_pdp::{Diagnostic, DiagnosticCode, ImpactOptions, LintReport, PolicyRef, PolicySet, ProvenFinding};

use crate::folder::Inputs;

/// One proven finding, ready to print.
#[derive(Debug)]
pub(in crate::pdp) struct Proven {
    pub(in crate::pdp) severity: &'static str,
    pub(in crate::pdp) kind: &'static str,
    pub(in crate::pdp) policy: PolicyRef,
    pub(in crate::pdp) message: String,
}

/// Policies that can never admit a row (errors), policies another with the same principals covers
/// (warnings), and questions past the budget (notes). Nothing when the policies do not compile:
/// lint reports the compile errors as its own findings.
pub(in crate::pdp) fn findings(inputs: &Inputs) -> Vec<Proven> {
    let Ok(set) = PolicySet::compile(&inputs.dataset, &inputs.policies, &inputs.directory) else {
        return Vec::new();
    };
    domo_pdp::lint_for_any_row(&set, &ImpactOptions::default())
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

/// Whether a finding holds without looking at rows (on a table of no rows, the others say nothing true).
pub(in crate::pdp) fn holds_without_rows(finding: &Diagnostic) -> bool {
    !matches!(
        finding.code,
        DiagnosticCode::RowsOnlyPrivileged
            | DiagnosticCode::UserSeesNothing
            | DiagnosticCode::PolicyMatchesNoRow
            | DiagnosticCode::PolicyMatchesEveryRow
            | DiagnosticCode::RedundantPolicy
            | DiagnosticCode::ValueNotInData
    )
}

/// Whether lint's own `filter-never-matches` already says this policy can never admit a row.
pub(in crate::pdp) fn already_reported(proven: &Proven, report: &LintReport) -> bool {
    proven.kind == "never-admits-any-row"
        && report.findings.iter().any(|f| {
            f.code == DiagnosticCode::FilterNeverMatches
                && f.policy.as_ref().is_some_and(|p| p.handle == proven.policy.handle)
        })
}
