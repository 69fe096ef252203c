//! The search for a row that one policy admits and none of a list of others does, column by column.
//!
//! A row is a tuple of independent typed cells; a policy admits it when every
//! filter passes. To admit a row by `P` and by none of `Q1..Qn`, each `Qi`
//! must fail on one of its filters. A NULL cell fails every filter, so every
//! column that `P` does not read is NULL, and a `Qi` reading such a column is
//! already refused. For the rest: find a row that `P`'s filters and the
//! chosen negations admit (each column alone), and if some `Qi` still admits
//! it, branch over which of its filters must fail. The branches are
//! exhaustive, so "no row" is a proof; a budget on the branches turns a
//! search too large into "unknown".

use domo_model::Column;
use hashbrown::HashMap;

use super::{Cand, ColumnAnswer, ordered, text};
use crate::filter::{CompiledFilter, Test};

/// What the search found.
#[derive(Debug, Clone)]
pub(crate) enum Found {
    /// A row, one cell per column (NULL where nothing is asked).
    Row(Vec<Cand>),
    /// No row exists.
    None,
    /// The question is beyond the budget, or a cell could not be constructed.
    Unknown(String),
}

/// One literal: the filter, and the raw result of its test (before `not`) that the cell must give.
type Literal<'a> = (&'a CompiledFilter, bool);

/// The solver, with its cache of per-column answers (shared across questions on the same policy sets).
#[derive(Debug)]
pub(crate) struct Solver<'a> {
    columns: &'a [Column],
    branch_budget: usize,
    string_budget: usize,
    /// Steps (branches and STRING states) left for the whole run, across questions.
    total_left: usize,
    total_budget: usize,
    cache: HashMap<(usize, Vec<(usize, bool)>), ColumnAnswer>,
}

fn id(filter: &CompiledFilter) -> usize {
    std::ptr::from_ref(filter) as usize
}

impl<'a> Solver<'a> {
    pub(crate) fn new(columns: &'a [Column], budget: &super::ImpactOptions) -> Self {
        Self {
            columns,
            branch_budget: budget.branch_budget,
            string_budget: budget.string_budget,
            total_left: budget.total_budget,
            total_budget: budget.total_budget,
            cache: HashMap::new(),
        }
    }

    /// A row admitted by every filter of `admit` and by none of the `deny` policies
    /// (each a conjunction of filters; an empty one admits every row).
    pub(crate) fn solve(&mut self, admit: &[&'a CompiledFilter], deny: &[&[&'a CompiledFilter]]) -> Found {
        if deny.iter().any(|q| q.is_empty()) {
            return Found::None;
        }
        let mut read = vec![false; self.columns.len()];
        for f in admit {
            match read.get_mut(f.column) {
                Some(r) => *r = true,
                None => return Found::Unknown(format!("filter on column {} is outside the schema", f.column)),
            }
        }
        // A policy reading a column `admit` leaves NULL is refused by that NULL.
        let live: Vec<&[&CompiledFilter]> =
            deny.iter().copied().filter(|q| q.iter().all(|f| read.get(f.column).copied().unwrap_or(false))).collect();
        let mut literals: Vec<Vec<Literal<'a>>> = vec![Vec::new(); self.columns.len()];
        for f in admit {
            if let Some(column) = literals.get_mut(f.column) {
                column.push((f, !f.filter.not));
            }
        }
        let mut branches = 0usize;
        self.search(&mut literals, &live, &mut branches)
    }

    fn search(
        &mut self,
        literals: &mut [Vec<Literal<'a>>],
        live: &[&[&'a CompiledFilter]],
        branches: &mut usize,
    ) -> Found {
        *branches += 1;
        if *branches > self.branch_budget {
            return Found::Unknown(format!("the search passed its budget of {} branches", self.branch_budget));
        }
        let Some(left) = self.total_left.checked_sub(1) else {
            return Found::Unknown(format!(
                "the whole analysis passed its budget of {} steps; this question was not searched",
                self.total_budget
            ));
        };
        self.total_left = left;
        let mut row = vec![Cand::Null; self.columns.len()];
        for (column, lits) in literals.iter().enumerate() {
            if lits.is_empty() {
                continue;
            }
            match self.column(column, lits) {
                ColumnAnswer::Unsat => return Found::None,
                ColumnAnswer::Unknown(reason) => return Found::Unknown(reason),
                ColumnAnswer::Sat(cand) => {
                    // The cell must pass exactly as the engine tests it; otherwise give up (fail closed).
                    let cell = cand.cell();
                    if !lits.iter().all(|(f, raw)| f.test.passes(&cell, !raw)) {
                        let name = self.columns.get(column).map_or("?", |c| c.name.as_str());
                        return Found::Unknown(format!(
                            "the value found for column `{name}` does not pass its own filters (a bug; please report it)"
                        ));
                    }
                    if let Some(slot) = row.get_mut(column) {
                        *slot = cand;
                    }
                }
            }
        }
        let admits = |q: &[&CompiledFilter]| {
            q.iter().all(|f| row.get(f.column).is_some_and(|cand| f.test.passes(&cand.cell(), f.filter.not)))
        };
        let Some(&still) = live.iter().filter(|q| admits(q)).min_by_key(|q| q.len()) else {
            return Found::Row(row);
        };
        let mut unknown = None;
        for f in still {
            let Some(column) = literals.get_mut(f.column) else { continue };
            // The filter must fail on a non-NULL cell: its raw test must equal `not`.
            let wanted = f.filter.not;
            if column.iter().any(|(g, raw)| id(g) == id(f) && *raw != wanted) {
                continue;
            }
            column.push((f, wanted));
            let found = self.search(literals, live, branches);
            if let Some(column) = literals.get_mut(f.column) {
                column.pop();
            }
            match found {
                Found::Row(row) => return Found::Row(row),
                Found::None => {}
                Found::Unknown(reason) => {
                    if unknown.is_none() {
                        unknown = Some(reason);
                    }
                    if *branches > self.branch_budget || self.total_left == 0 {
                        break;
                    }
                }
            }
        }
        match unknown {
            Some(reason) => Found::Unknown(reason),
            None => Found::None,
        }
    }

    fn column(&mut self, column: usize, lits: &[Literal<'a>]) -> ColumnAnswer {
        let mut key: Vec<(usize, bool)> = lits.iter().map(|(f, raw)| (id(f), *raw)).collect();
        key.sort_unstable();
        key.dedup();
        if let Some(answer) = self.cache.get(&(column, key.clone())) {
            return answer.clone();
        }
        let Some(info) = self.columns.get(column) else {
            return ColumnAnswer::Unknown(format!("column {column} is outside the schema"));
        };
        let tests: Vec<(&Test, bool)> = lits.iter().map(|(f, raw)| (&f.test, *raw)).collect();
        let answer = match info.column_type {
            domo_model::ColumnType::String => {
                // STRING states count against the whole run too.
                let budget = self.string_budget.min(self.total_left);
                let mut spent = 0;
                let answer = text::solve(&info.name, &tests, budget, &mut spent);
                self.total_left = self.total_left.saturating_sub(spent);
                match answer {
                    ColumnAnswer::Unknown(_) if budget < self.string_budget => ColumnAnswer::Unknown(format!(
                        "the whole analysis passed its budget of {} steps; this question was not searched",
                        self.total_budget
                    )),
                    other => other,
                }
            }
            other => ordered::solve(&info.name, other, &tests),
        };
        self.cache.insert((column, key), answer.clone());
        answer
    }
}
