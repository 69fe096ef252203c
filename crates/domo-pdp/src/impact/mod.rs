//! Change impact for every possible row: who can see a row under the new policies that the old ones hide, with a witness row.
//!
//! The procedure, the fragment it decides and its limits are in `docs/impact.md`.

mod ordered;
mod search;
mod text;

use std::fmt;
use std::fmt::Write as _;

use domo_model::UserId;
use hashbrown::HashMap;
use rust_decimal::Decimal;

use crate::compile::{Access, PolicySet, Principal, Reason};
use crate::diff::{PolicyChange, policy_changes};
use crate::filter::CompiledFilter;
use crate::lint::PolicyRef;
use crate::table::{Cell, Datetime, HeaderRow, Table};
use search::{Found, Solver};

/// Limits of the search; past them an answer is [`Answer::Unknown`], never a guess.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImpactOptions {
    /// Branches of the search per question (one new policy against a user's old policies).
    pub branch_budget: usize,
    /// States of the STRING search per column and combination of filters.
    pub string_budget: usize,
    /// Branches for the whole run, so that many hard questions end in bounded time.
    pub total_budget: usize,
}

impl Default for ImpactOptions {
    fn default() -> Self {
        Self { branch_budget: 20_000, string_budget: 20_000, total_budget: 2_000_000 }
    }
}

/// A candidate cell, typed as the engine holds it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cand {
    Null,
    Str(String),
    Long(i64),
    Double(f64),
    Decimal(Decimal),
    Date(i32),
    Datetime(i128),
}

impl Cand {
    pub(crate) fn cell(&self) -> Cell<'_> {
        match self {
            Cand::Null => Cell::Null,
            Cand::Str(s) => Cell::Str(s),
            Cand::Long(v) => Cell::Long(*v),
            Cand::Double(v) => Cell::Double(*v),
            Cand::Decimal(v) => Cell::Decimal(*v),
            Cand::Date(v) => Cell::Date(*v),
            Cand::Datetime(v) => Cell::Datetime(*v),
        }
    }

    /// The cell as text that the loader reads back as the same value; `None` for NULL.
    fn text(&self) -> Option<String> {
        Some(match self {
            Cand::Null => return None,
            Cand::Str(s) => s.clone(),
            Cand::Long(v) => v.to_string(),
            Cand::Double(v) => format!("{v:?}"),
            Cand::Decimal(v) => v.to_string(),
            Cand::Date(days) => {
                let (y, m, d) = crate::parse::civil_from_days(i64::from(*days));
                format!("{y:04}-{m:02}-{d:02}")
            }
            Cand::Datetime(nanos) => datetime_text(*nanos),
        })
    }
}

/// A DATETIME in UTC when its UTC date has four digits, else with the offset that brings it into range.
fn datetime_text(nanos: i128) -> String {
    const DAY: i128 = 86_400 * 1_000_000_000;
    const OFFSET: i128 = (23 * 3600 + 59 * 60) * 1_000_000_000;
    let (first, last) = ordered::date_domain();
    let local = |shift: i128, zone: &str| {
        let text = Datetime::from_nanosecond(nanos + shift).to_string();
        format!("{}{zone}", text.trim_end_matches('Z'))
    };
    if nanos < first * DAY {
        local(OFFSET, "+23:59")
    } else if nanos >= (last + 1) * DAY {
        local(-OFFSET, "-23:59")
    } else {
        Datetime::from_nanosecond(nanos).to_string()
    }
}

/// Per-column answer of the column solvers.
#[derive(Debug, Clone)]
pub(crate) enum ColumnAnswer {
    Sat(Cand),
    Unsat,
    Unknown(String),
}

/// One cell of a witness row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WitnessCell {
    /// The column's name.
    pub column: String,
    /// The cell as CSV text (read back by the loader as the same value), or `None` for NULL.
    pub value: Option<String>,
}

/// What admits a witness row on the side that sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admitter {
    /// This policy (index, id, name in that side's policies).
    Policy(PolicyRef),
    /// The user sees every row on that side, for this reason (owner, Admin, PDP off, All Rows...).
    Everything(Reason),
}

