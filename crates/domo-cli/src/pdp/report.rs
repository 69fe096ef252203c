//! `domo pdp report`: one self-contained HTML page for an access review of a DataSet folder.

mod html;

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use domo_model::{FilterOperator, PolicyFilter, UserId};
use domo_pdp::{Principal, Reason};

use super::matrix::{self, Matrix};
use crate::engine as common;
use crate::exit::Outcome;
use crate::folder::{InputArgs, Inputs, LimitArgs, read_policies};
use crate::output;

/// Options of `domo pdp report`.
#[derive(Debug, Args)]
pub(crate) struct ReportArgs {
    #[command(flatten)]
    pub(crate) input: InputArgs,
    #[command(flatten)]
    pub(crate) limits: LimitArgs,
    /// The HTML file to write (replaced whole, never left half-written).
    #[arg(long, value_name = "FILE")]
    pub(crate) out: PathBuf,
    /// Old policies (a policies.json file, or a folder holding one): adds the users who gain or lose rows.
    #[arg(long, value_name = "OLD")]
    pub(crate) against: Option<PathBuf>,
}

/// At most this many names are listed per policy's members, sole-grant users and the like: the
/// counts stay exact, and a page of 10,000 users and 2,000 policies stays small.
const NAMES_SHOWN: usize = 50;

/// Everything the page shows, computed before any HTML is written.
pub(crate) struct Review {
    pub(crate) dataset_name: String,
    pub(crate) dataset_id: String,
    pub(crate) pdp_on: bool,
    pub(crate) owner: String,
    /// Users who manage the DataSet and so see every row (Admins, role grants), as `name (id)`.
    pub(crate) admins: Vec<String>,
    pub(crate) policy_count: usize,
    pub(crate) matrix: Matrix,
    /// Lint findings: severity, kind, message.
    pub(crate) findings: Vec<(&'static str, &'static str, String)>,
    /// Users of the matrix who see no row, as `name (id)`.
    pub(crate) see_nothing: Vec<String>,
    /// What lint says about rows only the owner and Admins see, if anything.
    pub(crate) hidden_rows: Vec<String>,
    pub(crate) policies: Vec<PolicyReview>,
    /// With `--against`: users who gain or lose rows, gains first.
    pub(crate) changes: Option<Vec<ChangeReview>>,
}

pub(crate) struct PolicyReview {
    pub(crate) label: String,
    pub(crate) filters: String,
    /// `users`, then each group with its members, then virtual users: one line each.
    pub(crate) principals: Vec<String>,
    pub(crate) rows: usize,
    /// Users for whom this is the only policy that applies.
    pub(crate) sole: Vec<String>,
    pub(crate) sole_count: usize,
}

pub(crate) struct ChangeReview {
    pub(crate) user: String,
    pub(crate) before: usize,
    pub(crate) after: usize,
    pub(crate) gained: usize,
    pub(crate) lost: usize,
}

