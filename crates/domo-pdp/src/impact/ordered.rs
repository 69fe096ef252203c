//! Numbers and dates for the for-any-row analysis: each filter as a union of intervals of the column's domain.
//!
//! LONG, DOUBLE, DATE and DATETIME cells are mapped onto integers in order
//! (a DOUBLE by its bits, with `-0.0` and `0.0` one value), so a conjunction
//! of filters and negated filters is an exact union of integer intervals.
//! DECIMAL is compared exactly as a decimal; an empty interval of the
//! rationals holds no DECIMAL, and a non-empty one is answered with a value
//! found in it, or "unknown" when none is found.

use domo_model::ColumnType;
use rust_decimal::Decimal;

use super::{Cand, ColumnAnswer};
use crate::filter::{OrdTest, Test};
use crate::parse::days_from_civil;

const NANOS_PER_SECOND: i128 = 1_000_000_000;
const NANOS_PER_DAY: i128 = 86_400 * NANOS_PER_SECOND;
/// The largest zone offset the DATETIME format accepts, `23:59`.
const MAX_OFFSET: i128 = (23 * 3600 + 59 * 60) * NANOS_PER_SECOND;

/// The first and last DATE the loader accepts (`0000-01-01`, `9999-12-31`), in days since 1970.
pub(crate) fn date_domain() -> (i128, i128) {
    (i128::from(days_from_civil(0, 1, 1)), i128::from(days_from_civil(9999, 12, 31)))
}

/// The first and last instant the DATETIME format accepts, any offset included.
pub(crate) fn datetime_domain() -> (i128, i128) {
    let (first, last) = date_domain();
    (first * NANOS_PER_DAY - MAX_OFFSET, (last + 1) * NANOS_PER_DAY - 1 + MAX_OFFSET)
}

/// A DOUBLE as an integer in the same order; `-0.0` and `0.0` map to 0.
pub(crate) fn double_key(value: f64) -> i128 {
    let bits = value.to_bits();
    let magnitude = i128::from(bits & !(1 << 63));
    if bits >> 63 == 1 { -magnitude } else { magnitude }
}

pub(crate) fn double_of_key(key: i128) -> Option<f64> {
    let magnitude = u64::try_from(key.unsigned_abs()).ok()?;
    let value = f64::from_bits(if key < 0 { magnitude | 1 << 63 } else { magnitude });
    value.is_finite().then_some(value)
}

/// One interval; `lo_in`/`hi_in` say whether the ends belong to it.
#[derive(Debug, Clone, PartialEq)]
struct Interval<V> {
    lo: V,
    lo_in: bool,
    hi: V,
    hi_in: bool,
}

impl<V: Ord + Clone> Interval<V> {
    fn new(lo: V, lo_in: bool, hi: V, hi_in: bool) -> Option<Self> {
        let nonempty = lo < hi || (lo == hi && lo_in && hi_in);
        nonempty.then_some(Self { lo, lo_in, hi, hi_in })
    }

    fn contains(&self, v: &V) -> bool {
        (if self.lo_in { *v >= self.lo } else { *v > self.lo })
            && (if self.hi_in { *v <= self.hi } else { *v < self.hi })
    }
}

/// Sorted, disjoint intervals within `[min, max]`.
#[derive(Debug, Clone)]
struct Set<V> {
    intervals: Vec<Interval<V>>,
}

impl<V: Ord + Clone> Set<V> {
    fn full(min: &V, max: &V) -> Self {
        Self { intervals: Interval::new(min.clone(), true, max.clone(), true).into_iter().collect() }
    }