impl fmt::Display for Admitter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Admitter::Policy(policy) => write!(f, "{policy}"),
            Admitter::Everything(reason) => write!(f, "every row ({reason})"),
        }
    }
}

/// A concrete row that one side admits and the other does not, checked with the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Witness {
    /// One cell per schema column, in schema order.
    pub cells: Vec<WitnessCell>,
    /// What admits the row on the side that sees it.
    pub admitted_by: Admitter,
}

impl Witness {
    /// The row as a CSV file with a header, ready for `domo pdp explain --data`.
    pub fn to_csv(&self) -> String {
        let mut out = String::new();
        let header: Vec<String> = self.cells.iter().map(|c| csv_field(Some(&c.column))).collect();
        let _ = writeln!(out, "{}", header.join(","));
        let row: Vec<String> = self.cells.iter().map(|c| csv_field(c.value.as_deref())).collect();
        let _ = writeln!(out, "{}", row.join(","));
        out
    }
}

impl fmt::Display for Witness {
    /// `Region=`E`, Amount=NULL`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for cell in &self.cells {
            if !first {
                f.write_str(", ")?;
            }
            first = false;
            match &cell.value {
                Some(v) => write!(f, "{}=`{v}`", cell.column)?,
                None => write!(f, "{}=NULL", cell.column)?,
            }
        }
        Ok(())
    }
}

/// A field quoted when it is text; NULL is the unquoted empty field.
fn csv_field(text: Option<&str>) -> String {
    match text {
        None => String::new(),
        Some(t) => format!("\"{}\"", t.replace('"', "\"\"")),
    }
}

/// The answer to "is there a row that one side admits and the other does not".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// No possible row: proven.
    No,
    /// This row, checked with the engine.
    Yes(Witness),
    /// Not decided, and why (a budget, or a value the procedure could not construct).
    Unknown(String),
}

impl Answer {
    /// The witness, if proven.
    pub fn witness(&self) -> Option<&Witness> {
        match self {
            Answer::Yes(w) => Some(w),
            _ => None,
        }
    }
}

/// Whose access an impact is about: a directory user, or a virtual user named by a policy.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Subject {
    /// A user of the directory.
    User(UserId),
    /// A virtual user, by the name the policies give in `virtualUsers`.
    Virtual(String),
}

impl fmt::Display for Subject {
    /// `user 27`, or `virtual user `kiosk``.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Subject::User(id) => write!(f, "user {id}"),
            Subject::Virtual(name) => write!(f, "virtual user `{name}`"),
        }
    }
}

/// One user's change, over every possible row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserImpact {
    /// The user (or virtual user).
    pub subject: Subject,
    /// Why they saw their rows under the old policies.
    pub old_reason: Reason,
    /// Why they see their rows under the new policies.
    pub new_reason: Reason,
    /// Whether some row is admitted by the new policies and not the old ones.
    pub gains: Answer,
    /// Whether some row is admitted by the old policies and not the new ones.
    pub loses: Answer,
}

/// The summary of a [`UserImpact`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verdict {
    /// The user's access is the same for every possible row (both directions proven).
    Same,
    /// Proven to gain some row (and proven to lose none).
    Gains,
    /// Proven to lose some row (and proven to gain none).
    Loses,
    /// Proven to gain a row and to lose another.
    GainsAndLoses,
    /// Some direction is not decided.
    Unknown,
}

impl Verdict {
    /// `same`, `gains`, `loses`, `gains-and-loses` or `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Same => "same",
            Verdict::Gains => "gains",
            Verdict::Loses => "loses",
            Verdict::GainsAndLoses => "gains-and-loses",
            Verdict::Unknown => "unknown",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl UserImpact {
    /// The verdict. A proven gain wins over an unknown loss: it is what a gate acts on.
    pub fn verdict(&self) -> Verdict {
        match (&self.gains, &self.loses) {
            (Answer::No, Answer::No) => Verdict::Same,
            (Answer::Yes(_), Answer::No) => Verdict::Gains,
            (Answer::No, Answer::Yes(_)) => Verdict::Loses,
            (Answer::Yes(_), Answer::Yes(_)) => Verdict::GainsAndLoses,
            (Answer::Yes(_), Answer::Unknown(_)) => Verdict::Gains,
            _ => Verdict::Unknown,
        }
    }
}

/// The for-any-row impact of a change: every directory user's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ImpactReport {
    /// Policies added, removed or changed, old order first, then the new ones (as [`crate::PolicyDiff`] lists them).
    pub policies: Vec<PolicyChange>,
    /// Every user of the new policy set's directory, in directory order, then every virtual user
    /// named by either policy set, by name.
    pub users: Vec<UserImpact>,
    /// Distinct questions solved (users with equal policy sets share one).
    pub classes: usize,
}

