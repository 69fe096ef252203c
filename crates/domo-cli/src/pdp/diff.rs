//! `domo pdp diff`: what a change of policies grants or takes away, user by user.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use domo_pdp::{ChangedRows, DiffAccumulator, DiffOptions, PolicyChange, PolicyChangeKind, PolicyDiff, Table};
use serde::Serialize;

mod for_any_row;

use crate::engine::{self as common, UserEffect};
use crate::exit::Outcome;
use crate::folder::{InputArgs, LimitArgs};
use crate::folder::{Inputs, read_policies};
use crate::output::Format;
use crate::output::{self, BOLD, ERROR, GOOD, WARNING, paint};

/// At most this many rows are shown per user and direction with `--show-rows`.
const SAMPLE_ROWS: usize = 10;

/// Options of `domo pdp diff`.
#[derive(Debug, Args)]
pub(crate) struct DiffArgs {
    #[command(flatten)]
    pub(crate) input: InputArgs,
    #[command(flatten)]
    pub(crate) limits: LimitArgs,
    /// The old policies: a policies.json file, or a folder holding one (on an instance tree,
    /// the old tree's root).
    #[arg(long, value_name = "OLD", required_unless_present = "against_git", conflicts_with = "against_git")]
    pub(crate) against: Option<PathBuf>,
    /// The old policies are DIR as a git revision holds it (`HEAD`, `origin/main`, a commit): the
    /// pull-request gate on exactly what the change does. The working copy is not touched.
    #[arg(long, value_name = "REF")]
    pub(crate) against_git: Option<String>,
    /// Show up to 10 sample rows gained and lost per user.
    #[arg(long)]
    pub(crate) show_rows: bool,
    /// Exit 1 if anyone gains a row (a CI gate); with --for-any-row, also if a gain is undecided.
    #[arg(long)]
    pub(crate) fail_on_new_access: bool,
    /// Judge every possible row, not the rows at hand: each user's gain or loss is proven with a
    /// witness row, or reported unknown. The default when the folder has no data file.
    #[arg(long)]
    pub(crate) for_any_row: bool,
    /// With --for-any-row and --fail-on-new-access: let undecided gains pass the gate.
    #[arg(long, requires = "fail_on_new_access")]
    pub(crate) allow_unknown: bool,
    /// With --for-any-row: write each witness row to DIR as a one-row CSV
    /// (`user-<id>-gains.csv`, `user-<id>-loses.csv`), for `domo pdp explain --data`.
    #[arg(long, value_name = "DIR")]
    pub(crate) witnesses: Option<PathBuf>,
    /// With --for-any-row: how far the search may go per question (branches, and STRING states per
    /// column); past it the answer is "unknown", never a guess.
    /// [default: 20000]
    #[arg(long, value_name = "N")]
    pub(crate) budget: Option<usize>,
    /// Output format: table (the default), json, or markdown (a pull-request comment).
    #[arg(long, value_parser = crate::output::formats(crate::output::COMMENT), default_value = "table")]
    pub(crate) format: Format,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct DiffJson {
    rows: usize,
    policies: Vec<PolicyJson>,
    users: Vec<UserEffect<Option<String>>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    virtual_users: Vec<VirtualUserJson>,
    new_access: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct VirtualUserJson {
    name: String,
    before: usize,
    after: usize,
    gained: usize,
    lost: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    gained_rows: Option<Vec<usize>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lost_rows: Option<Vec<usize>>,
}

/// A policy reference (`index` in the new file, or in OLD for a removed policy) and its change.
#[derive(Debug, Serialize)]
struct PolicyJson {
    index: Option<usize>,
    id: Option<u64>,
    name: String,
    change: &'static str,
    details: Vec<String>,
}

impl PolicyJson {
    /// The change of one policy, with its place in the file that holds it: the new
    /// policies file, or OLD for a removed policy.
    fn of(p: &PolicyChange, old_policies: &[domo_model::Policy], new_policies: &[domo_model::Policy]) -> Self {
        let (change, details) = match &p.kind {
            PolicyChangeKind::Added => ("added", Vec::new()),
            PolicyChangeKind::Removed => ("removed", Vec::new()),
            PolicyChangeKind::Changed(details) => ("changed", details.clone()),
        };
        let file = if matches!(p.kind, PolicyChangeKind::Removed) { old_policies } else { new_policies };
        let index = file.iter().position(|policy| match p.id {
            Some(id) => policy.id == Some(id),
            None => policy.id.is_none() && policy.name == p.name,
        });
        Self { index, id: p.id.map(|id| id.get()), name: p.name.clone(), change, details }
    }
}

/// The old side of a diff: the path given with `--against`, or a git revision's copy of DIR
/// (kept while the returned guard lives), and how to name it.
pub(super) fn old_side(args: &DiffArgs) -> anyhow::Result<(PathBuf, String, Option<tempfile::TempDir>)> {
    match (&args.against, &args.against_git) {
        (Some(path), _) => Ok((path.clone(), format!("`{}`", path.display()), None)),
        (None, Some(rev)) => {
            let snapshot = crate::tree::git_snapshot(&args.input.dir, rev)?;
            Ok((snapshot.path().to_path_buf(), format!("git revision `{rev}`"), Some(snapshot)))
        }
        (None, None) => anyhow::bail!("give the old policies with --against OLD or --against-git REF"),
    }
}

/// `domo pdp diff` of one DataSet folder against `against` (a policies file or a folder holding one).
pub(crate) fn run(args: &DiffArgs, against: &std::path::Path) -> anyhow::Result<Outcome> {
    let inputs = Inputs::read_limited(&args.input, &args.limits)?;
    let old_path = if against.is_dir() { against.join("policies.json") } else { against.to_path_buf() };
    let old_policies = read_policies(&old_path, inputs.limits.json_bytes)?;
    let new_set = common::compile(&inputs)?;
    let old_set = common::compile_policies(&inputs, &old_policies, &old_path)?;
    if args.for_any_row || (args.input.data.is_none() && !inputs.paths.data.exists()) {
        return for_any_row::run(args, &inputs, &old_path, &old_policies, &old_set, &new_set);
    }
    if args.witnesses.is_some() || args.allow_unknown || args.budget.is_some() {
        anyhow::bail!(
            "--witnesses, --allow-unknown and --budget apply to the for-any-row diff: add --for-any-row \
             (the diff on the rows of `{}` has no witnesses and no unknowns)",
            inputs.paths.data.display()
        );
    }
    // Only the policies of users whose policies change are evaluated, and only the first rows
    // gained and lost are kept, with their text when they are shown.
    let mut accumulator = DiffAccumulator::new(&old_set, &new_set, DiffOptions { example_rows: SAMPLE_ROWS });
    let mut texts = args.show_rows.then(RowTexts::new);
    // The rows stream by a batch at a time, evaluated on the worker threads: memory does not grow
    // with the file. With `--show-rows`, the text of each batch's example rows is copied out while
    // the batch is at hand.
    match texts.as_mut() {
        Some(texts) => accumulate_csv_with_texts(&inputs, &mut accumulator, texts)?,
        None => common::accumulate_csv(&inputs, &mut accumulator)?,
    }
    let rows = accumulator.rows();
    let diff = accumulator.finish();
    let directory = &inputs.directory;
    let names = common::Names::new(directory);
    let sample = |rows: &ChangedRows| rows.first.iter().take(SAMPLE_ROWS).map(|r| r + 1).collect::<Vec<_>>();

    match args.format {
        Format::Markdown => {
            let comment = markdown(&diff, rows, &names, &inputs, &args.input.dir, &old_path, texts.as_ref());
            output::text(&comment.render())?;
        }
        Format::Json => {
            let json = DiffJson {
                rows,
                policies: diff.policies.iter().map(|p| PolicyJson::of(p, &old_policies, &inputs.policies)).collect(),
                users: diff
                    .users
                    .iter()
                    .map(|u| UserEffect {
                        gained_rows: args.show_rows.then(|| sample(&u.gained)),
                        lost_rows: args.show_rows.then(|| sample(&u.lost)),
                        ..UserEffect::of(u, directory.user(u.user).map(|user| user.name.clone()))
                    })
                    .collect(),
                virtual_users: diff
                    .virtual_users
                    .iter()
                    .map(|v| VirtualUserJson {
                        name: v.name.clone(),
                        before: v.old_visible,
                        after: v.new_visible,
                        gained: v.gained.len(),
                        lost: v.lost.len(),
                        gained_rows: args.show_rows.then(|| sample(&v.gained)),
                        lost_rows: args.show_rows.then(|| sample(&v.lost)),
                    })
                    .collect(),
                new_access: diff.grants_new_access(),
            };
            output::json(&json)?;
        }
        Format::Table | Format::Csv => {
            let mut out = output::stdout();
            writeln!(
                out,
                "{}",
                paint(
                    BOLD,
                    format!("policies: `{}` against `{}`", inputs.paths.policies.display(), old_path.display())
                )
            )?;
            write_policy_changes(&mut out, &diff.policies)?;
            writeln!(out)?;
            writeln!(out, "{}", paint(BOLD, "users whose rows change:"))?;
            if diff.users.is_empty() && diff.virtual_users.is_empty() {
                writeln!(out, "  none: every user sees the same rows")?;
            }
            let show_rows = texts.as_ref();
            for user in &diff.users {
                let who = format!("user {} `{}`", user.user, names.get(user.user));
                write_user_change(
                    &mut out,
                    &who,
                    (user.old_visible, user.new_visible),
                    &user.gained,
                    &user.lost,
                    show_rows,
                )?;
            }
            for user in &diff.virtual_users {
                let who = format!("virtual user `{}`", user.name);
                write_user_change(
                    &mut out,
                    &who,
                    (user.old_visible, user.new_visible),
                    &user.gained,
                    &user.lost,
                    show_rows,
                )?;
            }
            let gainers = diff.users.iter().filter(|u| !u.gained.is_empty()).count()
                + diff.virtual_users.iter().filter(|v| !v.gained.is_empty()).count();
            let losers = diff.users.iter().filter(|u| !u.lost.is_empty()).count()
                + diff.virtual_users.iter().filter(|v| !v.lost.is_empty()).count();
            writeln!(out)?;
            writeln!(
                out,
                "{} over {}: {} rows, {} rows",
                output::count(diff.users.len() + diff.virtual_users.len(), "user changes", "users change"),
                output::count(rows, "row", "rows"),
                output::how_many(gainers, "gains", "gain"),
                output::how_many(losers, "loses", "lose"),
            )?;
            if args.fail_on_new_access && gainers > 0 {
                let gain = output::count(gainers, "user gains", "users gain");
                writeln!(out, "{}: {gain} access (--fail-on-new-access)", paint(ERROR, "failed"))?;
            }
            out.flush()?;
        }
    }
    Ok(if args.fail_on_new_access && diff.grants_new_access() { Outcome::Findings } else { Outcome::Ok })
}

/// The text of the rows shown with `--show-rows`, by row (0-based).
type RowTexts = HashMap<usize, String>;

/// [`common::accumulate_csv`] that also copies out the text of the example rows while their batch is at hand.
fn accumulate_csv_with_texts(
    inputs: &Inputs,
    accumulator: &mut DiffAccumulator<'_>,
    texts: &mut RowTexts,
) -> anyhow::Result<()> {
    let path = &inputs.paths.data;
    let reader = crate::folder::open_with_progress(path)?;
    let keep = |batch: &Table, rows: &[usize]| -> Vec<(usize, String)> {
        rows.iter().map(|&row| (row, common::row_text(batch, row))).collect()
    };
    let take = |first: usize, kept: &[usize], candidates: Vec<(usize, String)>| {
        for (row, text) in candidates {
            if kept.binary_search(&(first + row)).is_ok() {
                texts.insert(first + row, text);
            }
        }
    };
    match accumulator.add_csv_keeping(reader, common::batch_options(inputs), keep, take) {
        Ok(_) => Ok(()),
        Err(domo_pdp::DiffCsvError::Load(error)) => Err(crate::folder::load_error(path, error.into())),
        Err(error) => Err(error.into()),
    }
}

/// The text of a row shown as an example.
fn text_of(texts: &RowTexts, row: usize) -> &str {
    texts.get(&row).map_or("", String::as_str)
}

/// A user whose rows change: label, rows before, rows after, rows gained, rows lost.
type ChangedUser<'a> = (String, usize, usize, &'a ChangedRows, &'a ChangedRows);

/// The diff as a pull-request comment: the verdict, then a block per policy change and per user
/// whose rows change, users who gain rows first.
fn markdown(
    diff: &PolicyDiff,
    rows: usize,
    names: &common::Names<'_>,
    inputs: &Inputs,
    inputs_dir: &std::path::Path,
    old_path: &std::path::Path,
    show_rows: Option<&RowTexts>,
) -> output::Comment {
    use output::{Align, Section, md_code, md_table};
    // (label, before, after, gained rows, lost rows) of every user whose rows change.
    let mut users: Vec<ChangedUser<'_>> = diff
        .users
        .iter()
        .map(|u| {
            let label = format!("user {} `{}`", u.user, md_code(&names.get(u.user)));
            (label, u.old_visible, u.new_visible, &u.gained, &u.lost)
        })
        .chain(diff.virtual_users.iter().map(|v| {
            let label = format!("virtual user `{}`", md_code(&v.name));
            (label, v.old_visible, v.new_visible, &v.gained, &v.lost)
        }))
        .collect();
    // Gains first, the largest first: they are what a reviewer must look at.
    users.sort_by_key(|u| (u.3.is_empty(), std::cmp::Reverse(u.3.len()), std::cmp::Reverse(u.4.len())));
    let gainers = users.iter().filter(|u| !u.3.is_empty()).count();
    let losers = users.iter().filter(|u| !u.4.is_empty()).count();
    let verdict = if users.is_empty() {
        format!("No user's rows change ({})", output::count(diff.policies.len(), "policy changes", "policies change"))
    } else {
        format!(
            "{}, {}",
            output::count(gainers, "user gains rows", "users gain rows"),
            output::count(losers, "user loses rows", "users lose rows")
        )
    };
    let mut context = vec![format!(
        "`domo pdp diff` of `{}` against `{}` over {}: {}, {}.",
        md_code(&inputs.paths.policies.display().to_string()),
        md_code(&old_path.display().to_string()),
        output::count(rows, "row", "rows"),
        output::count(diff.policies.len(), "policy changes", "policies change"),
        output::count(users.len(), "user's rows change", "users' rows change"),
    )];
    if !users.is_empty() {
        context.push(String::new());
        context.push(md_table(
            &["user", "before", "after", "gained", "lost"],
            &[Align::Left, Align::Right, Align::Right, Align::Right, Align::Right],
            // The summary table lists the first users; every one has its own block below.
            users.iter().take(50).map(|u| {
                vec![
                    u.0.clone(),
                    u.1.to_string(),
                    u.2.to_string(),
                    format!("+{}", u.3.len()),
                    format!("-{}", u.4.len()),
                ]
            }),
        ));
    }
    let mut sections = Vec::new();
    sections.extend(diff.policies.iter().map(for_any_row::policy_section));
    for (label, before, after, gained, lost) in &users {
        let mut body = md_table(
            &["before", "after", "gained", "lost"],
            &[Align::Right; 4],
            [vec![before.to_string(), after.to_string(), gained.len().to_string(), lost.len().to_string()]],
        );
        if let Some(texts) = show_rows {
            for (what, rows) in [("gained", gained), ("lost", lost)] {
                for &row in rows.first.iter().take(SAMPLE_ROWS) {
                    body.push_str(&format!("\n- {what} row {}: `{}`", row + 1, md_code(text_of(texts, row))));
                }
                if rows.len() > SAMPLE_ROWS {
                    body.push_str(&format!(
                        "\n- … and {} more {what}",
                        output::count(rows.len() - SAMPLE_ROWS, "row", "rows")
                    ));
                }
            }
        }
        let sign = if gained.is_empty() { "-" } else { "+" };
        let summary = format!("{sign} {label}: {before} → {after} rows (+{}, -{})", gained.len(), lost.len());
        sections.push(Section { summary, body });
    }
    output::Comment {
        verdict,
        context,
        sections,
        full_command: format!("domo pdp diff {} --against {}", inputs_dir.display(), old_path.display()),
    }
}

/// One user's change for people: `user 27 `Ada`: 2 -> 4 rows (+2 gained, -0 lost)`,
/// with samples of the rows gained and lost when `show_rows` holds their text.
fn write_user_change(
    out: &mut impl Write,
    who: &str,
    (before, after): (usize, usize),
    gained: &ChangedRows,
    lost: &ChangedRows,
    show_rows: Option<&RowTexts>,
) -> anyhow::Result<()> {
    let style = if gained.is_empty() { BOLD } else { WARNING };
    let gained_text = paint(style, format!("+{} gained", gained.len()));
    writeln!(out, "  {who}: {before} -> {after} rows ({gained_text}, -{} lost)", lost.len())?;
    if let Some(texts) = show_rows {
        write_rows(out, texts, "gained", gained)?;
        write_rows(out, texts, "lost", lost)?;
    }
    Ok(())
}

fn write_rows(out: &mut impl Write, texts: &RowTexts, what: &str, rows: &ChangedRows) -> anyhow::Result<()> {
    for &row in rows.first.iter().take(SAMPLE_ROWS) {
        writeln!(out, "    {what} row {}: {}", row + 1, text_of(texts, row))?;
    }
    if rows.len() > SAMPLE_ROWS {
        let more = rows.len() - SAMPLE_ROWS;
        writeln!(out, "    … and {more} more {what} {}", if more == 1 { "row" } else { "rows" })?;
    }
    Ok(())
}

/// The policy changes for people: added, removed, or changed with what changed.
fn write_policy_changes(out: &mut impl Write, changes: &[domo_pdp::PolicyChange]) -> std::io::Result<()> {
    if changes.is_empty() {
        writeln!(out, "  no policy changed")?;
    }
    for change in changes {
        let label = match change.id {
            Some(id) => format!("policy {id} `{}`", change.name),
            None => format!("policy `{}`", change.name),
        };
        match &change.kind {
            PolicyChangeKind::Added => writeln!(out, "  {} {label}", paint(GOOD, "added"))?,
            PolicyChangeKind::Removed => writeln!(out, "  {} {label}", paint(ERROR, "removed"))?,
            PolicyChangeKind::Changed(details) => {
                writeln!(out, "  {} {label}", paint(WARNING, "changed"))?;
                for detail in details {
                    writeln!(out, "    {detail}")?;
                }
            }
        }
    }
    Ok(())
}
