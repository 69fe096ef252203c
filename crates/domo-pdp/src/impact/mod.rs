//! Change impact for every possible row: who can see a row under the new policies that the old ones hide, with a witness row.
//!
//! The procedure, the fragment it decides and its limits are in `docs/impact.md`.

mod lint;
mod ordered;
mod search;
mod text;
mod witness;

use std::fmt;
use std::fmt::Write as _;

use domo_model::UserId;
use hashbrown::HashMap;

use crate::compile::{Access, PolicySet, Principal, Reason};
use crate::diff::{PolicyChange, policy_changes};
use crate::filter::CompiledFilter;
pub use lint::{ProvenFinding, lint_for_any_row};
use search::{Found, Solver};
pub(crate) use witness::Cand;
pub use witness::{Admitter, Witness, WitnessCell};

/// Limits of the search; past them an answer is [`Answer::Unknown`], never a guess.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImpactOptions {
    /// Branches of the search per question (one new policy against a user's old policies).
    pub branch_budget: usize,
    /// States of the STRING search per column and combination of filters.
    pub string_budget: usize,
    /// Steps (search branches and STRING states) for the whole run, so that many hard questions
    /// end in bounded time.
    pub total_budget: usize,
}

impl Default for ImpactOptions {
    fn default() -> Self {
        Self { branch_budget: 20_000, string_budget: 20_000, total_budget: 1_000_000 }
    }
}
/// Per-column answer of the column solvers.
#[derive(Debug, Clone)]
pub(crate) enum ColumnAnswer {
    Sat(Cand),
    Unsat,
    Unknown(String),
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
    /// Every user of the new policy set's directory, in directory order; then the users either
    /// policy set names directly that the directory lacks, by id; then every virtual user either
    /// set names, by name.
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
    let mut ids: Vec<usize> = access.policies.iter().filter_map(|m| bodies.get(m.policy.index()).copied()).collect();
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

/// For every user of `new`'s directory, every user and virtual user either set names: does the change
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
    let named = || old.policies().iter().chain(new.policies()).map(|p| p.source());
    // Users a policy names directly but the directory lacks: their policies still apply to them.
    let known: hashbrown::HashSet<UserId> = new.directory().users.iter().map(|u| u.id).collect();
    let mut unlisted: Vec<UserId> =
        named().flat_map(|p| p.users.iter().copied()).filter(|u| !known.contains(u)).collect();
    unlisted.sort_unstable();
    unlisted.dedup();
    let mut virtual_names: Vec<&str> = named().flat_map(|p| p.virtual_users.iter().map(String::as_str)).collect();
    virtual_names.sort_unstable();
    virtual_names.dedup();
    let mut seen_users = hashbrown::HashSet::new();
    let subjects = new
        .directory()
        .users
        .iter()
        .map(|u| u.id)
        .filter(|id| seen_users.insert(*id))
        .chain(unlisted)
        .map(Subject::User)
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
    let users = witness::confirm(old, new, &old_bodies, &new_bodies, pending);
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