    fn of_test(test: &OrdTest<V>, min: &V, max: &V) -> Self {
        use crate::filter::Cmp;
        let raw: Vec<Interval<V>> = match test {
            OrdTest::AnyOf(values) => {
                let mut points = values.clone();
                points.sort();
                points.dedup();
                points.into_iter().filter_map(|v| Interval::new(v.clone(), true, v, true)).collect()
            }
            OrdTest::Cmp(cmp, bound) => {
                let b = bound.clone();
                match cmp {
                    Cmp::Gt => Interval::new(b, false, max.clone(), true),
                    Cmp::Ge => Interval::new(b, true, max.clone(), true),
                    Cmp::Lt => Interval::new(min.clone(), true, b, false),
                    Cmp::Le => Interval::new(min.clone(), true, b, true),
                }
                .into_iter()
                .collect()
            }
            OrdTest::Between(low, high) => Interval::new(low.clone(), true, high.clone(), true).into_iter().collect(),
        };
        Self { intervals: raw }.intersect(&Self::full(min, max))
    }

    fn complement(&self, min: &V, max: &V) -> Self {
        let mut out = Vec::new();
        let mut cursor = (min.clone(), true);
        for iv in &self.intervals {
            if let Some(gap) = Interval::new(cursor.0.clone(), cursor.1, iv.lo.clone(), !iv.lo_in) {
                out.push(gap);
            }
            cursor = (iv.hi.clone(), !iv.hi_in);
        }
        if let Some(gap) = Interval::new(cursor.0, cursor.1, max.clone(), true) {
            out.push(gap);
        }
        Self { intervals: out }
    }

    fn intersect(&self, other: &Self) -> Self {
        let mut out = Vec::new();
        for a in &self.intervals {
            for b in &other.intervals {
                let (lo, lo_in) = match a.lo.cmp(&b.lo) {
                    std::cmp::Ordering::Less => (b.lo.clone(), b.lo_in),
                    std::cmp::Ordering::Greater => (a.lo.clone(), a.lo_in),
                    std::cmp::Ordering::Equal => (a.lo.clone(), a.lo_in && b.lo_in),
                };
                let (hi, hi_in) = match a.hi.cmp(&b.hi) {
                    std::cmp::Ordering::Less => (a.hi.clone(), a.hi_in),
                    std::cmp::Ordering::Greater => (b.hi.clone(), b.hi_in),
                    std::cmp::Ordering::Equal => (a.hi.clone(), a.hi_in && b.hi_in),
                };
                if let Some(iv) = Interval::new(lo, lo_in, hi, hi_in) {
                    out.push(iv);
                }
            }
        }
        Self { intervals: out }
    }
}

/// The conjunction of `(test, result wanted)` literals as one set of keys.
fn conjunction<T, V: Ord + Clone>(literals: &[(&OrdTest<T>, bool)], key: impl Fn(&T) -> V, min: &V, max: &V) -> Set<V> {
    let mut set = Set::full(min, max);
    for (test, want) in literals {
        let mapped: OrdTest<V> = match test {
            OrdTest::AnyOf(values) => OrdTest::AnyOf(values.iter().map(&key).collect()),
            OrdTest::Cmp(cmp, bound) => OrdTest::Cmp(*cmp, key(bound)),
            OrdTest::Between(low, high) => OrdTest::Between(key(low), key(high)),
        };
        let mut part = Set::of_test(&mapped, min, max);
        if !*want {
            part = part.complement(min, max);
        }
        set = set.intersect(&part);
        if set.intervals.is_empty() {
            break;
        }
    }
    set
}

/// The integer of the set closest to `origin`, if any.
fn pick_integer(set: &Set<i128>, origin: i128) -> Option<i128> {
    set.intervals
        .iter()
        .filter_map(|iv| {
            let first = if iv.lo_in { iv.lo } else { iv.lo.checked_add(1)? };
            let last = if iv.hi_in { iv.hi } else { iv.hi.checked_sub(1)? };
            (first <= last).then(|| origin.clamp(first, last))
        })
        .min_by_key(|v| (v.abs_diff(origin), *v))
}