pub(crate) fn run(args: &ReportArgs) -> anyhow::Result<Outcome> {
    let inputs = Inputs::read_limited(&args.input, &args.limits)?;
    let set = common::compile(&inputs)?;
    // Every number streams from the file a batch at a time (memory does not grow with it): the counts
    // in one pass, lint's data findings in another, each policy's rows and the change in a third.
    let matrix = matrix::matrix_of(&inputs, &common::all_counts(&inputs, &set)?);
    let names = common::Names::new(&inputs.directory);
    let label = |user: UserId| match names.find(user) {
        Some(name) => format!("{name} ({user})"),
        None => format!("user {user} (not in the directory)"),
    };

    let lint = super::lint::lint_folder(&inputs, false, false)?.report;
    let findings = lint.findings.iter().map(|f| (f.severity.as_str(), f.kind(), f.to_string())).collect();
    let hidden_rows = lint
        .findings
        .iter()
        .filter(|f| f.code == domo_pdp::DiagnosticCode::RowsOnlyPrivileged)
        .map(|f| f.message.clone())
        .collect();
    let see_nothing = matrix
        .users
        .iter()
        .filter(|u| u.visible == 0)
        .map(|u| label(UserId(u.id)))
        .chain(matrix.virtual_users.iter().filter(|v| v.visible == 0).map(|v| format!("virtual user {}", v.name)))
        .collect();
    let admins = matrix
        .users
        .iter()
        .filter(|u| matches!(u.reason, "admin" | "role-grant"))
        .map(|u| label(UserId(u.id)))
        .collect();

    // Each policy's rows, and with --against who gains and loses rows, in one pass.
    let old_side = match &args.against {
        None => None,
        Some(against) => {
            let old_path = if against.is_dir() { against.join("policies.json") } else { against.clone() };
            let old_policies = read_policies(&old_path, inputs.limits.json_bytes)?;
            Some(common::compile_policies(&inputs, &old_policies, &old_path)?)
        }
    };
    let mut accumulator =
        old_side.as_ref().map(|old| domo_pdp::DiffAccumulator::new(old, &set, domo_pdp::DiffOptions::default()));
    let mut policy_rows = vec![0_usize; set.policies().len()];
    common::for_each_batch(&inputs, |batch| {
        let evaluation = set.evaluate(batch.table())?;
        for (index, rows) in policy_rows.iter_mut().enumerate() {
            *rows += evaluation.policy_rows(domo_pdp::PolicyHandle::from_index(index)).map_or(0, domo_pdp::RowSet::len);
        }
        if let Some(accumulator) = accumulator.as_mut() {
            accumulator.add_batch(batch.table())?;
        }
        Ok(())
    })?;
    let diff = accumulator.map(domo_pdp::DiffAccumulator::finish);

    // The users for whom each policy is the only one that applies.
    let mut sole: Vec<Vec<UserId>> = vec![Vec::new(); set.policies().len()];
    for user in &matrix.users {
        let access = set.access(Principal::User(UserId(user.id)));
        if access.reason == Reason::Policies
            && let [only] = access.policies.as_slice()
            && let Some(list) = sole.get_mut(only.policy.index())
        {
            list.push(UserId(user.id));
        }
    }
    let policies = set
        .policies()
        .iter()
        .enumerate()
        .map(|(index, policy)| {
            let source = policy.source();
            let mut principals = Vec::new();
            if !source.users.is_empty() {
                principals
                    .push(format!("users: {}", shown(source.users.iter().map(|&u| label(u)), source.users.len())));
            }
            for &group in &source.groups {
                let line = match inputs.directory.group(group) {
                    Some(g) => format!(
                        "group {} ({group}), {}: {}",
                        g.name,
                        output::count(g.user_ids.len(), "member", "members"),
                        shown(g.user_ids.iter().map(|&u| label(u)), g.user_ids.len())
                    ),
                    None => format!("group {group} (not in the directory): no members"),
                };
                principals.push(line);
            }
            if !source.virtual_users.is_empty() {
                principals.push(format!(
                    "virtual users: {}",
                    shown(source.virtual_users.iter().cloned(), source.virtual_users.len())
                ));
            }
            if principals.is_empty() {
                principals.push("nobody".to_owned());
            }
            let sole_users = sole.get(index).map_or(&[][..], Vec::as_slice);
            PolicyReview {
                label: common::policy_label(&set, index),
                filters: filters_words(&source.filters),
                principals,
                rows: policy_rows.get(index).copied().unwrap_or(0),
                sole: sole_users.iter().take(NAMES_SHOWN).map(|&u| label(u)).collect(),
                sole_count: sole_users.len(),
            }
        })
        .collect();

    let changes = match diff {
        None => None,
        Some(diff) => {
            let mut changes: Vec<ChangeReview> = diff
                .users
                .iter()
                .map(|u| ChangeReview {
                    user: label(u.user),
                    before: u.old_visible,
                    after: u.new_visible,
                    gained: u.gained.len(),
                    lost: u.lost.len(),
                })
                .chain(diff.virtual_users.iter().map(|v| ChangeReview {
                    user: format!("virtual user {}", v.name),
                    before: v.old_visible,
                    after: v.new_visible,
                    gained: v.gained.len(),
                    lost: v.lost.len(),
                }))
                .collect();
            changes.sort_by_key(|c| (c.gained == 0, std::cmp::Reverse(c.gained), std::cmp::Reverse(c.lost)));
            Some(changes)
        }
    };

    let review = Review {
        dataset_name: inputs.dataset.name.clone(),
        dataset_id: inputs.dataset.id.to_string(),
        pdp_on: set.mode() == domo_pdp::PdpMode::Enabled,
        owner: inputs.dataset.owner.as_ref().map_or_else(|| "(none)".to_owned(), |o| label(o.id)),
        admins,
        policy_count: set.policies().len(),
        matrix,
        findings,
        see_nothing,
        hidden_rows,
        policies,
        changes,
    };
    let page = html::page(&review);
    output::text_file(&args.out, page.as_bytes())
        .with_context(|| format!("cannot write the report to `{}`", args.out.display()))?;
    output::note(format!(
        "wrote `{}`: {}, {}, {} ({})",
        args.out.display(),
        output::count(review.matrix.rows, "row", "rows"),
        output::count(review.matrix.users.len() + review.matrix.virtual_users.len(), "user", "users"),
        output::count(review.policy_count, "policy", "policies"),
        output::count(page.len(), "byte", "bytes"),
    ));
    Ok(Outcome::Ok)
}