impl ImpactReport {
    /// The impact on one directory user.
    pub fn user(&self, user: UserId) -> Option<&UserImpact> {
        self.users.iter().find(|u| u.subject == Subject::User(user))
    }

    /// Users whose verdict is not [`Verdict::Same`].
    pub fn changed(&self) -> impl Iterator<Item = &UserImpact> {
        self.users.iter().filter(|u| u.verdict() != Verdict::Same)
    }

    /// Whether some user is proven to gain a row.
    pub fn grants_new_access(&self) -> bool {
        self.users.iter().any(|u| matches!(u.gains, Answer::Yes(_)))
    }

    /// Whether some user's gain is not decided.
    pub fn gain_unknown(&self) -> bool {
        self.users.iter().any(|u| matches!(u.gains, Answer::Unknown(_)))
    }
}

/// The two policy sets do not share a schema, so rows cannot be compared.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the old and new policies are compiled against different schemas: {detail}")]
pub struct ImpactError {
    /// What differs.
    pub detail: String,
}

/// What decides a user's rows on one side: every row, or a set of distinct policy bodies.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Side {
    Everything,
    Bodies(Vec<usize>),
}

/// Policy bodies (All Rows, or the filters as written) interned across both sets.
#[derive(Debug, Default)]
struct Bodies {
    ids: HashMap<String, usize>,
}

impl Bodies {
    fn of(&mut self, set: &PolicySet) -> Vec<usize> {
        set.policies()
            .iter()
            .map(|p| {
                let mut key = String::new();
                if p.all_rows || p.filters.is_empty() {
                    key.push('*');
                } else {
                    for f in &p.filters {
                        let _ = write!(
                            key,
                            "{}:{}|{}|{}|",
                            f.column,
                            f.filter.column.len(),
                            f.filter.column,
                            f.filter.operator
                        );
                        let _ = write!(key, "{}|", f.filter.not);
                        for v in &f.filter.values {
                            let _ = write!(key, "{}:{v}", v.len());
                        }
                        key.push(';');
                    }
                }
                let next = self.ids.len();
                *self.ids.entry(key).or_insert(next)
            })
            .collect()
    }
}

fn side(access: &Access, bodies: &[usize]) -> Side {
    if access.sees_everything() {
        return Side::Everything;
    }
    let mut ids: Vec<usize> = access.policies.iter().filter_map(|m| bodies.get(m.policy).copied()).collect();
    ids.sort_unstable();
    ids.dedup();
    Side::Bodies(ids)
}

/// A raw answer before it is tied to a user: the row and the body that admits it (`None`: everything).
#[derive(Debug, Clone)]
enum Raw {
    No,
    Yes(Vec<Cand>, Option<usize>),
    Unknown(String),
}

