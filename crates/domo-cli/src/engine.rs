//! Compiling a folder's policies with readable errors, and naming users, policies, groups, memberships,
//! reasons and rows: in words for people, and as the JSON shapes of docs/json.md for programs.

use std::io::Write;

use domo_model::{Directory, UserId};
use domo_pdp::{Membership, PolicySet, Reason};

use crate::folder::{Inputs, load_error, open_with_progress};

/// At most this many compile errors are spelled out; `domo pdp lint` lists them all.
const ERRORS_SHOWN: usize = 20;

/// At most this many compile warnings are printed before a count of the rest.
const WARNINGS_SHOWN: usize = 20;

/// Compiles the folder's policies. On failure the error lists every compile
/// error; warnings go to stderr either way.
pub(crate) fn compile(inputs: &Inputs) -> anyhow::Result<PolicySet> {
    compile_policies(inputs, &inputs.policies, &inputs.paths.policies)
}

/// Compiles a list of policies read from `file` against the folder's DataSet and directory.
pub(crate) fn compile_policies(
    inputs: &Inputs,
    policies: &[domo_model::Policy],
    file: &std::path::Path,
) -> anyhow::Result<PolicySet> {
    match PolicySet::compile(&inputs.dataset, policies, &inputs.directory) {
        Ok(set) => {
            print_warnings(file, set.warnings());
            Ok(set)
        }
        Err(err) => {
            print_warnings(file, &err.warnings);
            let mut message = match err.errors.len() {
                1 => format!("the policies in `{}` do not compile:", file.display()),
                n => format!("the policies in `{}` do not compile ({n} errors):", file.display()),
            };
            for error in err.errors.iter().take(ERRORS_SHOWN) {
                message.push_str("\n  ");
                message.push_str(&error.to_string());
            }
            if err.errors.len() > ERRORS_SHOWN {
                message.push_str(&format!("\n  … and {} more", err.errors.len() - ERRORS_SHOWN));
            }
            message.push_str("\n  (`domo pdp lint` lists every problem)");
            Err(anyhow::anyhow!(message))
        }
    }
}

fn print_warnings(file: &std::path::Path, warnings: &[domo_pdp::Diagnostic]) {
    let mut stderr = anstream::stderr().lock();
    for warning in warnings.iter().take(WARNINGS_SHOWN) {
        let _ = writeln!(
            stderr,
            "{}: `{}`: {warning}",
            crate::output::paint(crate::output::WARNING, "warning"),
            file.display()
        );
    }
    if warnings.len() > WARNINGS_SHOWN {
        let _ = writeln!(
            stderr,
            "{}: `{}`: … and {} more warnings (`domo pdp lint` lists every one)",
            crate::output::paint(crate::output::WARNING, "warning"),
            file.display(),
            warnings.len() - WARNINGS_SHOWN
        );
    }
}

/// Fails unless the directory knows the user.
pub(crate) fn require_user(inputs: &Inputs, user: UserId) -> anyhow::Result<()> {
    if inputs.directory.user(user).is_some() {
        return Ok(());
    }
    anyhow::bail!("user {user} is not in `{}`{}", inputs.paths.directory.display(), known_users(&inputs.directory))
}

fn known_users(directory: &Directory) -> String {
    let mut ids: Vec<u64> = directory.users.iter().map(|u| u.id.get()).collect();
    ids.sort_unstable();
    if ids.is_empty() {
        return " (it has no users)".to_owned();
    }
    let shown: Vec<String> = ids.iter().take(12).map(u64::to_string).collect();
    let more = if ids.len() > 12 { ", …" } else { "" };
    format!(" (known users: {}{more})", shown.join(", "))
}

/// Turns a 1-based data row into the engine's 0-based index, or explains why it cannot.
pub(crate) fn row_index(row: u64, rows: usize, data: &std::path::Path) -> anyhow::Result<usize> {
    let index = usize::try_from(row).ok().and_then(|r| r.checked_sub(1));
    match index {
        Some(index) if index < rows => Ok(index),
        _ => anyhow::bail!(
            "row {row} is not a data row of `{}`: rows are numbered from 1 (the header does not count) and there are {rows}",
            data.display()
        ),
    }
}