/// A DECIMAL of the set among a few tries per interval: fewest decimals, then smallest in magnitude.
fn pick_decimal(set: &Set<Decimal>) -> Option<Decimal> {
    let mut best: Option<Decimal> = None;
    for iv in &set.intervals {
        let mut tries = vec![Decimal::ZERO, iv.lo, iv.hi];
        tries.extend(iv.lo.checked_add(Decimal::ONE));
        tries.extend(iv.hi.checked_sub(Decimal::ONE));
        tries.extend(iv.lo.checked_add(iv.hi).and_then(|s| s.checked_div(Decimal::TWO)));
        let mut step = Decimal::ONE;
        for _ in 0..28 {
            let Some(smaller) = step.checked_div(Decimal::TEN) else { break };
            step = smaller;
            tries.extend(iv.lo.checked_add(step));
            tries.extend(iv.hi.checked_sub(step));
        }
        for v in tries {
            if iv.contains(&v)
                && best.is_none_or(|b| (v.normalize().scale(), v.abs()) < (b.normalize().scale(), b.abs()))
            {
                best = Some(v.normalize());
            }
        }
    }
    best
}

/// Decides a conjunction of literals `(test, result wanted)` on one non-NULL cell of an ordered, non-STRING type.
pub(crate) fn solve(column: &str, column_type: ColumnType, literals: &[(&Test, bool)]) -> ColumnAnswer {
    macro_rules! gather {
        ($variant:ident) => {{
            let mut out = Vec::with_capacity(literals.len());
            for (test, want) in literals {
                match test {
                    Test::$variant(t) => out.push((t, *want)),
                    _ => {
                        return ColumnAnswer::Unknown(format!(
                            "a filter on column `{column}` does not test a {column_type}"
                        ));
                    }
                }
            }
            out
        }};
    }
    let answer = |found: Option<Cand>| match found {
        Some(cand) => ColumnAnswer::Sat(cand),
        None => ColumnAnswer::Unsat,
    };
    match column_type {
        ColumnType::Long => {
            let lits = gather!(Long);
            let set = conjunction(&lits, |v: &i64| i128::from(*v), &i128::from(i64::MIN), &i128::from(i64::MAX));
            answer(pick_integer(&set, 0).and_then(|k| i64::try_from(k).ok()).map(Cand::Long))
        }
        ColumnType::Date => {
            let lits = gather!(Date);
            let (min, max) = date_domain();
            let set = conjunction(&lits, |v: &i32| i128::from(*v), &min, &max);
            answer(pick_integer(&set, 0).and_then(|k| i32::try_from(k).ok()).map(Cand::Date))
        }
        ColumnType::Datetime => {
            let lits = gather!(Datetime);
            let (min, max) = datetime_domain();
            let set = conjunction(&lits, |v: &i128| *v, &min, &max);
            answer(pick_integer(&set, 0).map(Cand::Datetime))
        }
        ColumnType::Double => {
            let lits = gather!(Double);
            let set = conjunction(&lits, |v: &f64| double_key(*v), &double_key(f64::MIN), &double_key(f64::MAX));
            answer(pick_integer(&set, 0).and_then(double_of_key).map(Cand::Double))
        }
        ColumnType::Decimal => {
            let lits = gather!(Decimal);
            let set = conjunction(&lits, |v: &Decimal| *v, &Decimal::MIN, &Decimal::MAX);
            if set.intervals.is_empty() {
                return ColumnAnswer::Unsat;
            }
            match pick_decimal(&set) {
                Some(v) => ColumnAnswer::Sat(Cand::Decimal(v)),
                None => ColumnAnswer::Unknown(format!(
                    "no DECIMAL value of column `{column}` was found between the filters' bounds (finer than 28 decimal places)"
                )),
            }
        }
        ColumnType::String => {
            ColumnAnswer::Unknown(format!("column `{column}` is STRING, which the interval solver does not decide"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn double_keys_keep_order_and_merge_zeroes() {
        let values = [f64::MIN, -1.5, -f64::MIN_POSITIVE, -0.0, 0.0, 5e-324, 1.0, f64::MAX];
        for pair in values.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            assert!(double_key(a) <= double_key(b), "{a} {b}");
            assert_eq!(double_of_key(double_key(b)).map(f64::to_bits), Some(if b == 0.0 { 0 } else { b.to_bits() }));
        }
        assert_eq!(double_key(-0.0), double_key(0.0));
        assert_eq!(double_key(1.0) + 1, double_key(1.0f64.next_up()));
    }
}
