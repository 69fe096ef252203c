//! Contradiction analysis: filters of one policy that no row can pass, whatever the data.

use std::cmp::Ordering;

use domo_model::{ColumnType, FilterOperator, Policy};
use rust_decimal::Decimal;

use crate::parse;
use crate::table::Value;

/// A filter value or cell parsed by column type, ordered within its type.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Key {
    Str(String),
    Long(i64),
    Double(f64),
    Decimal(Decimal),
    Date(i32),
    Datetime(i128),
}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        match (self, other) {
            (Key::Str(a), Key::Str(b)) => a.partial_cmp(b),
            (Key::Long(a), Key::Long(b)) => a.partial_cmp(b),
            (Key::Double(a), Key::Double(b)) => a.partial_cmp(b),
            (Key::Decimal(a), Key::Decimal(b)) => a.partial_cmp(b),
            (Key::Date(a), Key::Date(b)) => a.partial_cmp(b),
            (Key::Datetime(a), Key::Datetime(b)) => a.partial_cmp(b),
            _ => None,
        }
    }
}

pub(super) fn key(column_type: ColumnType, text: &str) -> Option<Key> {
    let bytes = text.as_bytes();
    Some(match column_type {
        ColumnType::String => Key::Str(text.to_owned()),
        ColumnType::Long => Key::Long(parse::parse_long(bytes)?),
        ColumnType::Double => Key::Double(parse::parse_double(bytes)?),
        ColumnType::Decimal => Key::Decimal(parse::parse_decimal(bytes)?),
        ColumnType::Date => Key::Date(parse::parse_date(bytes)?),
        ColumnType::Datetime => Key::Datetime(parse::parse_datetime(bytes)?),
    })
}

pub(super) fn value_key(value: &Value<'_>) -> Option<Key> {
    Some(match value {
        Value::Null => return None,
        Value::String(s) => Key::Str((*s).to_owned()),
        Value::Long(v) => Key::Long(*v),
        Value::Double(v) => Key::Double(*v),
        Value::Decimal(v) => Key::Decimal(*v),
        Value::Date(_) => Key::Date(parse::parse_date(value.to_string().as_bytes())?),
        Value::Datetime(v) => Key::Datetime(v.as_nanosecond()),
    })
}

/// One side of an interval: the bound and whether it is included.
#[derive(Debug, Clone)]
pub(super) struct Bound {
    key: Key,
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
        let mut lower: Option<Bound> = None;
        let mut upper: Option<Bound> = None;
        let mut allowed: Option<(Vec<Key>, usize)> = None;
        let mut excluded: Vec<Key> = Vec::new();
        let mut disjoint: Option<(usize, usize)> = None;
        for (index, filter) in policy.filters.iter().enumerate().filter(|(_, f)| f.column == column) {
            let keys: Option<Vec<Key>> = filter.values.iter().map(|v| key(column_type, v)).collect();
            let Some(keys) = keys else { continue };
            let one = keys.first().cloned();
            let (lo, hi): (Option<Bound>, Option<Bound>) = match (filter.operator, filter.not) {
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
                            Some(Bound { key: low.clone(), inclusive: true, filter: index }),
                            Some(Bound { key: high.clone(), inclusive: true, filter: index }),
                        )
                    }
                    _ => (None, None),
                },
                (Op::Equals, false) => {
                    allowed = Some(match allowed.take() {
                        None => (keys, index),
                        Some((previous, first)) => {
                            let common: Vec<Key> =
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
        let in_range = |k: &Key| {
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