/// The user's display name, or `?` when the directory does not know them.
pub(crate) fn user_name(directory: &Directory, user: UserId) -> String {
    directory.user(user).map_or_else(|| "?".to_owned(), |u| u.name.clone())
}

/// Users' names by id, for commands that name many users (a directory lookup is a linear scan).
#[derive(Debug)]
pub(crate) struct Names<'a>(std::collections::HashMap<UserId, &'a str>);

impl<'a> Names<'a> {
    pub(crate) fn new(directory: &'a Directory) -> Self {
        Self(directory.users.iter().map(|u| (u.id, u.name.as_str())).collect())
    }

    /// The user's name, or `None` when the directory does not know them (a user reference's `name`).
    pub(crate) fn find(&self, user: UserId) -> Option<String> {
        self.0.get(&user).map(|name| (*name).to_owned())
    }

    /// The user's display name, or `?` when the directory does not know them.
    pub(crate) fn get(&self, user: UserId) -> String {
        self.0.get(&user).map_or_else(|| "?".to_owned(), |name| (*name).to_owned())
    }
}

/// The reason as the machine-readable word the matrix prints.
pub(crate) fn reason_word(reason: Reason) -> &'static str {
    match reason {
        Reason::Policies => "policies",
        Reason::AllRows => "all-rows",
        Reason::Owner => "owner",
        Reason::Admin => "admin",
        Reason::RoleGrant => "role-grant",
        Reason::PdpDisabled => "pdp-disabled",
        Reason::NoPolicy => "no-policy",
    }
}

/// How a user is in a policy, in words: `directly`, `via group 5 `Planners``.
pub(crate) fn membership_text(directory: &Directory, via: &[Membership]) -> String {
    let parts: Vec<String> = via
        .iter()
        .map(|m| match m {
            Membership::Direct => "directly".to_owned(),
            Membership::Group(group) => match directory.group(*group) {
                Some(g) => format!("via group {group} `{}`", g.name),
                None => format!("via group {group}"),
            },
            Membership::Virtual => "as a virtual user".to_owned(),
        })
        .collect();
    parts.join(" and ")
}

/// `policy 8 `Only Show Attendees``.
pub(crate) fn policy_label(set: &PolicySet, index: usize) -> String {
    match set.policies().get(index) {
        Some(p) => match p.id() {
            Some(id) => format!("policy {id} `{}`", p.name()),
            None => format!("policy #{} `{}`", index + 1, p.name()),
        },
        None => format!("policy #{}", index + 1),
    }
}

/// A row's cells in words: `Friend = `Pythagoras`, Attending = `FALSE``; NULL cells as NULL.
pub(crate) fn row_text(table: &domo_pdp::Table, row: usize) -> String {
    let cells: Vec<String> = table
        .schema()
        .columns
        .iter()
        .enumerate()
        .map(|(column, c)| match table.value(row, column) {
            Some(value) if !value.is_null() => format!("{} = `{value}`", c.name),
            _ => format!("{} = NULL", c.name),
        })
        .collect();
    cells.join(", ")
}

/// A policy as every JSON output names it (docs/json.md): `{"index": 0, "id": 8, "name": "Only Show Attendees"}`.
/// `index` is its 0-based place in the policies file; `id` is null for a policy not created yet.
/// A saved plan holds some, so it reads back too.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct PolicyRef {
    pub(crate) index: usize,
    pub(crate) id: Option<u64>,
    pub(crate) name: String,
}

impl PolicyRef {
    /// The policy at `index` of a compiled set.
    pub(crate) fn of(set: &PolicySet, index: usize) -> Self {
        let policy = set.policies().get(index);
        Self {
            index,
            id: policy.and_then(|p| p.id()).map(|id| id.get()),
            name: policy.map(|p| p.name().to_owned()).unwrap_or_default(),
        }
    }

    /// A policy as the engine's lint names it.
    pub(crate) fn from_lint(policy: &domo_pdp::PolicyRef) -> Self {
        Self { index: policy.handle.index(), id: policy.id.map(|id| id.get()), name: policy.name.clone() }
    }
}

/// A user as every JSON output names them: `{"id": 31, "name": "Ptolemy"}`; `name` is null when the
/// directory does not list them.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct UserRef {
    pub(crate) id: u64,
    pub(crate) name: Option<String>,
}

