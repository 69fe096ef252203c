//! Contradiction analysis: filters of one policy that no row can pass, whatever the data.

use std::cmp::Ordering;

use domo_model::FilterOperator;

use crate::compile::CompiledPolicy;
use crate::filter::{CompiledFilter, OrdTest, Test};
use crate::table::{Datetime, Value, date_of_days};

/// One side of an interval: the bound and whether it is included.
#[derive(Debug, Clone)]
pub(super) struct Bound<'a> {
    key: Value<'a>,
    inclusive: bool,
    filter: usize,
}

/// The typed values of an EQUALS, comparison or BETWEEN filter, as compiled (in the order
/// written); `None` for the text operators (LIKE, BEGINS_WITH, ENDS_WITH, CONTAINS).
pub(super) fn typed_values(filter: &CompiledFilter) -> Option<Vec<Value<'_>>> {
    fn of<'a, T>(test: &'a OrdTest<T>, value: impl Fn(&'a T) -> Option<Value<'a>>) -> Option<Vec<Value<'a>>> {
        match test {
            OrdTest::AnyOf(values) => values.iter().map(value).collect(),
            OrdTest::Cmp(_, bound) => Some(vec![value(bound)?]),
            OrdTest::Between(low, high) => Some(vec![value(low)?, value(high)?]),
        }
    }
    match &filter.test {
        Test::String(t) => of(t, |s| Some(Value::String(s.as_str()))),
        Test::Text(_) => None,
        Test::Long(t) => of(t, |v| Some(Value::Long(*v))),
        Test::Double(t) => of(t, |v| Some(Value::Double(*v))),
        Test::Decimal(t) => of(t, |v| Some(Value::Decimal(*v))),
        Test::Date(t) => of(t, |v| date_of_days(*v).map(Value::Date)),
        Test::Datetime(t) => of(t, |v| Some(Value::Datetime(Datetime(*v)))),
    }
}

