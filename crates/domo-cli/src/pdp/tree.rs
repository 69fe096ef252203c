//! The offline commands on an instance tree (docs/tree.md): `matrix`, `lint`, `diff` and `test`
//! run on every DataSet of the tree, each with the one-DataSet code, and report per DataSet.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::Path;

use domo_pdp::Severity;
use serde::Serialize;

use super::diff::DiffArgs;
use super::lint::LintArgs;
use super::matrix::MatrixArgs;
use super::test::TestArgs;
use crate::engine as common;
use crate::exit::Outcome;
use crate::folder::{DirectoryProblems, Limits};
use crate::output::{self, Align, BOLD, ERROR, Format, GOOD, NOTE, WARNING, paint};
use crate::tree::{Tree, TreeDataset};

/// A DataSet as reports name it: its id (the folder) and name.
#[derive(Debug, Clone, Serialize)]
struct DatasetRef {
    id: String,
    name: String,
}

impl DatasetRef {
    fn of(dataset: &TreeDataset) -> Self {
        Self { id: dataset.folder.clone(), name: dataset.inputs.dataset.name.clone() }
    }

    fn label(&self) -> String {
        format!("`{}` ({})", self.name, self.id)
    }
}

/// At most this many DataSets get a column of their own in `matrix`'s table; past it, totals only.
const WIDE_DATASETS: usize = 6;

// ---------------------------------------------------------------------------------------------
// matrix

/// `{"datasets": [...], "users": [...]}`: per DataSet every user's count; per user the totals.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct TreeMatrix {
    datasets: Vec<DatasetMatrix>,
    users: Vec<UserTotal>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct DatasetMatrix {
    #[serde(flatten)]
    dataset: DatasetRef,
    /// Rows of the sample; null without one.
    rows: Option<usize>,
    /// Each directory user, in directory order: rows seen (null without a sample) and why.
    users: Vec<DatasetUser>,
}

#[derive(Debug, Clone, Serialize)]
struct DatasetUser {
    id: u64,
    visible: Option<usize>,
    reason: &'static str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct UserTotal {
    id: u64,
    name: String,
    /// Rows seen over every DataSet with a sample.
    visible: usize,
    /// DataSets with a sample in which the user sees at least one row.
    datasets_with_rows: usize,
}

pub(super) fn matrix(args: &MatrixArgs) -> anyhow::Result<Outcome> {
    let tree = Tree::read(&args.input.dir, Limits::new(&args.limits), DirectoryProblems::Refuse)?;
    let mut datasets = Vec::new();
    for dataset in &tree.datasets {
        let inputs = &dataset.inputs;
        let set = common::compile(inputs)?;
        let (rows, users) = if dataset.has_data {
            // Streamed a batch of rows at a time, like `domo pdp matrix DIR`.
            let counts = common::all_counts(inputs, &set)?;
            let users = counts
                .users
                .iter()
                .map(|c| DatasetUser { id: c.user.get(), visible: Some(c.rows), reason: common::reason_word(c.reason) })
                .collect();
            (Some(counts.rows), users)
        } else {
            let users = tree
                .directory
                .users
                .iter()
                .map(|u| DatasetUser {
                    id: u.id.get(),
                    visible: None,
                    reason: common::reason_word(set.access(u.id).reason),
                })
                .collect();
            (None, users)
        };
        datasets.push(DatasetMatrix { dataset: DatasetRef::of(dataset), rows, users });
    }
    let names = common::Names::new(&tree.directory);
    let mut totals: BTreeMap<u64, (usize, usize)> = BTreeMap::new();
    for dataset in &datasets {
        for user in &dataset.users {
            let entry = totals.entry(user.id).or_default();
            if let Some(visible) = user.visible {
                entry.0 += visible;
                entry.1 += usize::from(visible > 0);
            }
        }
    }
    let users: Vec<UserTotal> = tree
        .directory
        .users
        .iter()
        .map(|u| {
            let (visible, with_rows) = totals.get(&u.id.get()).copied().unwrap_or_default();
            UserTotal { id: u.id.get(), name: names.get(u.id), visible, datasets_with_rows: with_rows }
        })
        .collect();
    let matrix = TreeMatrix { datasets, users };
    print_matrix(args.format, &matrix)
}