/// For every user of `new`'s directory and every virtual user either set names: does the change
/// let them see some possible row they could not see before, and does it hide one they could see? Each "yes" comes with a witness row,
/// checked by evaluating it with the engine under both policy sets.
///
/// # Errors
///
/// [`ImpactError`] when the two sets were compiled against different schemas.
pub fn impact(old: &PolicySet, new: &PolicySet, options: &ImpactOptions) -> Result<ImpactReport, ImpactError> {
    let columns = &new.schema().columns;
    if old.schema().columns != *columns {
        return Err(ImpactError { detail: schema_difference(old, new) });
    }
    let mut bodies = Bodies::default();
    let old_bodies = bodies.of(old);
    let new_bodies = bodies.of(new);
    // One representative filter list per body, from whichever set has it.
    let mut body_filters: HashMap<usize, Vec<&CompiledFilter>> = HashMap::new();
    for (set, ids) in [(old, &old_bodies), (new, &new_bodies)] {
        for (policy, id) in set.policies().iter().zip(ids.iter()) {
            body_filters
                .entry(*id)
                .or_insert_with(|| if policy.all_rows { Vec::new() } else { policy.filters.iter().collect() });
        }
    }
    let mut solver = Solver::new(columns, options);
    let mut memo: HashMap<(Side, Side), (Raw, Raw)> = HashMap::new();
    let mut pending = Vec::new();
    let mut virtual_names: Vec<&str> = old
        .policies()
        .iter()
        .chain(new.policies())
        .flat_map(|p| p.source().virtual_users.iter().map(String::as_str))
        .collect();
    virtual_names.sort_unstable();
    virtual_names.dedup();
    let subjects = new
        .directory()
        .users
        .iter()
        .map(|u| Subject::User(u.id))
        .chain(virtual_names.into_iter().map(|name| Subject::Virtual(name.to_owned())));
    for subject in subjects {
        let who = match &subject {
            Subject::User(id) => Principal::User(*id),
            Subject::Virtual(name) => Principal::Virtual(name),
        };
        let old_access = old.access(who);
        let new_access = new.access(who);
        let key = (side(&old_access, &old_bodies), side(&new_access, &new_bodies));
        let (gains, loses) = match memo.get(&key) {
            Some(answer) => answer.clone(),
            None => {
                let answer = (
                    question(&mut solver, &body_filters, &key.0, &key.1),
                    question(&mut solver, &body_filters, &key.1, &key.0),
                );
                memo.insert(key, answer.clone());
                answer
            }
        };
        pending.push((subject, old_access, new_access, gains, loses));
    }
    let classes = memo.len();
    let users = confirm(old, new, &old_bodies, &new_bodies, pending);
    let policies = policy_changes(
        &old.policies().iter().map(|p| p.source()).collect::<Vec<_>>(),
        &new.policies().iter().map(|p| p.source()).collect::<Vec<_>>(),
    );
    Ok(ImpactReport { policies, users, classes })
}

fn schema_difference(old: &PolicySet, new: &PolicySet) -> String {
    let text = |set: &PolicySet| {
        set.schema().columns.iter().map(|c| format!("{} {}", c.name, c.column_type)).collect::<Vec<_>>().join(", ")
    };
    format!("old `{}`, new `{}`", text(old), text(new))
}

/// Is there a row that `to` admits and `from` does not?
fn question<'a>(
    solver: &mut Solver<'a>,
    filters: &HashMap<usize, Vec<&'a CompiledFilter>>,
    from: &Side,
    to: &Side,
) -> Raw {
    let from_bodies = match from {
        Side::Everything => return Raw::No,
        Side::Bodies(ids) => ids,
    };
    let deny: Vec<&[&CompiledFilter]> =
        from_bodies.iter().map(|id| filters.get(id).map_or(&[][..], Vec::as_slice)).collect();
    let candidates: Vec<(Option<usize>, &[&CompiledFilter])> = match to {
        Side::Everything => vec![(None, &[][..])],
        Side::Bodies(ids) => ids
            .iter()
            .filter(|id| !from_bodies.contains(id))
            .map(|id| (Some(*id), filters.get(id).map_or(&[][..], Vec::as_slice)))
            .collect(),
    };
    let mut unknown = None;
    for (body, admit) in candidates {
        match solver.solve(admit, &deny) {
            Found::Row(row) => return Raw::Yes(row, body),
            Found::None => {}
            Found::Unknown(reason) => {
                unknown.get_or_insert(reason);
            }
        }
    }
    match unknown {
        Some(reason) => Raw::Unknown(reason),
        None => Raw::No,
    }
}

type Pending = (Subject, Access, Access, Raw, Raw);

