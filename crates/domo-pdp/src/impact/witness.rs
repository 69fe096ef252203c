//! Witness rows: candidate cells, their CSV text, and the engine's confirmation of each witness.

use std::fmt;
use std::fmt::Write as _;

use hashbrown::HashMap;
use rust_decimal::Decimal;

use super::{Answer, Raw, Subject, UserImpact, ordered};
use crate::compile::PolicyRef;
use crate::compile::{Access, PolicySet, Reason};
use crate::table::{Cell, Datetime, HeaderRow, Table};

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

pub(super) type Pending = (Subject, Access, Access, Raw, Raw);

/// Evaluates every witness row with the engine under both sets; a witness the engine does not
/// confirm becomes [`Answer::Unknown`].
pub(super) fn confirm(
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
                                to_bodies.get(m.policy.index()) == Some(&body)
                                    && to_eval.policy_rows(m.policy).is_some_and(|r| r.contains(line))
                            });
                            match found
                                .and_then(|m| to_set.policies().get(m.policy.index()).map(|p| (m.policy.index(), p)))
                            {
                                Some((index, p)) => Admitter::Policy(PolicyRef::new(
                                    crate::compile::PolicyHandle::from_index(index),
                                    p.source(),
                                )),
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