fn print_matrix(format: Format, matrix: &TreeMatrix) -> anyhow::Result<Outcome> {
    let seen = |v: Option<usize>| v.map_or_else(|| "no sample".to_owned(), |v| v.to_string());
    match format {
        Format::Json => output::json(matrix)?,
        Format::Csv => {
            let header = ["dataset_id", "dataset", "user", "name", "visible", "rows", "reason"];
            let names: BTreeMap<u64, &str> = matrix.users.iter().map(|u| (u.id, u.name.as_str())).collect();
            let names = &names;
            let rows = matrix.datasets.iter().flat_map(|d| {
                d.users.iter().map(move |u| {
                    vec![
                        d.dataset.id.clone(),
                        d.dataset.name.clone(),
                        u.id.to_string(),
                        names.get(&u.id).copied().unwrap_or_default().to_owned(),
                        u.visible.map(|v| v.to_string()).unwrap_or_default(),
                        d.rows.map(|v| v.to_string()).unwrap_or_default(),
                        u.reason.to_owned(),
                    ]
                })
            });
            output::write_csv(output::plain_stdout(), &header, rows)?;
        }
        Format::Table | Format::Markdown => {
            let mut out = output::stdout();
            let sampled_rows: usize = matrix.datasets.iter().filter_map(|d| d.rows).sum();
            let sampled = matrix.datasets.iter().filter(|d| d.rows.is_some()).count();
            if matrix.datasets.len() <= WIDE_DATASETS {
                let mut header: Vec<String> = vec!["user".into(), "name".into()];
                header.extend(matrix.datasets.iter().map(|d| match d.rows {
                    Some(rows) => format!("{} (of {rows})", d.dataset.name),
                    None => d.dataset.name.clone(),
                }));
                header.push("total".into());
                let header: Vec<&str> = header.iter().map(String::as_str).collect();
                let mut align = vec![Align::Right, Align::Left];
                align.extend(std::iter::repeat_n(Align::Right, matrix.datasets.len() + 1));
                let rows = matrix.users.iter().enumerate().map(|(i, u)| {
                    let mut row = vec![u.id.to_string(), u.name.clone()];
                    row.extend(matrix.datasets.iter().map(|d| match d.users.get(i) {
                        Some(cell) => format!("{} {}", seen(cell.visible), cell.reason),
                        None => String::new(),
                    }));
                    row.push(format!("{} / {sampled_rows}", u.visible));
                    row
                });
                writeln!(out, "{}", output::table(&header, &align, rows))?;
            } else {
                let rows = matrix.users.iter().map(|u| {
                    vec![
                        u.id.to_string(),
                        u.name.clone(),
                        format!("{} / {sampled}", u.datasets_with_rows),
                        format!("{} / {sampled_rows}", u.visible),
                    ]
                });
                let align = [Align::Right, Align::Left, Align::Right, Align::Right];
                writeln!(
                    out,
                    "{}",
                    output::table(&["user", "name", "DataSets with rows", "visible rows"], &align, rows)
                )?;
            }
            let unsampled = matrix.datasets.len() - sampled;
            let unsampled = if unsampled == 0 { String::new() } else { format!(" ({unsampled} without a sample)") };
            writeln!(
                out,
                "{}{unsampled}, {} in the samples, {}",
                output::count(matrix.datasets.len(), "DataSet", "DataSets"),
                output::count(sampled_rows, "row", "rows"),
                output::count(matrix.users.len(), "user", "users")
            )?;
            out.flush()?;
        }
    }
    Ok(Outcome::Ok)
}

// ---------------------------------------------------------------------------------------------
// lint

#[derive(Debug, Serialize)]
struct TreeLintJson {
    errors: usize,
    warnings: usize,
    notes: usize,
    findings: Vec<TreeFindingJson>,
}

#[derive(Debug, Serialize)]
struct TreeFindingJson {
    /// Null for a finding about the tree (a shared policy no DataSet uses).
    dataset: Option<DatasetRef>,
    severity: &'static str,
    kind: &'static str,
    message: String,
}

