//! `domo pdp lint`: compile errors and warnings plus the engine's analyses, with severities.

use std::io::Write;

use clap::Args;
use domo_pdp::{Diagnostic, Linter, Severity};
use serde::Serialize;

use crate::exit::Outcome;
use crate::folder::{DirectoryProblems, Inputs, Limits};
use crate::folder::{InputArgs, LimitArgs};
use crate::output::Format;
use crate::output::{self, ERROR, NOTE, WARNING, paint};

pub(super) mod for_any_row;

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
    /// Output format: table (the default), json (for CI), or markdown (a pull-request comment).
    #[arg(long, value_parser = crate::output::formats(crate::output::COMMENT), default_value = "table")]
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

/// The findings of one folder: the engine's, and with `--for-any-row` (or without rows) the proven ones.
pub(super) struct Linted {
    pub(super) report: domo_pdp::LintReport,
    pub(super) proven: Vec<for_any_row::Proven>,
    /// The rows linted over; `None` when the folder has no rows (every possible row is judged).
    pub(super) rows: Option<u64>,
}

impl Linted {
    pub(super) fn count(&self, severity: Severity) -> usize {
        self.report.count(severity) + self.proven.iter().filter(|p| p.severity == severity.as_str()).count()
    }

    /// Every finding as (severity, kind, message), the engine's first.
    pub(super) fn messages(&self) -> impl Iterator<Item = (&'static str, &'static str, String)> + '_ {
        self.report
            .findings
            .iter()
            .map(|f| (f.severity.as_str(), f.kind(), f.to_string()))
            .chain(self.proven.iter().map(|p| (p.severity, p.kind, p.message.clone())))
    }
}

/// Lints one folder's inputs; `no_data` when there are no rows to read.
pub(super) fn lint_folder(inputs: &Inputs, for_any_row: bool, no_data: bool) -> anyhow::Result<Linted> {
    let mut proven = if for_any_row || no_data { for_any_row::findings(inputs) } else { Vec::new() };
    // The data findings are gathered by an accumulator whose memory does not grow with the rows;
    // without a data file it takes no rows, and only the findings that hold without rows are kept.
    let linter = Linter::new(&inputs.dataset, &inputs.policies, &inputs.directory);
    let rows = if no_data {
        linter.rows()
    } else {
        // The rows stream by a batch at a time, evaluated on the worker threads: memory does not
        // grow with the file.
        let path = &inputs.paths.data;
        let reader = crate::folder::open_with_progress(path)?;
        linter
            .rows_csv(reader, crate::engine::batch_options(inputs))
            .map_err(|error| crate::folder::load_error(path, error.into()))?
    };
    let row_count = rows.row_count();
    let mut report = linter.finish(rows);
    if no_data {
        report.findings.retain(for_any_row::holds_without_rows);
    }
    // A policy whose filters lint already shows can never match needs no second finding.
    proven.retain(|p| !for_any_row::already_reported(p, &report));
    Ok(Linted { report, proven, rows: (!no_data).then_some(row_count) })
}

