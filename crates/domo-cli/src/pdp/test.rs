//! `domo pdp test`: policy unit tests from a JSON file; each failing case with the rows that differ.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;
use domo_model::PolicyTestFile;
use domo_pdp::CaseOutcome;
use serde::Serialize;

use crate::engine as common;
use crate::exit::Outcome;
use crate::folder::{InputArgs, LimitArgs};
use crate::folder::{Inputs, read_json};
use crate::output::Format;
use crate::output::{self, ERROR, GOOD, paint};

/// At most this many differing rows are listed per case and direction.
const SAMPLE_ROWS: usize = 10;

/// Options of `domo pdp test`.
#[derive(Debug, Args)]
pub(crate) struct TestArgs {
    #[command(flatten)]
    pub(crate) input: InputArgs,
    #[command(flatten)]
    pub(crate) limits: LimitArgs,
    /// The test file (see docs/policy-tests.md) [default: DIR/tests.json; on an instance
    /// tree, each DataSet folder's tests.json].
    #[arg(value_name = "TESTS.json")]
    pub(crate) tests: Option<PathBuf>,
    /// Output format: table (the default) or json.
    #[arg(long, value_parser = crate::output::formats(crate::output::REPORT), default_value = "table")]
    pub(crate) format: Format,
}

#[derive(Debug, Serialize)]
struct TestJson {
    passed: usize,
    failed: usize,
    cases: Vec<CaseJson>,
}

#[derive(Debug, Serialize)]
struct CaseJson {
    case: usize,
    name: Option<String>,
    user: Option<common::UserRef>,
    passed: bool,
    summary: String,
    /// Rows seen that should not be (1-based).
    unexpected: Vec<usize>,
    /// Rows expected but not seen (1-based).
    missing: Vec<usize>,
}

pub(crate) fn run(args: &TestArgs) -> anyhow::Result<Outcome> {
    let inputs = Inputs::read_limited(&args.input, &args.limits)?;
    let tests = args.tests.clone().unwrap_or_else(|| args.input.dir.join("tests.json"));
    let outcomes = run_file(&inputs, &tests)?;
    let failed = outcomes.iter().filter(|o| !o.passed).count();
    let passed = outcomes.len() - failed;
    match args.format {
        Format::Json => {
            let json = TestJson {
                passed,
                failed,
                cases: outcomes
                    .iter()
                    .map(|o| CaseJson {
                        case: o.number,
                        name: o.name.clone(),
                        user: o.user.map(|u| common::UserRef::of(&inputs.directory, u)),
                        passed: o.passed,
                        summary: o.summary.clone(),
                        unexpected: o.unexpected.iter().map(|r| r + 1).collect(),
                        missing: o.missing.iter().map(|r| r + 1).collect(),
                    })
                    .collect(),
            };
            output::json(&json)?;
        }
        Format::Table | Format::Csv | Format::Markdown => {
            // The rows shown are read again, a batch at a time, keeping only their text.
            let shown = outcomes
                .iter()
                .filter(|o| !o.passed)
                .flat_map(|o| o.unexpected.iter().take(SAMPLE_ROWS).chain(o.missing.iter().take(SAMPLE_ROWS)))
                .copied()
                .collect();
            let texts = common::rows_text(&inputs, &shown)?;
            let mut out = output::stdout();
            for outcome in &outcomes {
                write_outcome(&mut out, &texts, outcome)?;
            }
            writeln!(out)?;
            let verdict = if failed == 0 { paint(GOOD, "ok") } else { paint(ERROR, "failed") };
            writeln!(out, "{verdict}: {passed} passed, {failed} failed ({})", tests.display())?;
            out.flush()?;
        }
    }
    Ok(if failed == 0 { Outcome::Ok } else { Outcome::Findings })
}

/// Runs the cases of the test file at `tests` on the folder's rows, streamed a batch of rows at
/// a time: memory does not grow with the file.
pub(super) fn run_file(inputs: &Inputs, tests: &Path) -> anyhow::Result<Vec<CaseOutcome>> {
    let file: PolicyTestFile = read_json(tests, inputs.limits.json_bytes)?;
    if file.cases.is_empty() {
        // "ok: 0 passed" would claim a check that never ran.
        anyhow::bail!("`{}` has no cases: nothing would be checked", tests.display());
    }
    let set = common::compile(inputs)?;
    let path = &inputs.paths.data;
    let reader = crate::folder::open_with_progress(path)?;
    match domo_pdp::run_policy_tests_csv(&file, &inputs.dataset, &set, reader, common::batch_options(inputs)) {
        Ok(outcomes) => Ok(outcomes),
        Err(domo_pdp::PolicyTestCsvError::Load(error)) => Err(crate::folder::load_error(path, error.into())),
        Err(error) => {
            Err(anyhow::Error::new(error).context(format!("`{}` has a case that cannot run", tests.display())))
        }
    }
}

fn write_outcome(out: &mut impl Write, texts: &common::RowTexts, outcome: &CaseOutcome) -> anyhow::Result<()> {
    let label = match &outcome.name {
        Some(name) => format!("case {} `{name}`", outcome.number),
        None => format!("case {}", outcome.number),
    };
    if outcome.passed {
        writeln!(out, "{}   {label}", paint(GOOD, "ok"))?;
        return Ok(());
    }
    writeln!(out, "{} {label}: {}", paint(ERROR, "FAIL"), outcome.summary)?;
    let unexpected_what =
        if outcome.user.is_some() { "sees, but should not" } else { "seen by no one but the owner and Admins" };
    for (rows, what) in [(&outcome.unexpected, unexpected_what), (&outcome.missing, "should see, but does not")] {
        for &row in rows.iter().take(SAMPLE_ROWS) {
            writeln!(out, "       row {} ({what}): {}", row + 1, texts.get(row))?;
        }
        if rows.len() > SAMPLE_ROWS {
            let more = rows.len() - SAMPLE_ROWS;
            writeln!(out, "       … and {more} more {} ({what})", if more == 1 { "row" } else { "rows" })?;
        }
    }
    Ok(())
}