impl UserRef {
    pub(crate) fn of(directory: &Directory, user: UserId) -> Self {
        Self { id: user.get(), name: directory.user(user).map(|u| u.name.clone()) }
    }
}

/// A group as every JSON output names it: `{"id": 1324037627, "name": "Party Planners"}` (`name` null when unknown).
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct GroupRef {
    pub(crate) id: u64,
    pub(crate) name: Option<String>,
}

/// One way a user is in a policy: `{"kind": "direct"}`, `{"kind": "group", "group": {"id", "name"}}` or
/// `{"kind": "virtual"}`. A membership path is a list of these (a user named directly and through a group has two).
#[derive(Debug, Clone, serde::Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub(crate) enum MembershipRef {
    Direct,
    Group { group: GroupRef },
    Virtual,
}

/// The membership path as data.
pub(crate) fn membership_refs(directory: &Directory, via: &[Membership]) -> Vec<MembershipRef> {
    via.iter()
        .map(|m| match m {
            Membership::Direct => MembershipRef::Direct,
            Membership::Group(group) => MembershipRef::Group {
                group: GroupRef { id: group.get(), name: directory.group(*group).map(|g| g.name.clone()) },
            },
            Membership::Virtual => MembershipRef::Virtual,
        })
        .collect()
}

/// One user whose rows change, as JSON: `domo pdp diff --format json` and a plan's effect
/// (`{"id": 27, "name": "Ana", "before": 3, "after": 5, "gained": 2, "lost": 0}`). The name is
/// `N`: `Option<String>` in a diff (null for a user the directory does not list), `String` in a
/// plan (`?` then), so that both keep the shape they always had.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UserEffect<N> {
    pub(crate) id: u64,
    pub(crate) name: N,
    pub(crate) before: usize,
    pub(crate) after: usize,
    pub(crate) gained: usize,
    pub(crate) lost: usize,
    /// The first gained rows (1-based), with `--show-rows`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) gained_rows: Option<Vec<usize>>,
    /// The first lost rows (1-based), with `--show-rows`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) lost_rows: Option<Vec<usize>>,
}

impl<N> UserEffect<N> {
    /// The counts of one user's change, named `name`, without rows.
    pub(crate) fn of(change: &domo_pdp::UserChange, name: N) -> Self {
        Self {
            id: change.user.get(),
            name,
            before: change.old_visible,
            after: change.new_visible,
            gained: change.gained.len(),
            lost: change.lost.len(),
            gained_rows: None,
            lost_rows: None,
        }
    }
}

/// How the engine reads the folder's CSV a batch at a time: its header and limits.
pub(crate) fn batch_options(inputs: &Inputs) -> domo_pdp::BatchOptions {
    domo_pdp::BatchOptions { header: inputs.header, limits: inputs.limits.csv, ..domo_pdp::BatchOptions::default() }
}

/// Every principal's visible count, streamed from the folder's CSV a batch at a time.
pub(crate) fn all_counts(inputs: &Inputs, set: &PolicySet) -> anyhow::Result<domo_pdp::AllCounts> {
    let path = &inputs.paths.data;
    let reader = open_with_progress(path)?;
    set.all_counts_csv(reader, batch_options(inputs)).map_err(|error| load_error(path, error.into()))
}

/// The text of some rows of the folder's CSV ([`row_text`]), read a batch at a time.
#[derive(Debug, Default)]
pub(crate) struct RowTexts(std::collections::BTreeMap<usize, String>);

impl RowTexts {
    /// A row's text (0-based row); empty if it was not asked for.
    pub(crate) fn get(&self, row: usize) -> &str {
        self.0.get(&row).map_or("", String::as_str)
    }
}