/// `f` of every DataSet, on as many threads as the machine has cores, in the DataSets' order.
fn each_parallel<T: Send>(datasets: &[TreeDataset], f: impl Fn(&TreeDataset) -> T + Sync) -> Vec<T> {
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get).min(datasets.len());
    if threads <= 1 {
        return datasets.iter().map(f).collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut results: Vec<(usize, T)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let index = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(dataset) = datasets.get(index) else { break };
                        done.push((index, f(dataset)));
                    }
                    done
                })
            })
            .collect();
        // A worker's panic is the caller's.
        workers
            .into_iter()
            .flat_map(|worker| worker.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
            .collect()
    });
    results.sort_by_key(|(index, _)| *index);
    results.into_iter().map(|(_, result)| result).collect()
}

/// The kind of lint's finding about a user who sees no row.
const USER_SEES_NOTHING: &str = "user-sees-nothing";

/// At most this many users who see nothing are named per DataSet in a tree's lint.
const SEES_NOTHING_SHOWN: usize = 10;

pub(super) fn lint(args: &LintArgs) -> anyhow::Result<Outcome> {
    let tree = Tree::read(&args.input.dir, Limits::new(&args.limits), DirectoryProblems::Keep)?;
    let mut findings: Vec<TreeFindingJson> = Vec::new();
    let finding = |dataset: Option<DatasetRef>, severity: &'static str, kind: &'static str, message: String| {
        TreeFindingJson { dataset, severity, kind, message }
    };
    for problem in tree.directory.problems() {
        findings.push(finding(None, "error", "directory-problem", format!("`directory.json`: {problem}")));
    }
    let used: BTreeSet<&str> = tree
        .datasets
        .iter()
        .flat_map(|d| d.origins.iter())
        .filter_map(|o| match o {
            crate::tree::PolicyOrigin::Shared(stem) => Some(stem.as_str()),
            crate::tree::PolicyOrigin::Local => None,
        })
        .collect();
    for (stem, shared) in &tree.shared {
        if !used.contains(stem.as_str()) {
            findings.push(finding(
                None,
                "warning",
                "unused-shared-policy",
                format!("shared policy `{stem}` (`{}`) is used by no DataSet", shared.path.display()),
            ));
        }
    }
    // DataSets are linted on every core at once; the findings keep the tree's order.
    let all = each_parallel(&tree.datasets, |dataset| {
        super::lint::lint_folder(&dataset.inputs, args.for_any_row, !dataset.has_data)
    });
    for (dataset, linted) in tree.datasets.iter().zip(all) {
        let at = DatasetRef::of(dataset);
        let linted = linted?;
        // Users who see nothing are one finding a DataSet: on an instance, most users are in no
        // policy of most DataSets, and a line each would bury the findings that matter.
        // One finding per severity (a warning for users a policy names, a note for the others).
        let mut nothing: BTreeMap<u8, (&'static str, Vec<String>)> = BTreeMap::new();
        for (severity, kind, message) in linted.messages() {
            match kind {
                // Directory problems are reported once for the tree, above.
                "directory-problem" => {}
                USER_SEES_NOTHING => {
                    let entry = nothing.entry(super::lint::severity_rank(severity)).or_insert((severity, Vec::new()));
                    entry.1.push(message);
                }
                _ => findings.push(finding(Some(at.clone()), severity, kind, message)),
            }
        }
        for (severity, nothing) in nothing.into_values() {
            let mut message = format!(
                "{} no row{}:",
                output::count(nothing.len(), "user sees", "users see"),
                if dataset.has_data { " of the sample" } else { "" }
            );
            for each in nothing.iter().take(SEES_NOTHING_SHOWN) {
                message.push_str("\n    ");
                message.push_str(each);
            }
            if nothing.len() > SEES_NOTHING_SHOWN {
                message.push_str(&format!(
                    "\n    … and {} more (`domo pdp lint {}` lists each)",
                    nothing.len() - SEES_NOTHING_SHOWN,
                    dataset.inputs.paths.dataset.parent().map_or_else(String::new, |p| p.display().to_string())
                ));
            }
            findings.push(finding(Some(at.clone()), severity, USER_SEES_NOTHING, message));
        }
    }
    // The tree's own findings first, then each DataSet's together (in the tree's order), errors first.
    let position: BTreeMap<&str, usize> =
        tree.datasets.iter().enumerate().map(|(i, d)| (d.folder.as_str(), i + 1)).collect();
    let order = |f: &TreeFindingJson| f.dataset.as_ref().and_then(|d| position.get(d.id.as_str()).copied());
    findings.sort_by_key(|f| (order(f), super::lint::severity_rank(f.severity)));
    let count = |severity: Severity| findings.iter().filter(|f| f.severity == severity.as_str()).count();
    let (errors, warnings, notes) = (count(Severity::Error), count(Severity::Warning), count(Severity::Note));
    let verdict_counts = super::lint::counts(errors, warnings, notes);
    let scope = format!(
        "{} and {} of `{}`",
        output::count(tree.datasets.len(), "DataSet", "DataSets"),
        output::count(tree.shared.len(), "shared policy", "shared policies"),
        tree.root.display()
    );
    match args.format {
        Format::Json => output::json(&TreeLintJson { errors, warnings, notes, findings })?,
        Format::Markdown => {
            let mut rows: Vec<(&str, &str, String)> = findings
                .iter()
                .map(|f| {
                    let message = match &f.dataset {
                        Some(d) => format!("{}: {}", d.label(), f.message),
                        None => f.message.clone(),
                    };
                    (f.severity, f.kind, message)
                })
                .collect();
            rows.sort_by_key(|f| (super::lint::severity_rank(f.0), f.1));
            let comment = output::Comment {
                verdict: format!("{}: {verdict_counts}", if errors > 0 { "Lint failed" } else { "Lint passed" }),
                context: vec![format!("`domo pdp lint` of {}.", output::md_code(&scope))],
                sections: super::lint::markdown_sections(&rows),
                full_command: format!("domo pdp lint {}", args.input.dir.display()),
            };
            output::text(&comment.render())?;
        }
        Format::Table | Format::Csv => {
            let mut out = output::stdout();
            let mut current: Option<&str> = None;
            for f in &findings {
                let id = f.dataset.as_ref().map(|d| d.id.as_str());
                if id != current {
                    if let Some(d) = &f.dataset {
                        writeln!(out, "{}", paint(BOLD, format!("DataSet {}", d.label())))?;
                    }
                    current = id;
                }
                let style = match f.severity {
                    "error" => ERROR,
                    "warning" => WARNING,
                    _ => NOTE,
                };
                let indent = if f.dataset.is_some() { "  " } else { "" };
                writeln!(out, "{indent}{}[{}]: {}", paint(style, f.severity), f.kind, f.message)?;
            }
            if !findings.is_empty() {
                writeln!(out)?;
            }
            writeln!(
                out,
                "{}: {verdict_counts} in {scope}",
                if errors > 0 { paint(ERROR, "failed") } else { paint(GOOD, "ok") }
            )?;
            out.flush()?;
        }
    }
    Ok(if errors > 0 { Outcome::Findings } else { Outcome::Ok })
}

// ---------------------------------------------------------------------------------------------
// diff

/// What changes for one DataSet between the two trees.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct DatasetDiff {
    #[serde(flatten)]
    dataset: DatasetRef,
    /// `added`, `removed`, `changed` or `unchanged` (policies, PDP switch or owner).
    change: &'static str,
    /// Policy changes as `+ name`, `- name`, `~ name: details`.
    policies: Vec<String>,
    /// What the comparison was made on: `rows` (the sample), `any-row` (every possible row), or `none`.
    judged_on: &'static str,
    /// Users who gain or lose rows (on the sample), or whose gain is proven or unknown (any row).
    users: Vec<TreeUserEffect>,
    new_access: bool,
    /// With `any-row`: a gain that could be neither proven nor ruled out.
    unknown: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct TreeUserEffect {
    /// Null for a virtual user.
    id: Option<u64>,
    name: Option<String>,
    /// On the sample: rows before and after; null when judged on any row.
    before: Option<usize>,
    after: Option<usize>,
    gained: Option<usize>,
    lost: Option<usize>,
    /// On any row: `gains`, `loses`, `gains-and-loses`, `unknown`.
    verdict: Option<&'static str>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct TreeDiffJson<'a> {
    datasets: Vec<&'a DatasetDiff>,
    new_access: bool,
}

/// `domo pdp diff ROOT --against OLD_ROOT` (or a git revision's copy of the tree).
pub(super) fn diff(args: &DiffArgs, old_root: &Path, old_label: &str) -> anyhow::Result<Outcome> {
    let limits = Limits::new(&args.limits);
    let new = Tree::read(&args.input.dir, limits, DirectoryProblems::Refuse)?;
    if !crate::tree::is_tree(old_root) {
        anyhow::bail!(
            "`{}` is an instance tree but {old_label} is not (no `{}` folder): compare a tree with a tree",
            args.input.dir.display(),
            crate::tree::DATASETS
        );
    }
    let old = Tree::read(old_root, limits, DirectoryProblems::Refuse)?;
    let old_by_id: BTreeMap<&str, &TreeDataset> = old.datasets.iter().map(|d| (d.folder.as_str(), d)).collect();
    let new_ids: BTreeSet<&str> = new.datasets.iter().map(|d| d.folder.as_str()).collect();
    let names = common::Names::new(&new.directory);
    let mut datasets = Vec::new();
    for dataset in &new.datasets {
        let at = DatasetRef::of(dataset);
        let Some(before) = old_by_id.get(dataset.folder.as_str()) else {
            // A DataSet new to the tree: its policies are all added; judged against no policies at all
            // would claim every row is new, so the effect is each user's access under the new policies.
            common::compile(&dataset.inputs)?;
            let policies = dataset.inputs.policies.iter().map(|p| format!("+ {}", p.name)).collect();
            datasets.push(DatasetDiff {
                dataset: at,
                change: "added",
                policies,
                judged_on: "none",
                users: Vec::new(),
                // Whatever its policies grant is new to the reviewed tree; PDP off grants every row.
                new_access: !dataset.inputs.policies.is_empty() || !dataset.inputs.dataset.pdp_enabled,
                unknown: false,
            });
            continue;
        };
        datasets.push(diff_dataset(args, before, dataset, &names)?);
    }
    for dataset in &old.datasets {
        if !new_ids.contains(dataset.folder.as_str()) {
            let policies = dataset.inputs.policies.iter().map(|p| format!("- {}", p.name)).collect();
            datasets.push(DatasetDiff {
                dataset: DatasetRef::of(dataset),
                change: "removed",
                policies,
                judged_on: "none",
                users: Vec::new(),
                new_access: false,
                unknown: false,
            });
        }
    }
    let gate = |d: &DatasetDiff| d.new_access || (d.unknown && !args.allow_unknown);
    let new_access = datasets.iter().any(|d| d.new_access);
    let fails = args.fail_on_new_access && datasets.iter().any(gate);
    print_diff(args, &new, old_label, &datasets, new_access)?;
    Ok(if fails { Outcome::Findings } else { Outcome::Ok })
}

/// One DataSet present in both trees: on its sample when it has one, else for every possible row.
fn diff_dataset(
    args: &DiffArgs,
    old: &TreeDataset,
    new: &TreeDataset,
    names: &common::Names<'_>,
) -> anyhow::Result<DatasetDiff> {
    let old_set = common::compile(&old.inputs)?;
    let new_set = common::compile(&new.inputs)?;
    let old_refs: Vec<&domo_model::Policy> = old.inputs.policies.iter().collect();
    let new_refs: Vec<&domo_model::Policy> = new.inputs.policies.iter().collect();
    let policies: Vec<String> = domo_pdp::policy_changes(&old_refs, &new_refs)
        .iter()
        .map(|c| match &c.kind {
            domo_pdp::PolicyChangeKind::Added => format!("+ {}", c.name),
            domo_pdp::PolicyChangeKind::Removed => format!("- {}", c.name),
            domo_pdp::PolicyChangeKind::Changed(details) => format!("~ {}: {}", c.name, details.join("; ")),
        })
        .collect();
    let switch_changed = old.inputs.dataset.pdp_enabled != new.inputs.dataset.pdp_enabled
        || old.inputs.dataset.owner != new.inputs.dataset.owner
        || old.inputs.directory != new.inputs.directory;
    let change = if policies.is_empty() && !switch_changed { "unchanged" } else { "changed" };
    let at = DatasetRef::of(new);
    if change == "unchanged" {
        return Ok(DatasetDiff {
            dataset: at,
            change,
            policies,
            judged_on: "none",
            users: Vec::new(),
            new_access: false,
            unknown: false,
        });
    }
    if new.has_data && !args.for_any_row {
        let mut accumulator = domo_pdp::DiffAccumulator::new(&old_set, &new_set, domo_pdp::DiffOptions::default());
        crate::engine::accumulate_csv(&new.inputs, &mut accumulator)?;
        let diff = accumulator.finish();
        let users = diff
            .users
            .iter()
            .map(|u| TreeUserEffect {
                id: Some(u.user.get()),
                name: names.find(u.user),
                before: Some(u.old_visible),
                after: Some(u.new_visible),
                gained: Some(u.gained.len()),
                lost: Some(u.lost.len()),
                verdict: None,
            })
            .collect();
        return Ok(DatasetDiff {
            dataset: at,
            change,
            policies,
            judged_on: "rows",
            users,
            new_access: diff.grants_new_access(),
            unknown: false,
        });
    }
    let report = domo_pdp::impact(&old_set, &new_set, &domo_pdp::ImpactOptions::default())?;
    let users = report
        .changed()
        .map(|u| TreeUserEffect {
            id: match &u.subject {
                domo_pdp::Subject::User(id) => Some(id.get()),
                domo_pdp::Subject::Virtual(_) => None,
            },
            name: match &u.subject {
                domo_pdp::Subject::User(id) => names.find(*id),
                domo_pdp::Subject::Virtual(name) => Some(name.clone()),
            },
            before: None,
            after: None,
            gained: None,
            lost: None,
            verdict: Some(u.verdict().as_str()),
        })
        .collect();
    Ok(DatasetDiff {
        dataset: at,
        change,
        policies,
        judged_on: "any-row",
        users,
        new_access: report.grants_new_access(),
        unknown: report.gain_unknown(),
    })
}

fn print_diff(
    args: &DiffArgs,
    new: &Tree,
    old_label: &str,
    datasets: &[DatasetDiff],
    new_access: bool,
) -> anyhow::Result<()> {
    let changed: Vec<&DatasetDiff> = datasets.iter().filter(|d| d.change != "unchanged").collect();
    let user_line = |u: &TreeUserEffect| {
        let name = u.name.as_deref().unwrap_or("(not in the directory)");
        let who = match u.id {
            Some(id) => format!("user {id} `{name}`"),
            None => format!("virtual user `{name}`"),
        };
        match (u.before, u.after, u.gained, u.lost, u.verdict) {
            (Some(before), Some(after), Some(gained), Some(lost), _) => {
                format!("{who}: {before} → {after} rows (+{gained} -{lost})")
            }
            (.., Some(verdict)) => format!("{who}: {verdict} (for any row)"),
            _ => who,
        }
    };
    let summary = format!(
        "{} of {} changed against {old_label}",
        changed.len(),
        output::count(datasets.len(), "DataSet", "DataSets")
    );
    match args.format {
        Format::Json => {
            output::json(&TreeDiffJson { datasets: changed, new_access })?;
        }
        Format::Markdown => {
            let verdict =
                if new_access { format!("New access: {summary}") } else { format!("No new access: {summary}") };
            let sections = changed
                .iter()
                .map(|d| {
                    let mut body: Vec<String> =
                        d.policies.iter().map(|p| format!("- {}", output::md_cell(p))).collect();
                    body.extend(d.users.iter().map(|u| format!("- {}", output::md_cell(&user_line(u)))));
                    output::Section {
                        summary: format!(
                            "{} {} — {}",
                            if d.new_access { "⚠" } else { "·" },
                            output::md_cell(&d.dataset.label()),
                            d.change
                        ),
                        body: body.join("\n"),
                    }
                })
                .collect();
            let comment = output::Comment {
                verdict,
                context: vec![format!("`domo pdp diff` of `{}`.", new.root.display())],
                sections,
                full_command: format!("domo pdp diff {} …", args.input.dir.display()),
            };
            output::text(&comment.render())?;
        }
        Format::Table | Format::Csv => {
            let mut out = output::stdout();
            for d in &changed {
                let mark = if d.new_access { paint(ERROR, "new access") } else { paint(GOOD, "no new access") };
                writeln!(out, "{} — {}, {mark}", paint(BOLD, format!("DataSet {}", d.dataset.label())), d.change)?;
                for p in &d.policies {
                    writeln!(out, "  {p}")?;
                }
                match d.judged_on {
                    "rows" if d.users.is_empty() => writeln!(out, "  every user sees the same rows of the sample")?,
                    "any-row" if d.users.is_empty() => writeln!(out, "  no user's access changes, for any row")?,
                    "any-row" => writeln!(out, "  no sample: judged for every possible row")?,
                    _ => {}
                }
                for u in &d.users {
                    writeln!(out, "  {}", user_line(u))?;
                }
            }
            if !changed.is_empty() {
                writeln!(out)?;
            }
            let verdict = if new_access { paint(WARNING, "new access") } else { paint(GOOD, "no new access") };
            writeln!(out, "{verdict}: {summary}")?;
            out.flush()?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// test

#[derive(Debug, Serialize)]
struct TreeTestJson {
    passed: usize,
    failed: usize,
    datasets: Vec<DatasetTests>,
}

#[derive(Debug, Serialize)]
struct DatasetTests {
    #[serde(flatten)]
    dataset: DatasetRef,
    passed: usize,
    failed: usize,
    /// Failing cases: number, name and what went wrong.
    failures: Vec<String>,
}

/// `domo pdp test ROOT`: every DataSet folder's `tests.json`, on its sample.
pub(super) fn test(args: &TestArgs) -> anyhow::Result<Outcome> {
    if let Some(tests) = &args.tests {
        anyhow::bail!(
            "`{}` is an instance tree: its tests are each DataSet folder's tests.json, not `{}`",
            args.input.dir.display(),
            tests.display()
        );
    }
    let tree = Tree::read(&args.input.dir, Limits::new(&args.limits), DirectoryProblems::Refuse)?;
    let mut results = Vec::new();
    for dataset in &tree.datasets {
        let path = dataset.inputs.paths.dataset.with_file_name("tests.json");
        if !path.exists() {
            continue;
        }
        if !dataset.has_data {
            anyhow::bail!(
                "`{}` has tests but no data.csv: policy tests check rows (pull a sample with `domo pull --all --sample N`)",
                path.display()
            );
        }
        let outcomes = super::test::run_file(&dataset.inputs, &path)?;
        let failures: Vec<String> = outcomes
            .iter()
            .filter(|o| !o.passed)
            .map(|o| match &o.name {
                Some(name) => format!("case {} `{name}`: {}", o.number, o.summary),
                None => format!("case {}: {}", o.number, o.summary),
            })
            .collect();
        results.push(DatasetTests {
            dataset: DatasetRef::of(dataset),
            passed: outcomes.len() - failures.len(),
            failed: failures.len(),
            failures,
        });
    }
    if results.is_empty() {
        anyhow::bail!("no DataSet of `{}` has a tests.json: nothing would be checked", tree.root.display());
    }
    let passed: usize = results.iter().map(|r| r.passed).sum();
    let failed: usize = results.iter().map(|r| r.failed).sum();
    match args.format {
        Format::Json => output::json(&TreeTestJson { passed, failed, datasets: results })?,
        _ => {
            let mut out = output::stdout();
            for r in &results {
                let verdict = if r.failed == 0 { paint(GOOD, "ok") } else { paint(ERROR, "FAIL") };
                writeln!(out, "{verdict} DataSet {}: {} passed, {} failed", r.dataset.label(), r.passed, r.failed)?;
                for failure in &r.failures {
                    writeln!(out, "       {failure}")?;
                }
            }
            writeln!(out)?;
            let verdict = if failed == 0 { paint(GOOD, "ok") } else { paint(ERROR, "failed") };
            writeln!(
                out,
                "{verdict}: {passed} passed, {failed} failed in {}",
                output::count(results.len(), "DataSet", "DataSets")
            )?;
            out.flush()?;
        }
    }
    Ok(if failed == 0 { Outcome::Ok } else { Outcome::Findings })
}
