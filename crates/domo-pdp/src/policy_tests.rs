//! Policy unit tests: checking the cases of a test file (`PolicyTestFile`) against an evaluation.

use std::io::Read;

use domo_model::{Dataset, Directory, Policy, PolicyTestCase, PolicyTestFile, PolicyType, RowSelector, UserId};

use crate::compile::{PolicyHandle, PolicySet, Reason};
use crate::eval::{Evaluation, Parallel};
use crate::rowset::RowSet;
use crate::table::{BatchOptions, LoadCsvError, Table};

/// A test case that cannot be checked: it is written wrong (not: it failed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("case {number}{}: {problem}", name.as_ref().map(|n| format!(" `{n}`")).unwrap_or_default())]
pub struct PolicyTestError {
    /// The case's 1-based position in the file.
    pub number: usize,
    /// The case's name, if it has one.
    pub name: Option<String>,
    /// What is wrong with it.
    pub problem: String,
}

/// What a case claims, once its fields are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expectation {
    /// `sees`: at least these rows.
    Sees,
    /// `seesExactly`: these rows and no others.
    SeesExactly,
    /// `doesNotSee`: none of these rows.
    DoesNotSee,
    /// `seesNothing`: no row.
    SeesNothing,
    /// `seesAll`: every row.
    SeesAll,
    /// `count`: exactly this many rows.
    Count,
    /// `everyRowVisible`: each row is seen by someone besides the owner and Admins.
    EveryRowVisible,
}

/// The outcome of one case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseOutcome {
    /// The case's 1-based position in the file.
    pub number: usize,
    /// The case's name, if it has one.
    pub name: Option<String>,
    /// The user the case is about, if one.
    pub user: Option<UserId>,
    /// What it claims.
    pub expectation: Expectation,
    /// Whether the claim holds.
    pub passed: bool,
    /// Rows (0-based) the user sees that the case says they should not (for
    /// `everyRowVisible`: the rows no one but the owner and Admins sees).
    pub unexpected: Vec<usize>,
    /// Rows (0-based) the case says the user sees but they do not.
    pub missing: Vec<usize>,
    /// How many rows the user sees.
    pub visible: usize,
    /// What the case expected and what happened, in words.
    pub summary: String,
}

/// Runs every case of a test file against an evaluation, in order.
///
/// `dataset` is the DataSet the evaluation's policies were compiled for; it is
/// used to compile the `where` filters of cases with the same rules as policies.
///
/// # Errors
///
/// The first case that is written wrong: no expectation or more than one, a
/// missing or unknown user, a `where` filter that does not compile, a row
/// number out of range, `seesNothing: false`.
pub fn run_policy_tests(
    file: &PolicyTestFile,
    dataset: &Dataset,
    evaluation: &Evaluation<'_>,
) -> Result<Vec<CaseOutcome>, PolicyTestError> {
    let set = evaluation.policy_set();
    let prepared: Vec<Result<Prepared<'_>, PolicyTestError>> =
        file.cases.iter().enumerate().map(|(index, case)| prepare(index + 1, case, dataset, set)).collect();
    let runnable: Vec<&Prepared<'_>> = prepared.iter().filter_map(|p| p.as_ref().ok()).collect();
    let mut tallies = tally_batch(&runnable, evaluation, 0);
    finish(prepared, &mut tallies, evaluation.table().row_count())
}

