//! Policy unit tests: checking the cases of a test file (`PolicyTestFile`) against an evaluation.

use domo_model::{Dataset, Directory, Policy, PolicyTestCase, PolicyTestFile, PolicyType, RowSelector, UserId};

use crate::compile::{PolicyHandle, PolicySet, Reason};
use crate::eval::Evaluation;
use crate::rowset::RowSet;

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
    file.cases.iter().enumerate().map(|(index, case)| run_case(index + 1, case, dataset, evaluation)).collect()
}

fn run_case(
    number: usize,
    case: &PolicyTestCase,
    dataset: &Dataset,
    evaluation: &Evaluation<'_>,
) -> Result<CaseOutcome, PolicyTestError> {
    let fail = |problem: String| PolicyTestError { number, name: case.name.clone(), problem };
    let rows = evaluation.table().row_count();
    let set = evaluation.policy_set();

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
        let hidden = rows_only_privileged(evaluation);
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
    }

    let Some(user) = case.user else {
        return Err(fail("say which `user` the case is about".to_owned()));
    };
    if set.directory().user(user).is_none() {
        return Err(fail(format!("user {user} is not in the directory")));
    }
    let seen = evaluation.visible_rows(user);
    let visible = seen.len();
    let selector = case.sees.as_ref().or(case.sees_exactly.as_ref()).or(case.does_not_see.as_ref());
    let selected = match selector {
        Some(selector) => Some(select(selector, dataset, evaluation).map_err(fail)?),
        None => None,
    };
    let selected_rows: Vec<usize> = selected.as_ref().map(|s| s.iter().collect()).unwrap_or_default();
    let (unexpected, missing): (Vec<usize>, Vec<usize>) = match expectation {
        Expectation::Sees => (Vec::new(), selected_rows.iter().copied().filter(|r| !seen.contains(*r)).collect()),
        Expectation::SeesExactly => {
            let wanted = selected.unwrap_or_else(|| RowSet::empty(rows));
            (
                seen.iter().filter(|r| !wanted.contains(*r)).collect(),
                wanted.iter().filter(|r| !seen.contains(*r)).collect(),
            )
        }
        Expectation::DoesNotSee => (selected_rows.iter().copied().filter(|r| seen.contains(*r)).collect(), Vec::new()),
        Expectation::SeesNothing => (seen.iter().collect(), Vec::new()),
        Expectation::SeesAll => (Vec::new(), (0..rows).filter(|r| !seen.contains(*r)).collect()),
        Expectation::Count | Expectation::EveryRowVisible => (Vec::new(), Vec::new()),
    };
    let passed = match expectation {
        Expectation::Count => case.count == Some(visible as u64),
        _ => unexpected.is_empty() && missing.is_empty(),
    };
    let reason = set.access(user).reason;
    let why = match reason {
        Reason::Owner => " (the owner)",
        Reason::Admin => " (an Admin)",
        Reason::RoleGrant => " (their role may manage the DataSet)",
        Reason::PdpDisabled => " (PDP is disabled)",
        Reason::AllRows => " (All Rows policy)",
        Reason::NoPolicy => " (in no policy)",
        Reason::Policies => "",
    };
    let selected_count = match selected_rows.len() {
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

/// The rows a selector names.
fn select(selector: &RowSelector, dataset: &Dataset, evaluation: &Evaluation<'_>) -> Result<RowSet, String> {
    let rows = evaluation.table().row_count();
    match selector {
        RowSelector::Rows(numbers) => {
            let mut indices = Vec::with_capacity(numbers.len());
            for &number in numbers {
                match usize::try_from(number).ok().and_then(|n| n.checked_sub(1)).filter(|r| *r < rows) {
                    Some(index) => indices.push(index),
                    None => {
                        return Err(format!(
                            "row {number} does not exist: rows are numbered from 1 (the header does not count) and there are {rows}"
                        ));
                    }
                }
            }
            indices.sort_unstable();
            indices.dedup();
            let sorted: Vec<u32> = indices.into_iter().filter_map(|i| u32::try_from(i).ok()).collect();
            Ok(RowSet::from_sorted(rows, sorted))
        }
        RowSelector::Where(filters) => {
            let probe = Policy {
                id: None,
                policy_type: PolicyType::User,
                name: "where".to_owned(),
                filters: filters.clone(),
                users: Vec::new(),
                virtual_users: Vec::new(),
                groups: Vec::new(),
            };
            let set =
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
                })?;
            let probe_evaluation = set.evaluate(evaluation.table()).map_err(|e| e.to_string())?;
            Ok(probe_evaluation
                .policy_rows(PolicyHandle::from_index(0))
                .cloned()
                .unwrap_or_else(|| RowSet::empty(rows)))
        }
    }
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
