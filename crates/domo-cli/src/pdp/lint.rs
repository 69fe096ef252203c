//! `domo pdp lint`: compile errors and warnings plus the engine's analyses, with severities.

use std::io::Write;

use clap::Args;
use domo_pdp::{LintFinding, LintSeverity};
use serde::Serialize;

use crate::exit::Outcome;
use crate::folder::{DirectoryProblems, Inputs, Limits};
use crate::folder::{InputArgs, LimitArgs};
use crate::output::Format;
use crate::output::{self, ERROR, NOTE, WARNING, paint};

/// Options of `domo pdp lint`.
#[derive(Debug, Args)]
pub(crate) struct LintArgs {
    #[command(flatten)]
    pub(crate) input: InputArgs,
    #[command(flatten)]
    pub(crate) limits: LimitArgs,
    /// Output format: table (the default) or json.
    #[arg(long, value_parser = crate::output::formats(crate::output::REPORT), default_value = "table")]
    pub(crate) format: Format,
}

#[derive(Debug, Serialize)]
struct LintJson<'a> {
    errors: usize,
    warnings: usize,
    notes: usize,
    findings: Vec<FindingJson<'a>>,
}

#[derive(Debug, Serialize)]
struct FindingJson<'a> {
    severity: &'static str,
    kind: &'static str,
    policy: Option<crate::engine::PolicyRef>,
    filter: Option<usize>,
    user: Option<crate::engine::UserRef>,
    message: &'a str,
    rows: &'a [u64],
}

pub(crate) fn run(args: &LintArgs) -> anyhow::Result<Outcome> {
    // Directory problems are findings here, not a refusal.
    let inputs = Inputs::read_with(&args.input, Limits::new(&args.limits), DirectoryProblems::Keep)?;
    let table = inputs.load_table()?;
    let report = domo_pdp::lint(&inputs.dataset, &inputs.policies, &inputs.directory, &table);
    let (errors, warnings, notes) =
        (report.count(LintSeverity::Error), report.count(LintSeverity::Warning), report.count(LintSeverity::Note));
    match args.format {
        Format::Json => {
            let json = LintJson {
                errors,
                warnings,
                notes,
                findings: report.findings.iter().map(|f| finding_json(f, &inputs.directory)).collect(),
            };
            output::json(&json)?;
        }
        Format::Table | Format::Csv => {
            let mut out = output::stdout();
            for finding in &report.findings {
                let style = match finding.severity {
                    LintSeverity::Error => ERROR,
                    LintSeverity::Warning => WARNING,
                    LintSeverity::Note => NOTE,
                };
                writeln!(out, "{}[{}]: {finding}", paint(style, finding.severity), finding.kind)?;
            }
            if !report.findings.is_empty() {
                writeln!(out)?;
            }
            writeln!(
                out,
                "{}: {} in `{}` over {} and {}",
                if errors > 0 { paint(ERROR, "failed") } else { paint(output::GOOD, "ok") },
                counts(errors, warnings, notes),
                inputs.paths.policies.display(),
                output::count(table.row_count(), "row", "rows"),
                output::count(inputs.directory.users.len(), "user", "users"),
            )?;
            out.flush()?;
        }
    }
    Ok(if report.has_errors() { Outcome::Findings } else { Outcome::Ok })
}

fn counts(errors: usize, warnings: usize, notes: usize) -> String {
    format!(
        "{}, {}, {}",
        output::count(errors, "error", "errors"),
        output::count(warnings, "warning", "warnings"),
        output::count(notes, "note", "notes")
    )
}

fn finding_json<'a>(finding: &'a LintFinding, directory: &domo_model::Directory) -> FindingJson<'a> {
    FindingJson {
        severity: finding.severity.as_str(),
        kind: finding.kind.as_str(),
        policy: finding.policy.as_ref().map(crate::engine::PolicyRef::from_lint),
        filter: finding.filter_index,
        user: finding.user.map(|u| crate::engine::UserRef::of(directory, u)),
        message: &finding.message,
        rows: &finding.rows,
    }
}