/// Why policy tests over a streamed CSV could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyTestCsvError {
    /// The CSV is not valid for the schema.
    #[error(transparent)]
    Load(#[from] LoadCsvError),
    /// A case is written wrong.
    #[error(transparent)]
    Case(#[from] PolicyTestError),
}

/// [`run_policy_tests`] over CSV read a batch of rows at a time (`options`), without holding the
/// table: the same outcomes, in memory that grows with the rows the outcomes list, not the file.
///
/// # Errors
///
/// The CSV's first problem, else the first case written wrong (as [`run_policy_tests`]).
pub fn run_policy_tests_csv<R: Read>(
    file: &PolicyTestFile,
    dataset: &Dataset,
    set: &PolicySet,
    reader: R,
    options: BatchOptions,
) -> Result<Vec<CaseOutcome>, PolicyTestCsvError> {
    let prepared: Vec<Result<Prepared<'_>, PolicyTestError>> =
        file.cases.iter().enumerate().map(|(index, case)| prepare(index + 1, case, dataset, set)).collect();
    let runnable: Vec<&Prepared<'_>> = prepared.iter().filter_map(|p| p.as_ref().ok()).collect();
    let mut tallies: Vec<Tally> = runnable.iter().map(|_| Tally::default()).collect();
    let rows = Table::map_batches(
        reader,
        &set.schema,
        options,
        |batch| {
            let evaluation = set.evaluate_on(batch.table(), Parallel::No);
            Ok::<_, LoadCsvError>(tally_batch(&runnable, &evaluation, batch.first_row()))
        },
        |batch_tallies| {
            for (tally, batch) in tallies.iter_mut().zip(batch_tallies) {
                tally.add(batch);
            }
            Ok(())
        },
    )?;
    let rows = usize::try_from(rows).unwrap_or(usize::MAX);
    Ok(finish(prepared, &mut tallies, rows)?)
}

/// The rows a case selects, before any row is read.
enum Selection {
    None,
    /// Row numbers as written (1-based), sorted, each once.
    Rows(Vec<u64>),
    /// The `where` filters, compiled as a policy.
    Where(Box<PolicySet>),
}

/// A case checked for shape, ready to meet the rows.
struct Prepared<'a> {
    number: usize,
    case: &'a PolicyTestCase,
    expectation: Expectation,
    /// The user (all but `everyRowVisible`).
    user: Option<UserId>,
    /// Why the user sees what they see, as the summary's ending.
    why: &'static str,
    selection: Selection,
}

/// What the rows of one batch, or of all batches so far, say about a case.
#[derive(Debug, Default)]
struct Tally {
    visible: usize,
    selected: usize,
    unexpected: Vec<usize>,
    missing: Vec<usize>,
}

impl Tally {
    fn add(&mut self, batch: Tally) {
        self.visible += batch.visible;
        self.selected += batch.selected;
        self.unexpected.extend(batch.unexpected);
        self.missing.extend(batch.missing);
    }
}

/// Checks a case's fields: everything that does not need the rows.
fn prepare<'a>(
    number: usize,
    case: &'a PolicyTestCase,
    dataset: &Dataset,
    set: &PolicySet,
) -> Result<Prepared<'a>, PolicyTestError> {
    let fail = |problem: String| PolicyTestError { number, name: case.name.clone(), problem };

    let mut given: Vec<(Expectation, &'static str)> = Vec::new();
    if case.sees.is_some() {
        given.push((Expectation::Sees, "sees"));
    }
    if case.sees_exactly.is_some() {
        given.push((Expectation::SeesExactly, "seesExactly"));
    }
    if case.does_not_see.is_some() {
        given.push((Expectation::DoesNotSee, "doesNotSee"));
    }
    if case.sees_nothing.is_some() {
        given.push((Expectation::SeesNothing, "seesNothing"));
    }
    if case.sees_all.is_some() {
        given.push((Expectation::SeesAll, "seesAll"));
    }
    if case.count.is_some() {
        given.push((Expectation::Count, "count"));
    }
    if case.every_row_visible.is_some() {
        given.push((Expectation::EveryRowVisible, "everyRowVisible"));
    }
    const CHOICES: &str = "`sees`, `seesExactly`, `doesNotSee`, `seesNothing`, `seesAll`, `count` or `everyRowVisible`";
    let expectation = match given.as_slice() {
        [(one, _)] => *one,
        [] => return Err(fail(format!("give one expectation: {CHOICES}"))),
        many => {
            let names: Vec<String> = many.iter().map(|(_, n)| format!("`{n}`")).collect();
            return Err(fail(format!("give one expectation per case, found {}", names.join(", "))));
        }
    };
    for (flag, name) in
        [(case.sees_nothing, "seesNothing"), (case.sees_all, "seesAll"), (case.every_row_visible, "everyRowVisible")]
    {
        if flag == Some(false) {
            return Err(fail(format!("`{name}` takes `true`; to claim the opposite use `sees` or `count`")));
        }
    }

    if expectation == Expectation::EveryRowVisible {
        if case.user.is_some() {
            return Err(fail("`everyRowVisible` is about all users; leave out `user`".to_owned()));
        }
        return Ok(Prepared { number, case, expectation, user: None, why: "", selection: Selection::None });
    }

    let Some(user) = case.user else {
        return Err(fail("say which `user` the case is about".to_owned()));
    };
    if set.directory().user(user).is_none() {
        return Err(fail(format!("user {user} is not in the directory")));
    }
    let selector = case.sees.as_ref().or(case.sees_exactly.as_ref()).or(case.does_not_see.as_ref());
    let selection = match selector {
        None => Selection::None,
        Some(RowSelector::Rows(numbers)) => {
            let mut numbers = numbers.clone();
            numbers.sort_unstable();
            numbers.dedup();
            Selection::Rows(numbers)
        }
        Some(RowSelector::Where(_)) if dataset.schema.columns != set.schema.columns => {
            return Err(fail("the table's schema does not match the DataSet's".to_owned()));
        }
        Some(RowSelector::Where(filters)) => Selection::Where(Box::new(compile_where(filters, dataset).map_err(fail)?)),
    };
    let why = match set.access(user).reason {
        Reason::Owner => " (the owner)",
        Reason::Admin => " (an Admin)",
        Reason::RoleGrant => " (their role may manage the DataSet)",
        Reason::PdpDisabled => " (PDP is disabled)",
        Reason::AllRows => " (All Rows policy)",
        Reason::NoPolicy => " (in no policy)",
        Reason::Policies => "",
    };
    Ok(Prepared { number, case, expectation, user: Some(user), why, selection })
}