/// Reads the text of `rows` (0-based) from the folder's CSV, holding one batch at a time; no
/// read at all when there is none to show.
///
/// A DECIMAL cell shows the scale of the largest in its batch rather than in the whole column
/// (`1.5` may show as `1.5` where the whole table shows `1.50`): the same number.
pub(crate) fn rows_text(inputs: &Inputs, rows: &std::collections::BTreeSet<usize>) -> anyhow::Result<RowTexts> {
    let mut texts = RowTexts::default();
    let Some(&last) = rows.last() else { return Ok(texts) };
    let path = &inputs.paths.data;
    let reader = open_with_progress(path)?;
    let result = domo_pdp::Table::for_each_batch(reader, &inputs.dataset.schema, batch_options(inputs), |batch| {
        let first = batch.first_row();
        let end = first + batch.table().row_count();
        for &row in rows.range(first..end) {
            texts.0.insert(row, row_text(batch.table(), row - first));
        }
        // Past the last row wanted: stop reading (the first pass checked the whole file).
        if end > last { Err(Stop::Done) } else { Ok(()) }
    });
    match result {
        Ok(_) | Err(Stop::Done) => Ok(texts),
        Err(Stop::Load(error)) => Err(load_error(path, error.into())),
    }
}

/// Why a pass over the CSV ended early.
#[derive(Debug)]
enum Stop {
    Done,
    Load(domo_pdp::LoadCsvError),
}

impl From<domo_pdp::LoadCsvError> for Stop {
    fn from(error: domo_pdp::LoadCsvError) -> Self {
        Stop::Load(error)
    }
}

/// The batch of the folder's CSV that holds data row `row` (1-based, as `--row` takes it) and
/// the row's index in that batch; the whole file is read and checked, one batch held at a time.
pub(crate) fn batch_holding_row(inputs: &Inputs, row: u64) -> anyhow::Result<(domo_pdp::Table, usize)> {
    let path = &inputs.paths.data;
    let reader = open_with_progress(path)?;
    let wanted = usize::try_from(row).ok().and_then(|r| r.checked_sub(1));
    let mut kept: Option<(domo_pdp::Table, usize)> = None;
    let rows = domo_pdp::Table::map_batches(
        reader,
        &inputs.dataset.schema,
        batch_options(inputs),
        Ok::<_, domo_pdp::LoadCsvError>,
        |batch| {
            let first = batch.first_row();
            if let Some(index) = wanted.and_then(|w| w.checked_sub(first))
                && index < batch.table().row_count()
            {
                kept = Some((batch.into_table(), index));
            }
            Ok(())
        },
    )
    .map_err(|error| load_error(path, error.into()))?;
    match kept {
        Some(kept) => Ok(kept),
        None => {
            row_index(row, usize::try_from(rows).unwrap_or(usize::MAX), path)?;
            anyhow::bail!("row {row} of `{}` was not read", path.display())
        }
    }
}

/// An error of a pass over the folder's CSV: the loader's (named with the file), or the caller's.
#[derive(Debug)]
enum BatchError {
    Load(domo_pdp::LoadCsvError),
    Other(anyhow::Error),
}

impl From<domo_pdp::LoadCsvError> for BatchError {
    fn from(error: domo_pdp::LoadCsvError) -> Self {
        Self::Load(error)
    }
}

/// Feeds the folder's CSV to `f` a batch of rows at a time, in file order (the batches typed on
/// worker threads): memory holds a few batches, never the file. Returns the rows read.
pub(crate) fn for_each_batch(
    inputs: &Inputs,
    mut f: impl FnMut(&domo_pdp::TableBatch) -> anyhow::Result<()>,
) -> anyhow::Result<u64> {
    let path = &inputs.paths.data;
    let reader = open_with_progress(path)?;
    domo_pdp::Table::for_each_batch(reader, &inputs.dataset.schema, batch_options(inputs), |batch| {
        f(batch).map_err(BatchError::Other)
    })
    .map_err(|error| match error {
        BatchError::Load(error) => load_error(path, error.into()),
        BatchError::Other(error) => error,
    })
}

/// Accumulates the diff over the folder's CSV, each batch evaluated on the worker threads.
pub(crate) fn accumulate_csv(inputs: &Inputs, accumulator: &mut domo_pdp::DiffAccumulator<'_>) -> anyhow::Result<()> {
    let path = &inputs.paths.data;
    let reader = open_with_progress(path)?;
    match accumulator.add_csv(reader, batch_options(inputs)) {
        Ok(_) => Ok(()),
        Err(domo_pdp::DiffCsvError::Load(error)) => Err(load_error(path, error.into())),
        Err(error) => Err(error.into()),
    }
}
