//! Contradiction analysis: filters of one policy that no row can pass, whatever the data.

use std::cmp::Ordering;

use domo_model::{FilterOperator, Policy};

use crate::table::Value;

/// One side of an interval: the bound and whether it is included.
#[derive(Debug, Clone)]
pub(super) struct Bound<'a> {
    key: Value<'a>,
    inclusive: bool,
    filter: usize,
}

/// Why the filters of a policy can never all pass, whatever the data: per column,
/// the intersection of the ranges and EQUALS sets the (un-negated) filters allow is empty.
pub(super) fn contradictions(policy: &Policy, schema: &domo_model::Schema) -> Vec<(Option<usize>, String)> {
    use FilterOperator as Op;
    let mut out = Vec::new();
    let mut columns: Vec<&str> = policy.filters.iter().map(|f| f.column.as_str()).collect();
    columns.sort_unstable();
    columns.dedup();
    for column in columns {
        let Some(column_type) = schema.columns.iter().find(|c| c.name == column).map(|c| c.column_type) else {
            continue;
        };
        let mut lower: Option<Bound<'_>> = None;
        let mut upper: Option<Bound<'_>> = None;
        let mut allowed: Option<(Vec<Value<'_>>, usize)> = None;
        let mut excluded: Vec<Value<'_>> = Vec::new();
        let mut disjoint: Option<(usize, usize)> = None;
        for (index, filter) in policy.filters.iter().enumerate().filter(|(_, f)| f.column == column) {
            let keys: Option<Vec<Value<'_>>> =
                filter.values.iter().map(|v| Value::parse(column_type, v).ok()).collect();
            let Some(keys) = keys else { continue };
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

pub(super) fn is_between(policy: &Policy, filter: usize) -> bool {
    policy.filters.get(filter).is_some_and(|f| f.operator == FilterOperator::Between)
}

pub(super) fn policy_value(policy: &Policy, filter: usize, value: usize) -> &str {
    policy.filters.get(filter).and_then(|f| f.values.get(value)).map_or("", String::as_str)
}