/// Why the compiled filters of a policy can never all pass, whatever the data: per column,
/// the intersection of the ranges and EQUALS sets the (un-negated) filters allow is empty.
pub(super) fn contradictions(policy: &CompiledPolicy) -> Vec<(Option<usize>, String)> {
    use FilterOperator as Op;
    let mut out = Vec::new();
    if policy.is_all_rows() {
        return out;
    }
    let filters = policy.filters();
    let mut columns: Vec<usize> = filters.iter().map(CompiledFilter::column).collect();
    columns.sort_unstable();
    columns.dedup();
    for column_index in columns {
        let Some(column) = filters.iter().find(|f| f.column() == column_index).map(|f| f.source().column.as_str())
        else {
            continue;
        };
        let mut lower: Option<Bound<'_>> = None;
        let mut upper: Option<Bound<'_>> = None;
        let mut allowed: Option<(Vec<Value<'_>>, usize)> = None;
        let mut excluded: Vec<Value<'_>> = Vec::new();
        let mut disjoint: Option<(usize, usize)> = None;
        for (index, compiled) in filters.iter().enumerate().filter(|(_, f)| f.column() == column_index) {
            let filter = compiled.source();
            let Some(keys) = typed_values(compiled) else { continue };
            let one = keys.first().cloned();
            let (lo, hi): (Option<Bound<'_>>, Option<Bound<'_>>) = match (filter.operator, filter.not) {
                (Op::GreaterThan, false) | (Op::LessThanEqual, true) => {
                    (one.map(|k| Bound { key: k, inclusive: false, filter: index }), None)
                }
                (Op::GreaterThanEqual, false) | (Op::LessThan, true) => {
                    (one.map(|k| Bound { key: k, inclusive: true, filter: index }), None)
                }
                (Op::LessThan, false) | (Op::GreaterThanEqual, true) => {
                    (None, one.map(|k| Bound { key: k, inclusive: false, filter: index }))
                }
                (Op::LessThanEqual, false) | (Op::GreaterThan, true) => {
                    (None, one.map(|k| Bound { key: k, inclusive: true, filter: index }))
                }
                (Op::Between, false) => match keys.as_slice() {
                    [low, high] => {
                        if low.partial_cmp(high) == Some(Ordering::Greater) {
                            out.push((
                                Some(index),
                                format!(
                                    "can never match: BETWEEN `{}` and `{}` has its low bound above its high bound",
                                    filter.values.first().map_or("", String::as_str),
                                    filter.values.get(1).map_or("", String::as_str)
                                ),
                            ));
                        }
                        (
                            Some(Bound { key: *low, inclusive: true, filter: index }),
                            Some(Bound { key: *high, inclusive: true, filter: index }),
                        )
                    }
                    _ => (None, None),
                },
                (Op::Equals, false) => {
                    allowed = Some(match allowed.take() {
                        None => (keys, index),
                        Some((previous, first)) => {
                            let common: Vec<Value<'_>> =
                                previous.into_iter().filter(|k| keys.iter().any(|n| n == k)).collect();
                            if common.is_empty() && disjoint.is_none() {
                                disjoint = Some((first, index));
                            }
                            (common, first)
                        }
                    });
                    (None, None)
                }
                (Op::Equals, true) => {
                    excluded.extend(keys);
                    (None, None)
                }
                _ => (None, None),
            };
            if let Some(lo) = lo {
                let tighter = match &lower {
                    None => true,
                    Some(current) => match lo.key.partial_cmp(&current.key) {
                        Some(Ordering::Greater) => true,
                        Some(Ordering::Equal) => !lo.inclusive,
                        _ => false,
                    },
                };
                if tighter {
                    lower = Some(lo);
                }
            }
            if let Some(hi) = hi {
                let tighter = match &upper {
                    None => true,
                    Some(current) => match hi.key.partial_cmp(&current.key) {
                        Some(Ordering::Less) => true,
                        Some(Ordering::Equal) => !hi.inclusive,
                        _ => false,
                    },
                };
                if tighter {
                    upper = Some(hi);
                }
            }
        }
        let in_range = |k: &Value<'_>| {
            let above = lower.as_ref().is_none_or(|b| match k.partial_cmp(&b.key) {
                Some(Ordering::Greater) => true,
                Some(Ordering::Equal) => b.inclusive,
                _ => false,
            });
            let below = upper.as_ref().is_none_or(|b| match k.partial_cmp(&b.key) {
                Some(Ordering::Less) => true,
                Some(Ordering::Equal) => b.inclusive,
                _ => false,
            });
            above && below
        };
        if let (Some(lo), Some(hi)) = (&lower, &upper)
            && lo.filter != hi.filter
        {
            let empty = match lo.key.partial_cmp(&hi.key) {
                Some(Ordering::Greater) => true,
                Some(Ordering::Equal) => !(lo.inclusive && hi.inclusive),
                _ => false,
            };
            if empty {
                out.push((
                    Some(hi.filter.max(lo.filter)),
                    format!(
                        "can never match: `{column}` must be {} `{}` (filters[{}]) and {} `{}` (filters[{}])",
                        if lo.inclusive { "at least" } else { "above" },
                        policy_value(policy, lo.filter, 0),
                        lo.filter,
                        if hi.inclusive { "at most" } else { "below" },
                        policy_value(policy, hi.filter, if is_between(policy, hi.filter) { 1 } else { 0 }),
                        hi.filter
                    ),
                ));
                continue;
            }
        }
        if let Some((first, second)) = disjoint {
            out.push((
                Some(second),
                format!(
                    "can never match: EQUALS on `{column}` in filters[{first}] and filters[{second}] share no value"
                ),
            ));
        } else if let Some((allowed, first)) = &allowed {
            let survivors = allowed.iter().filter(|k| in_range(k) && !excluded.contains(k)).count();
            if survivors == 0 {
                out.push((
                    Some(*first),
                    format!(
                        "can never match: each value filters[{first}] allows for `{column}` (EQUALS) is excluded or out of range by the other filters on `{column}`"
                    ),
                ));
            }
        }
    }
    out
}

fn is_between(policy: &CompiledPolicy, filter: usize) -> bool {
    policy.filters().get(filter).is_some_and(|f| f.operator() == FilterOperator::Between)
}

fn policy_value(policy: &CompiledPolicy, filter: usize, value: usize) -> &str {
    policy.filters().get(filter).and_then(|f| f.source().values.get(value)).map_or("", String::as_str)
}
