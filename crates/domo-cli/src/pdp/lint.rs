//! `domo pdp lint`: compile errors and warnings plus the engine's analyses, with severities.

use std::io::Write;

use clap::Args;
use domo_pdp::{LintFinding, LintSeverity};
use serde::Serialize;

use super::input::{DirectoryProblems, Inputs, Limits};
use super::output::{self, ERROR, NOTE, WARNING, paint};
use super::{InputArgs, LimitArgs, ReportFormat};
use crate::exit::Outcome;

mod for_any_row;

/// Options of `domo pdp lint`.
#[derive(Debug, Args)]
pub(crate) struct LintArgs {
    #[command(flatten)]
    pub(crate) input: InputArgs,
    #[command(flatten)]
    pub(crate) limits: LimitArgs,
    /// Also report what holds for every possible row: policies that can never admit a row, and
    /// policies another with the same members covers. Without a data file, lint reports these and
    /// the findings that do not depend on the rows.
    #[arg(long)]
    pub(crate) for_any_row: bool,
    /// Output format (json for CI).
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub(crate) format: ReportFormat,
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
    policy: Option<PolicyJson<'a>>,
    filter: Option<usize>,
    user: Option<u64>,
    message: &'a str,
    rows: &'a [u64],
}

#[derive(Debug, Serialize)]
struct PolicyJson<'a> {
    index: usize,
    id: Option<u64>,
    name: &'a str,
}

pub(crate) fn run(args: &LintArgs) -> anyhow::Result<Outcome> {
    // Directory problems are findings here, not a refusal.
    let inputs = Inputs::read_with(&args.input, Limits::new(&args.limits), DirectoryProblems::Keep)?;
    let no_data = args.input.data.is_none() && !inputs.paths.data.exists();
    let mut proven = if args.for_any_row || no_data { for_any_row::findings(&inputs) } else { Vec::new() };
    let table = if no_data { for_any_row::no_rows(&inputs.dataset.schema)? } else { inputs.load_table()? };
    let mut report = domo_pdp::lint(&inputs.dataset, &inputs.policies, &inputs.directory, &table);
    if no_data {
        report.findings.retain(for_any_row::holds_without_rows);
    }
    // A policy whose filters lint already shows can never match needs no second finding.
    proven.retain(|p| !for_any_row::already_reported(p, &report));
    let count = |severity: LintSeverity| {
        report.count(severity) + proven.iter().filter(|p| p.severity == severity.as_str()).count()
    };
    let (errors, warnings, notes) =
        (count(LintSeverity::Error), count(LintSeverity::Warning), count(LintSeverity::Note));
    match args.format {
        ReportFormat::Json => {
            let mut findings: Vec<FindingJson<'_>> = report.findings.iter().map(finding_json).collect();
            findings.extend(proven.iter().map(|p| FindingJson {
                severity: p.severity,
                kind: p.kind,
                policy: Some(PolicyJson {
                    index: p.policy.index,
                    id: p.policy.id.map(|id| id.get()),
                    name: &p.policy.name,
                }),
                filter: None,
                user: None,
                message: &p.message,
                rows: &[],
            }));
            let json = LintJson { errors, warnings, notes, findings };
            output::write_json(output::plain_stdout(), &json)?;
        }
        ReportFormat::Text => {
            let mut out = output::stdout();
            for finding in &report.findings {
                let style = match finding.severity {
                    LintSeverity::Error => ERROR,
                    LintSeverity::Warning => WARNING,
                    LintSeverity::Note => NOTE,
                };
                writeln!(out, "{}[{}]: {finding}", paint(style, finding.severity), finding.kind)?;
            }
            for p in &proven {
                let style = match p.severity {
                    "error" => ERROR,
                    "warning" => WARNING,
                    _ => NOTE,
                };
                writeln!(out, "{}[{}]: {}", paint(style, p.severity), p.kind, p.message)?;
            }
            if !report.findings.is_empty() || !proven.is_empty() {
                writeln!(out)?;
            }
            let over = if no_data { "every possible row".to_owned() } else { format!("{} rows", table.row_count()) };
            writeln!(
                out,
                "{}: {} in `{}` over {over} and {} users",
                if errors > 0 { paint(ERROR, "failed") } else { paint(output::GOOD, "ok") },
                counts(errors, warnings, notes),
                inputs.paths.policies.display(),
                inputs.directory.users.len()
            )?;
            out.flush()?;
        }
    }
    Ok(if errors > 0 { Outcome::Findings } else { Outcome::Ok })
}

fn counts(errors: usize, warnings: usize, notes: usize) -> String {
    let plural = |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    format!(
        "{}, {}, {}",
        plural(errors, "error", "errors"),
        plural(warnings, "warning", "warnings"),
        plural(notes, "note", "notes")
    )
}

fn finding_json(finding: &LintFinding) -> FindingJson<'_> {
    FindingJson {
        severity: finding.severity.as_str(),
        kind: finding.kind.as_str(),
        policy: finding.policy.as_ref().map(|p| PolicyJson {
            index: p.index,
            id: p.id.map(|id| id.get()),
            name: &p.name,
        }),
        filter: finding.filter_index,
        user: finding.user.map(|u| u.get()),
        message: &finding.message,
        rows: &finding.rows,
    }
}