pub(crate) fn run(args: &LintArgs) -> anyhow::Result<Outcome> {
    // Directory problems are findings here, not a refusal.
    let inputs = Inputs::read_with(&args.input, Limits::new(&args.limits), DirectoryProblems::Keep)?;
    let no_data = args.input.data.is_none() && !inputs.paths.data.exists();
    let linted = lint_folder(&inputs, args.for_any_row, no_data)?;
    let (errors, warnings, notes) =
        (linted.count(Severity::Error), linted.count(Severity::Warning), linted.count(Severity::Note));
    let Linted { report, proven, rows } = &linted;
    let row_count = rows.unwrap_or(0);
    match args.format {
        Format::Markdown => {
            let mut findings: Vec<(&str, &str, String)> = linted.messages().collect();
            findings.sort_by_key(|f| (severity_rank(f.0), f.1));
            let verdict = format!(
                "{}: {}",
                if errors > 0 { "Lint failed" } else { "Lint passed" },
                counts(errors, warnings, notes)
            );
            let over = if no_data { "every possible row".to_owned() } else { output::plural(row_count, "row", "rows") };
            let comment = output::Comment {
                verdict,
                context: vec![format!(
                    "`domo pdp lint` of `{}` over {over} and {}.",
                    output::md_code(&inputs.paths.policies.display().to_string()),
                    output::count(inputs.directory.users.len(), "user", "users"),
                )],
                sections: markdown_sections(&findings),
                full_command: format!("domo pdp lint {}", args.input.dir.display()),
            };
            output::text(&comment.render())?;
        }
        Format::Json => {
            let mut findings: Vec<FindingJson<'_>> =
                report.findings.iter().map(|f| finding_json(f, &inputs.directory)).collect();
            findings.extend(proven.iter().map(|p| FindingJson {
                severity: p.severity,
                kind: p.kind,
                policy: Some(crate::engine::PolicyRef::from_lint(&p.policy)),
                filter: None,
                user: None,
                message: &p.message,
                rows: &[],
            }));
            let json = LintJson { errors, warnings, notes, findings };
            output::json(&json)?;
        }
        Format::Table | Format::Csv => {
            let mut out = output::stdout();
            for finding in &report.findings {
                let style = match finding.severity {
                    Severity::Error => ERROR,
                    Severity::Warning => WARNING,
                    Severity::Note => NOTE,
                };
                writeln!(out, "{}[{}]: {finding}", paint(style, finding.severity), finding.kind())?;
            }
            for p in proven {
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
            let over = if no_data { "every possible row".to_owned() } else { output::plural(row_count, "row", "rows") };
            writeln!(
                out,
                "{}: {} in `{}` over {over} and {}",
                if errors > 0 { paint(ERROR, "failed") } else { paint(output::GOOD, "ok") },
                counts(errors, warnings, notes),
                inputs.paths.policies.display(),
                output::count(inputs.directory.users.len(), "user", "users"),
            )?;
            out.flush()?;
        }
    }
    Ok(if errors > 0 { Outcome::Findings } else { Outcome::Ok })
}

/// Errors first, then warnings, then notes.
pub(super) fn severity_rank(severity: &str) -> u8 {
    match severity {
        "error" => 0,
        "warning" => 1,
        _ => 2,
    }
}

/// At most this many findings of one kind are listed in a pull-request comment.
const FINDINGS_PER_KIND: usize = 100;

/// One block per severity and kind of finding (errors first), each a list of its messages.
pub(super) fn markdown_sections(findings: &[(&str, &str, String)]) -> Vec<output::Section> {
    let mut sections = Vec::new();
    for group in findings.chunk_by(|a, b| a.0 == b.0 && a.1 == b.1) {
        let Some(&(severity, kind, _)) = group.first() else { continue };
        let mut body: Vec<String> =
            group.iter().take(FINDINGS_PER_KIND).map(|f| format!("- {}", output::md_cell(&f.2))).collect();
        if group.len() > FINDINGS_PER_KIND {
            body.push(format!("- … and {} more", group.len() - FINDINGS_PER_KIND));
        }
        sections.push(output::Section {
            summary: format!("{severity}[{kind}]: {}", output::count(group.len(), "finding", "findings")),
            body: body.join("\n"),
        });
    }
    sections
}

pub(super) fn counts(errors: usize, warnings: usize, notes: usize) -> String {
    format!(
        "{}, {}, {}",
        output::count(errors, "error", "errors"),
        output::count(warnings, "warning", "warnings"),
        output::count(notes, "note", "notes")
    )
}

fn finding_json<'a>(finding: &'a Diagnostic, directory: &domo_model::Directory) -> FindingJson<'a> {
    FindingJson {
        severity: finding.severity.as_str(),
        kind: finding.kind(),
        policy: finding.policy.as_ref().map(crate::engine::PolicyRef::from_lint),
        filter: finding.filter_index,
        user: finding.user.map(|u| crate::engine::UserRef::of(directory, u)),
        message: &finding.message,
        rows: &finding.rows,
    }
}