/// `Ada (31), Sophie (35) and 48 more`: at most [`NAMES_SHOWN`] names of `total`.
fn shown(names: impl Iterator<Item = String>, total: usize) -> String {
    let mut list: Vec<String> = names.take(NAMES_SHOWN).collect();
    if total > list.len() {
        list.push(format!("and {} more", total - list.len()));
    }
    list.join(", ")
}

/// A policy's filters in words: `Attending is TRUE and Region is not one of East, West`.
fn filters_words(filters: &[PolicyFilter]) -> String {
    if filters.is_empty() {
        return "every row (no filters)".to_owned();
    }
    let words: Vec<String> = filters
        .iter()
        .map(|f| {
            let not = if f.not { "not " } else { "" };
            // `matches` or `does not match`.
            let verb = |does: &str, plain: &str| if f.not { format!("does not {does}") } else { plain.to_owned() };
            let values = |joiner: &str| f.values.join(joiner);
            let many = f.values.len() > 1;
            match f.operator {
                FilterOperator::Equals if many => format!("{} is {not}one of {}", f.column, values(", ")),
                FilterOperator::Equals => format!("{} is {not}{}", f.column, values("")),
                FilterOperator::Like => format!("{} {} {}", f.column, verb("match", "matches"), values(" or ")),
                FilterOperator::GreaterThan => format!("{} is {not}greater than {}", f.column, values(", ")),
                FilterOperator::LessThan => format!("{} is {not}less than {}", f.column, values(", ")),
                FilterOperator::GreaterThanEqual => format!("{} is {not}at least {}", f.column, values(", ")),
                FilterOperator::LessThanEqual => format!("{} is {not}at most {}", f.column, values(", ")),
                FilterOperator::Between => format!("{} is {not}between {}", f.column, values(" and ")),
                FilterOperator::BeginsWith => {
                    format!("{} {} {}", f.column, verb("begin with", "begins with"), values(" or "))
                }
                FilterOperator::EndsWith => {
                    format!("{} {} {}", f.column, verb("end with", "ends with"), values(" or "))
                }
                FilterOperator::Contains => format!("{} {} {}", f.column, verb("contain", "contains"), values(" or ")),
            }
        })
        .collect();
    words.join(" and ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks a policy's filters, written as `column OPERATOR [NOT] value|value`, read in words.
    #[track_caller]
    fn check(filters: &[(&str, FilterOperator, bool, &[&str])], words: &str) {
        let filters: Vec<PolicyFilter> = filters
            .iter()
            .map(|(column, operator, not, values)| PolicyFilter {
                column: (*column).to_owned(),
                values: values.iter().map(|v| (*v).to_owned()).collect(),
                operator: *operator,
                not: *not,
            })
            .collect();
        assert_eq!(filters_words(&filters), words);
    }

    #[test]
    fn filters_read_in_words() {
        use FilterOperator::*;
        check(&[], "every row (no filters)");
        check(&[("Attending", Equals, false, &["TRUE"])], "Attending is TRUE");
        check(&[("Region", Equals, true, &["East", "West"])], "Region is not one of East, West");
        check(&[("Amount", Between, false, &["1", "9"])], "Amount is between 1 and 9");
        check(&[("Name", Like, false, &["A%"])], "Name matches A%");
        check(&[("Name", Contains, false, &["x"])], "Name contains x");
        check(&[("Name", BeginsWith, true, &["A", "B"])], "Name does not begin with A or B");
        check(
            &[("Amount", GreaterThanEqual, false, &["5"]), ("Amount", LessThan, false, &["9"])],
            "Amount is at least 5 and Amount is less than 9",
        );
    }

    #[test]
    fn long_lists_of_names_say_how_many_more() {
        let names = (0..60).map(|i| format!("u{i}"));
        let text = shown(names, 60);
        assert!(text.starts_with("u0, u1, "));
        assert!(text.ends_with("u49, and 10 more"), "{text}");
    }
}