/// Evaluates every witness row with the engine under both sets; a witness the engine does not
/// confirm becomes [`Answer::Unknown`].
fn confirm(
    old: &PolicySet,
    new: &PolicySet,
    old_bodies: &[usize],
    new_bodies: &[usize],
    pending: Vec<Pending>,
) -> Vec<UserImpact> {
    let columns = &new.schema().columns;
    // Distinct witness rows, as CSV lines.
    let mut lines: HashMap<String, usize> = HashMap::new();
    let mut csv = String::new();
    let header: Vec<String> = columns.iter().map(|c| csv_field(Some(&c.name))).collect();
    let _ = writeln!(csv, "{}", header.join(","));
    let mut line_of = |row: &[Cand]| -> usize {
        let line: Vec<String> = row.iter().map(|c| csv_field(c.text().as_deref())).collect();
        let line = line.join(",");
        let next = lines.len();
        *lines.entry(line.clone()).or_insert_with(|| {
            let _ = writeln!(csv, "{line}");
            next
        })
    };
    let mut rows_of: Vec<(Option<usize>, Option<usize>)> = Vec::with_capacity(pending.len());
    for (_, _, _, gains, loses) in &pending {
        let mut index = |raw: &Raw| match raw {
            Raw::Yes(row, _) => Some(line_of(row)),
            _ => None,
        };
        let g = index(gains);
        let l = index(loses);
        rows_of.push((g, l));
    }
    let table = Table::from_csv(csv.as_bytes(), &new.schema, HeaderRow::Present);
    let evaluations = table.as_ref().ok().and_then(|t| Some((old.evaluate(t).ok()?, new.evaluate(t).ok()?)));
    let mut users = Vec::with_capacity(pending.len());
    for ((subject, old_access, new_access, gains, loses), (g, l)) in pending.into_iter().zip(rows_of) {
        let cells = |row: &[Cand]| -> Vec<WitnessCell> {
            columns
                .iter()
                .zip(row)
                .map(|(c, cand)| WitnessCell { column: c.name.clone(), value: cand.text() })
                .collect()
        };
        let settle = |raw: Raw,
                      line: Option<usize>,
                      from: &Access,
                      to: &Access,
                      to_set: &PolicySet,
                      to_bodies: &[usize],
                      to_is_new: bool|
         -> Answer {
            match raw {
                Raw::No => Answer::No,
                Raw::Unknown(reason) => Answer::Unknown(reason),
                Raw::Yes(row, body) => {
                    let Some((old_eval, new_eval)) = &evaluations else {
                        return Answer::Unknown(
                            "the witness row could not be loaded by the engine (a bug; please report it)".to_owned(),
                        );
                    };
                    let (from_eval, to_eval) = if to_is_new { (old_eval, new_eval) } else { (new_eval, old_eval) };
                    let Some(line) = line else { return Answer::Unknown("internal: witness lost".to_owned()) };
                    let admitted_by = match body {
                        None => Admitter::Everything(to.reason),
                        Some(body) => {
                            let found = to.policies.iter().find(|m| {
                                to_bodies.get(m.policy) == Some(&body)
                                    && to_eval.policy_rows(m.policy).is_some_and(|r| r.contains(line))
                            });
                            match found.and_then(|m| to_set.policies().get(m.policy).map(|p| (m.policy, p))) {
                                Some((index, p)) => {
                                    Admitter::Policy(PolicyRef { index, id: p.id(), name: p.name().to_owned() })
                                }
                                None => {
                                    return Answer::Unknown(
                                        "the engine does not admit the witness row by the policy found (a bug; please report it)".to_owned(),
                                    );
                                }
                            }
                        }
                    };
                    let seen_to = to_eval.rows_for(to).contains(line);
                    let seen_from = from_eval.rows_for(from).contains(line);
                    if seen_to && !seen_from {
                        Answer::Yes(Witness { cells: cells(&row), admitted_by })
                    } else {
                        Answer::Unknown(
                            "the engine does not confirm the witness row (a bug; please report it)".to_owned(),
                        )
                    }
                }
            }
        };
        let gains = settle(gains, g, &old_access, &new_access, new, new_bodies, true);
        let loses = settle(loses, l, &new_access, &old_access, old, old_bodies, false);
        users.push(UserImpact { subject, old_reason: old_access.reason, new_reason: new_access.reason, gains, loses });
    }
    users
}

