//! The values a warehouse column can hold, and fitting filter bounds to them exactly.

use rust_decimal::{Decimal, RoundingStrategy};

use crate::filter::Cmp;
use crate::parse;

/// What a filter's test gives on a non-NULL cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Cond {
    Always,
    Never,
    Sql(String),
}

impl Cond {
    /// Any of the conditions (SQL `OR`).
    pub(super) fn any(parts: Vec<Cond>) -> Cond {
        let mut sql = Vec::new();
        for part in parts {
            match part {
                Cond::Always => return Cond::Always,
                Cond::Never => {}
                Cond::Sql(s) => sql.push(s),
            }
        }
        match sql.len() {
            0 => Cond::Never,
            1 => Cond::Sql(sql.concat()),
            _ => Cond::Sql(format!("({})", sql.join(" OR "))),
        }
    }

    /// All of the conditions (SQL `AND`).
    pub(super) fn all(parts: Vec<Cond>) -> Cond {
        let mut sql = Vec::new();
        for part in parts {
            match part {
                Cond::Never => return Cond::Never,
                Cond::Always => {}
                Cond::Sql(s) => sql.push(s),
            }
        }
        match sql.len() {
            0 => Cond::Always,
            1 => Cond::Sql(sql.concat()),
            _ => Cond::Sql(format!("({})", sql.join(" AND "))),
        }
    }
}

/// A comparison after fitting its bound to the values a column can hold.
pub(super) enum Bound<T> {
    Always,
    Never,
    Cmp(Cmp, T),
}

/// The values a warehouse column can hold, for rewriting bounds exactly.
pub(super) trait Grid<T> {
    /// Whether the column can hold `v` exactly.
    fn on_grid(&self, v: &T) -> bool;
    /// The largest value the column's precision allows that is at most `v`.
    fn floor(&self, v: &T) -> T;
    /// Whether every value the column can hold is above `v`.
    fn below_all(&self, v: &T) -> bool;
    /// Whether every value the column can hold is below `v`.
    fn above_all(&self, v: &T) -> bool;

    fn fit(&self, cmp: Cmp, v: &T) -> Bound<T>
    where
        T: Clone,
    {
        let (cmp, v) = if self.on_grid(v) {
            (cmp, v.clone())
        } else {
            // c > v and c >= v both mean c > floor(v); c < v and c <= v both mean c <= floor(v).
            let bound = match cmp {
                Cmp::Gt | Cmp::Ge => Cmp::Gt,
                Cmp::Lt | Cmp::Le => Cmp::Le,
            };
            (bound, self.floor(v))
        };
        if self.below_all(&v) {
            return if matches!(cmp, Cmp::Gt | Cmp::Ge) { Bound::Always } else { Bound::Never };
        }
        if self.above_all(&v) {
            return if matches!(cmp, Cmp::Lt | Cmp::Le) { Bound::Always } else { Bound::Never };
        }
        Bound::Cmp(cmp, v)
    }

    fn holds_exactly(&self, v: &T) -> bool {
        self.on_grid(v) && !self.below_all(v) && !self.above_all(v)
    }
}

/// Strings, LONG and DOUBLE: the column holds every value the engine does.
pub(super) struct Exact;

impl<T: Clone> Grid<T> for Exact {
    fn on_grid(&self, _: &T) -> bool {
        true
    }
    fn floor(&self, v: &T) -> T {
        v.clone()
    }
    fn below_all(&self, _: &T) -> bool {
        false
    }
    fn above_all(&self, _: &T) -> bool {
        false
    }
}

/// `DECIMAL(38, scale)`.
pub(super) struct DecimalGrid {
    pub(super) scale: u32,
    /// 10^(38 - scale) when rust_decimal can hold it: no column value reaches it.
    pub(super) limit: Option<Decimal>,
}

impl Grid<Decimal> for DecimalGrid {
    fn on_grid(&self, v: &Decimal) -> bool {
        v.normalize().scale() <= self.scale
    }
    fn floor(&self, v: &Decimal) -> Decimal {
        v.round_dp_with_strategy(self.scale, RoundingStrategy::ToNegativeInfinity)
    }
    fn below_all(&self, v: &Decimal) -> bool {
        self.limit.is_some_and(|limit| *v <= -limit)
    }
    fn above_all(&self, v: &Decimal) -> bool {
        self.limit.is_some_and(|limit| *v >= limit)
    }
}

/// Nanoseconds since the epoch, kept to `step` and within `[min, max]`.
pub(super) struct TimeGrid {
    pub(super) step: i128,
    pub(super) min: i128,
    pub(super) max: i128,
}

impl Grid<i128> for TimeGrid {
    fn on_grid(&self, v: &i128) -> bool {
        v.rem_euclid(self.step) == 0
    }
    fn floor(&self, v: &i128) -> i128 {
        v - v.rem_euclid(self.step)
    }
    fn below_all(&self, v: &i128) -> bool {
        *v < self.min
    }
    fn above_all(&self, v: &i128) -> bool {
        *v > self.max
    }
}

/// Days since the epoch, within `[min, max]`.
pub(super) struct DateGrid {
    pub(super) min: i32,
    pub(super) max: i32,
}

impl Grid<i32> for DateGrid {
    fn on_grid(&self, _: &i32) -> bool {
        true
    }
    fn floor(&self, v: &i32) -> i32 {
        *v
    }
    fn below_all(&self, v: &i32) -> bool {
        *v < self.min
    }
    fn above_all(&self, v: &i32) -> bool {
        *v > self.max
    }
}

pub(super) const NANOS_PER_DAY: i128 = 86_400 * 1_000_000_000;

/// Days since 1970-01-01 of 0001-01-01 and 9999-12-31: the range every dialect's DATE holds.
pub(super) fn date_range() -> (i32, i32) {
    let min = i32::try_from(parse::days_from_civil(1, 1, 1)).unwrap_or(i32::MIN);
    let max = i32::try_from(parse::days_from_civil(9999, 12, 31)).unwrap_or(i32::MAX);
    (min, max)
}
