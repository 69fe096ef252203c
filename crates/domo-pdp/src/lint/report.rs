//! The report of a lint run: every finding, each a [`Diagnostic`], errors first.

use crate::compile::{Diagnostic, Severity};

/// Every finding of a lint run, errors first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LintReport {
    /// The findings, sorted by severity, then in policy order. A compile problem is the
    /// compiler's own [`Diagnostic`] (`values-too-long` raised to an error).
    pub findings: Vec<Diagnostic>,
}

impl LintReport {
    /// How many findings have this severity.
    pub fn count(&self, severity: Severity) -> usize {
        self.findings.iter().filter(|f| f.severity == severity).count()
    }

    /// Whether any finding is an error.
    pub fn has_errors(&self) -> bool {
        self.count(Severity::Error) > 0
    }
}