/// A `where` selector's filters compiled as a policy, with the rules of policies.
fn compile_where(filters: &[domo_model::PolicyFilter], dataset: &Dataset) -> Result<PolicySet, String> {
    let probe = Policy {
        id: None,
        policy_type: PolicyType::User,
        name: "where".to_owned(),
        filters: filters.to_vec(),
        users: Vec::new(),
        virtual_users: Vec::new(),
        groups: Vec::new(),
    };
    PolicySet::compile(dataset, std::slice::from_ref(&probe), &Directory::default()).map_err(|err| {
        let messages: Vec<String> = err
            .errors
            .iter()
            .map(|d| match d.filter_index {
                Some(filter) => format!("`where` filters[{filter}]: {}", d.message),
                None => d.message.clone(),
            })
            .collect();
        messages.join("; ")
    })
}

/// Each runnable case's tally over one batch whose first row is `first_row` in the whole table.
fn tally_batch(cases: &[&Prepared<'_>], evaluation: &Evaluation<'_>, first_row: usize) -> Vec<Tally> {
    let rows = evaluation.table().row_count();
    let global = |rows: Vec<usize>| -> Vec<usize> { rows.into_iter().map(|r| r + first_row).collect() };
    cases
        .iter()
        .map(|case| {
            let Some(user) = case.user else {
                return Tally { unexpected: global(rows_only_privileged(evaluation)), ..Tally::default() };
            };
            let seen = evaluation.visible_rows(user);
            let selected: Option<RowSet> = match &case.selection {
                Selection::None => None,
                Selection::Rows(numbers) => {
                    // 1-based numbers in the whole table to 0-based rows of this batch.
                    let local: Vec<u32> = numbers
                        .iter()
                        .filter_map(|&n| usize::try_from(n).ok()?.checked_sub(1)?.checked_sub(first_row))
                        .filter(|&r| r < rows)
                        .filter_map(|r| u32::try_from(r).ok())
                        .collect();
                    Some(RowSet::from_sorted(rows, local))
                }
                Selection::Where(probe) => Some(
                    probe
                        .evaluate_on(evaluation.table(), Parallel::No)
                        .policy_rows(PolicyHandle::from_index(0))
                        .cloned()
                        .unwrap_or_else(|| RowSet::empty(rows)),
                ),
            };
            let selected_rows: Vec<usize> = selected.as_ref().map(|s| s.iter().collect()).unwrap_or_default();
            let (unexpected, missing): (Vec<usize>, Vec<usize>) = match case.expectation {
                Expectation::Sees => {
                    (Vec::new(), selected_rows.iter().copied().filter(|r| !seen.contains(*r)).collect())
                }
                Expectation::SeesExactly => {
                    let wanted = selected.unwrap_or_else(|| RowSet::empty(rows));
                    (
                        seen.iter().filter(|r| !wanted.contains(*r)).collect(),
                        wanted.iter().filter(|r| !seen.contains(*r)).collect(),
                    )
                }
                Expectation::DoesNotSee => {
                    (selected_rows.iter().copied().filter(|r| seen.contains(*r)).collect(), Vec::new())
                }
                Expectation::SeesNothing => (seen.iter().collect(), Vec::new()),
                Expectation::SeesAll => (Vec::new(), (0..rows).filter(|r| !seen.contains(*r)).collect()),
                Expectation::Count | Expectation::EveryRowVisible => (Vec::new(), Vec::new()),
            };
            Tally {
                visible: seen.len(),
                selected: selected_rows.len(),
                unexpected: global(unexpected),
                missing: global(missing),
            }
        })
        .collect()
}

/// Each case's outcome from its tally over all `rows` rows; the first case written wrong, in
/// file order, is the error.
fn finish(
    prepared: Vec<Result<Prepared<'_>, PolicyTestError>>,
    tallies: &mut [Tally],
    rows: usize,
) -> Result<Vec<CaseOutcome>, PolicyTestError> {
    let mut tallies = tallies.iter_mut();
    let mut outcomes = Vec::with_capacity(prepared.len());
    for case in prepared {
        let case = case?;
        let tally = std::mem::take(tallies.next().ok_or_else(|| PolicyTestError {
            number: case.number,
            name: case.case.name.clone(),
            problem: "the case was not run".to_owned(),
        })?);
        outcomes.push(outcome(case, tally, rows)?);
    }
    Ok(outcomes)
}

/// A case's outcome, its tally being over all `rows` rows.
fn outcome(case: Prepared<'_>, tally: Tally, rows: usize) -> Result<CaseOutcome, PolicyTestError> {
    let Prepared { number, case, expectation, user, why, selection } = case;
    let fail = |problem: String| PolicyTestError { number, name: case.name.clone(), problem };
    let Some(user) = user else {
        let hidden = tally.unexpected;
        let passed = hidden.is_empty();
        let summary = if passed {
            format!("all {rows} rows are visible to someone besides the owner and Admins")
        } else {
            format!("{} of {rows} rows are visible to no one but the owner and Admins", hidden.len())
        };
        return Ok(CaseOutcome {
            number,
            name: case.name.clone(),
            user: None,
            expectation,
            passed,
            unexpected: hidden,
            missing: Vec::new(),
            visible: 0,
            summary,
        });
    };
    if let Selection::Rows(numbers) = &selection
        && let Some(&number) =
            numbers.iter().find(|&&n| usize::try_from(n).ok().and_then(|n| n.checked_sub(1)).is_none_or(|r| r >= rows))
    {
        return Err(fail(format!(
            "row {number} does not exist: rows are numbered from 1 (the header does not count) and there are {rows}"
        )));
    }
    let Tally { visible, selected, unexpected, missing } = tally;
    let passed = match expectation {
        Expectation::Count => case.count == Some(visible as u64),
        _ => unexpected.is_empty() && missing.is_empty(),
    };
    let selected_count = match selected {
        1 => "the 1 selected row".to_owned(),
        n => format!("the {n} selected rows"),
    };
    let expected = match expectation {
        Expectation::Sees => format!("at least {selected_count}"),
        Expectation::SeesExactly => format!("exactly {selected_count}"),
        Expectation::DoesNotSee => format!("none of {selected_count}"),
        Expectation::SeesNothing => "no row".to_owned(),
        Expectation::SeesAll => format!("all {rows} rows"),
        Expectation::Count => format!("{} rows", case.count.unwrap_or_default()),
        Expectation::EveryRowVisible => String::new(),
    };
    let summary = format!("expected {expected}; user {user} sees {visible} of {rows} rows{why}");
    Ok(CaseOutcome {
        number,
        name: case.name.clone(),
        user: Some(user),
        expectation,
        passed,
        unexpected,
        missing,
        visible,
        summary,
    })
}

/// Rows that no directory user sees except through being the owner or an Admin.
pub(crate) fn rows_only_privileged(evaluation: &Evaluation<'_>) -> Vec<usize> {
    let set = evaluation.policy_set();
    let rows = evaluation.table().row_count();
    let mut policies: Vec<usize> = Vec::new();
    for user in &set.directory().users {
        let access = set.access(user.id);
        match access.reason {
            Reason::Owner | Reason::Admin | Reason::RoleGrant | Reason::NoPolicy => {}
            Reason::PdpDisabled | Reason::AllRows => return Vec::new(),
            Reason::Policies => policies.extend(access.policies.iter().map(|m| m.policy.index())),
        }
    }
    policies.sort_unstable();
    policies.dedup();
    let union =
        RowSet::union(rows, policies.iter().filter_map(|p| evaluation.policy_rows(PolicyHandle::from_index(*p))));
    (0..rows).filter(|r| !union.contains(*r)).collect()
}