/// A finding of the for-any-row lint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProvenFinding {
    /// The policy admits no possible row (its filters contradict each other).
    NeverAdmits {
        /// The policy.
        policy: PolicyRef,
    },
    /// Every row the policy admits, another policy with the same principals admits too.
    Subsumed {
        /// The policy that adds nothing.
        policy: PolicyRef,
        /// The policy that covers it.
        by: PolicyRef,
    },
    /// The question was not decided within the budget.
    Unknown {
        /// The policy asked about.
        policy: PolicyRef,
        /// Why.
        reason: String,
    },
}

impl fmt::Display for ProvenFinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProvenFinding::NeverAdmits { policy } => {
                write!(f, "{policy} can never admit a row: its filters contradict each other for every possible row")
            }
            ProvenFinding::Subsumed { policy, by } => write!(
                f,
                "{policy} adds nothing: {by} has the same principals and admits every row it admits, whatever the data"
            ),
            ProvenFinding::Unknown { policy, reason } => write!(f, "{policy} could not be analysed: {reason}"),
        }
    }
}

/// A policy's users, groups and virtual users, sorted.
type Principals = (Vec<u64>, Vec<u64>, Vec<String>);

/// Lint findings that hold for every possible row: policies that can never admit a row, and
/// policies subsumed by another with the same users, groups and virtual users.
pub fn lint_for_any_row(set: &PolicySet, options: &ImpactOptions) -> Vec<ProvenFinding> {
    let mut solver = Solver::new(&set.schema().columns, options);
    let reference =
        |index: usize| set.policies().get(index).map(|p| PolicyRef { index, id: p.id(), name: p.name().to_owned() });
    let filters: Vec<Vec<&CompiledFilter>> =
        set.policies().iter().map(|p| if p.all_rows { Vec::new() } else { p.filters.iter().collect() }).collect();
    let mut findings = Vec::new();
    let mut empty = vec![false; filters.len()];
    for (index, admit) in filters.iter().enumerate() {
        let Some(policy) = reference(index) else { continue };
        match solver.solve(admit, &[]) {
            Found::None => {
                if let Some(e) = empty.get_mut(index) {
                    *e = true;
                }
                findings.push(ProvenFinding::NeverAdmits { policy });
            }
            Found::Row(_) => {}
            Found::Unknown(reason) => findings.push(ProvenFinding::Unknown { policy, reason }),
        }
    }
    // Same principals: same sorted users, groups and virtual users.
    let mut by_principals: HashMap<Principals, Vec<usize>> = HashMap::new();
    for (index, p) in set.policies().iter().enumerate() {
        let source = p.source();
        let mut users: Vec<u64> = source.users.iter().map(|u| u.get()).collect();
        let mut groups: Vec<u64> = source.groups.iter().map(|g| g.get()).collect();
        let mut virtuals = source.virtual_users.clone();
        users.sort_unstable();
        users.dedup();
        groups.sort_unstable();
        groups.dedup();
        virtuals.sort_unstable();
        virtuals.dedup();
        by_principals.entry((users, groups, virtuals)).or_default().push(index);
    }
    let mut groups: Vec<Vec<usize>> = by_principals.into_values().filter(|g| g.len() > 1).collect();
    groups.sort();
    for group in groups {
        for &p in &group {
            if empty.get(p).copied().unwrap_or(true) {
                continue;
            }
            for &q in &group {
                if p == q || empty.get(q).copied().unwrap_or(true) {
                    continue;
                }
                let (Some(admit), Some(deny)) = (filters.get(p), filters.get(q)) else { continue };
                // Two policies that cover each other: report only the later one.
                match solver.solve(admit, &[deny.as_slice()]) {
                    Found::None => {
                        if q > p && matches!(solver.solve(deny, &[admit.as_slice()]), Found::None) {
                            continue;
                        }
                        if let (Some(policy), Some(by)) = (reference(p), reference(q)) {
                            findings.push(ProvenFinding::Subsumed { policy, by });
                        }
                        break;
                    }
                    Found::Row(_) | Found::Unknown(_) => {}
                }
            }
        }
    }
    findings
}
